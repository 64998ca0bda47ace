"""Everything a handler needs for one turn, and the helpers to reply and ask."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, case, select
from sqlalchemy.ext.asyncio import AsyncSession

from feedback_bot.catalog import dates
from feedback_bot.delivery.choice_ids import new_prompt_id, prompt_choice
from feedback_bot.delivery.outbox import enqueue
from feedback_bot.ports import AfterSend, Attachment, Choice, EventKind, IncomingEvent
from feedback_bot.services import Services
from feedback_bot.storage.models import (
    Client,
    Conversation,
    Identity,
    Practice,
    PracticeSettingsRecord,
    Practitioner,
)
from feedback_bot.storage.states import Delivery, OutboxKind

T = TypeVar("T", bound="Turn")


@dataclass
class Turn:
    session: AsyncSession
    deps: Services
    event: IncomingEvent
    now: datetime
    identity: Identity | None = None
    client: Client | None = None
    practitioner: Practitioner | None = None  # the sender, or the client's practitioner
    practice: Practice | None = None
    conversation: Conversation | None = None
    # The identity whose conversation was looked up with the people and found missing:
    # conv() creates it without asking the database again.
    no_conversation_for: int | None = None
    # Held so the session keeps it (its identity map holds objects weakly): the turn's
    # practice settings are then read from the session, not the database (load_people).
    settings_record: PracticeSettingsRecord | None = None

    @property
    def lang(self) -> str:
        """The reader's language if their practice offers it, else the practice's default."""
        return self.deps.config.reader_language(
            self.client.language if self.client is not None else None,
            self.identity.language if self.identity is not None else None,
        )

    @property
    def p(self) -> str:
        return self.deps.prefix(self.event.platform)

    def t(self, key: str, **params: object) -> str:
        params.setdefault("p", self.p)
        if self.practitioner is not None:
            params.setdefault("practitioner", self.practitioner.name)
        return self.deps.catalog.t(key, self.lang, **params)

    def say(
        self,
        text: str,
        choices: tuple[Choice, ...] = (),
        *,
        kind: OutboxKind = OutboxKind.REPLY,
        delivery: Delivery = Delivery.AT_LEAST_ONCE,
        then: AfterSend = AfterSend.NOTHING,
        attachments: tuple[Attachment, ...] = (),
        protect: bool = False,
    ) -> None:
        linked = self.identity is not None
        enqueue(
            self.session,
            self.deps.vault,
            platform=self.event.platform,
            address=self.event.address,
            identity_id=self.identity.id if self.identity is not None else None,
            text=text,
            choices=choices,
            attachments=attachments,
            protect=protect,
            # A chat nobody is linked to keeps nothing: the reply is deleted once sent.
            kind=kind if linked else OutboxKind.EPHEMERAL,
            delivery=delivery if linked else Delivery.EPHEMERAL,
            then=then,
            now=self.now,
        )

    def crisis_block(self) -> str:
        """The practice's crisis resources, in the reader's language."""
        return self.deps.crisis_block(self.lang)

    def crisis_reply(self) -> str:
        """The crisis reply with the practice's resources, in the reader's language."""
        return self.deps.crisis_reply(self.lang)

    def full_footer(self) -> str:
        """The not-monitored notice, crisis resources and how to pause or stop."""
        return "\n\n".join(
            [self.t("common.not_monitored"), self.crisis_block(), self.t("common.pause_stop")]
        )

    def footer(self) -> str:
        """Under every acknowledgement: one line that the chat isn't watched, with the top
        emergency number and the command for the full list (which is at onboarding, on
        request and in every crisis reply, not under "the exercise helped")."""
        return self.t("common.urgent_line", emergency=self.deps.top_emergency(self.lang))

    async def conv(self) -> Conversation:
        assert self.identity is not None
        if self.conversation is None:
            if self.no_conversation_for != self.identity.id:
                self.conversation = await self.session.get(Conversation, self.identity.id)
            if self.conversation is None:
                self.conversation = Conversation(
                    identity_id=self.identity.id, state="idle", data={}, updated_at=self.now
                )
                self.session.add(self.conversation)
        return self.conversation

    async def ask(
        self,
        state: str,
        text: str,
        options: list[str],
        *,
        data: dict[str, object] | None = None,
        kind: OutboxKind = OutboxKind.REPLY,
        delivery: Delivery = Delivery.AT_LEAST_ONCE,
    ) -> None:
        """Put a question with choices; the answer comes back as a choice id or as text."""
        conv = await self.conv()
        prompt_id = new_prompt_id()
        conv.state = state
        conv.prompt_id = prompt_id
        conv.data = {**(data or {}), "options": options}
        conv.updated_at = self.now
        choices = tuple(
            Choice(id=prompt_choice(prompt_id, k), label=self.option_label(k)) for k in options
        )
        self.say(text, choices, kind=kind, delivery=delivery)

    def when(self, instant: datetime, tz_name: str) -> str:
        return dates.when(self.deps.catalog, self.lang, instant, tz_name)

    def date(self, instant: datetime, tz_name: str, year: bool = False) -> str:
        return dates.date(self.deps.catalog, self.lang, instant, tz_name, year)

    def option_label(self, key: str) -> str:
        return key if key.isdigit() else self.t(f"choices.{key}")

    async def set_state(self, state: str, **data: object) -> None:
        conv = await self.conv()
        conv.state = state
        conv.prompt_id = None
        conv.data = dict(data)
        conv.updated_at = self.now

    def _narrowed(self, cls: type[T], **people: Any) -> T:
        """This turn as a ``ClientTurn`` or ``PractitionerTurn``, its people given."""
        return cls(
            session=self.session,
            deps=self.deps,
            event=self.event,
            now=self.now,
            conversation=self.conversation,
            no_conversation_for=self.no_conversation_for,
            **people,
        )

    async def reset(self) -> None:
        # The draft link (conv.item_id) survives: a command in the middle of sharing must
        # not orphan words already written; the next message picks the draft up again.
        await self.set_state("idle")


@dataclass(kw_only=True)
class ClientTurn(Turn):
    """A turn in a linked client's chat: the client, their practitioner and practice are known."""

    identity: Identity
    client: Client
    practitioner: Practitioner
    practice: Practice

    @classmethod
    def of(cls, turn: Turn) -> ClientTurn | None:
        """The same turn with its people made non-optional; None when it is no client's."""
        if isinstance(turn, ClientTurn):
            return turn
        identity, client, pr, practice = (
            turn.identity,
            turn.client,
            turn.practitioner,
            turn.practice,
        )
        if identity is None or client is None or pr is None or practice is None:
            return None
        return turn._narrowed(
            cls, identity=identity, client=client, practitioner=pr, practice=practice
        )


@dataclass(kw_only=True)
class PractitionerTurn(Turn):
    """A turn in a linked practitioner's own chat."""

    identity: Identity
    practitioner: Practitioner
    practice: Practice

    @classmethod
    def of(cls, turn: Turn) -> PractitionerTurn | None:
        """The same turn with its people made non-optional; None when it is no practitioner's."""
        if isinstance(turn, PractitionerTurn):
            return turn
        identity, pr, practice = turn.identity, turn.practitioner, turn.practice
        if identity is None or turn.client is not None or pr is None or practice is None:
            return None
        return turn._narrowed(cls, identity=identity, practitioner=pr, practice=practice)


# What a person writes themselves in a one-to-one chat. Only these may move their link: a
# group (or channel) event, a flood notice, a button press or a (un)block never does.
_WRITTEN_IN_PRIVATE = frozenset(
    {EventKind.TEXT, EventKind.COMMAND, EventKind.NON_TEXT, EventKind.EDIT, EventKind.UNREADABLE}
)


async def _moved_identity(turn: Turn) -> Identity | None:
    """The same person writing from a new chat (a new Matrix DM after leaving the old one):
    the link follows them, and a paused-by-leaving client is reachable again.

    Only an event the person wrote in a one-to-one chat moves the link: a group chat the
    person writes in (or adds the bot to) arrives as a GROUP event and must never take
    over their private chat, or their check-ins and digests would go to the group."""
    if turn.event.kind not in _WRITTEN_IN_PRIVATE:
        return None
    ident = (
        await turn.session.execute(
            select(Identity)
            .where(
                Identity.platform == turn.event.platform,
                Identity.platform_user == turn.event.sender,
            )
            .order_by(Identity.id.desc())
            .limit(1)
        )
    ).scalar_one_or_none()
    if ident is not None:
        ident.address = turn.event.address
        ident.reachable = True
    return ident


async def load_people(turn: Turn) -> None:
    """Fill the identity, the people behind it and the conversation for the event's chat:
    one query, since every turn needs them (a free text costs a handful of statements, and
    this was four of them)."""
    where = (Identity.platform == turn.event.platform, Identity.address == turn.event.address)
    if await _load_people(turn, *where):
        await _practice_settings(turn)
        return
    if not turn.event.sender:
        return
    moved = await _moved_identity(turn)
    if moved is not None:
        await _load_people(turn, Identity.id == moved.id)
        await _practice_settings(turn)


async def _practice_settings(turn: Turn) -> None:
    if turn.practice is not None:
        # The practice's settings as they are now, for this turn only.
        turn.deps = await turn.deps.for_practice_id(turn.session, turn.practice.id)


async def _load_people(turn: Turn, *where: ColumnElement[bool]) -> bool:
    """The identity matching ``where`` with its client, practitioner (the client's, or the
    identity's own), practice and conversation, all outer-joined; False if none matches."""
    practitioner_id = case(
        (Identity.client_id.is_not(None), Client.practitioner_id),
        else_=Identity.practitioner_id,
    )
    # The practice's stored settings come along: loaded here, they are in the session when
    # the turn asks for them (_practice_settings), which then costs no statement of its own.
    stmt = (
        select(Identity, Client, Practitioner, Practice, Conversation, PracticeSettingsRecord)
        .outerjoin(Client, Client.id == Identity.client_id)
        .outerjoin(Practitioner, Practitioner.id == practitioner_id)
        .outerjoin(Practice, Practice.id == Practitioner.practice_id)
        .outerjoin(Conversation, Conversation.identity_id == Identity.id)
        .outerjoin(PracticeSettingsRecord, PracticeSettingsRecord.practice_id == Practice.id)
        .where(*where)
    )
    found = (await turn.session.execute(stmt)).one_or_none()
    if found is None:
        return False
    ident, client, practitioner, practice, conversation, turn.settings_record = found
    turn.identity, turn.client, turn.practitioner = ident, client, practitioner
    turn.practice = practice if practitioner is not None else None
    turn.conversation = conversation
    turn.no_conversation_for = ident.id if conversation is None else None
    return True
