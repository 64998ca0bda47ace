"""Who sent what, in which state: picks the handler for one event."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace

from feedback_bot.conversation import admin_chat, checkin_answers, closing_loop, feedback
from feedback_bot.conversation.answers import STALE, resolve
from feedback_bot.conversation.commands import (
    ANSWERS,
    CHOSEN_ONLY,
    COMMANDS,
    PRACTITIONER_ANSWERS,
    CommandTable,
    Role,
)
from feedback_bot.conversation.notify import notify_practitioner
from feedback_bot.conversation.onboarding import consent_with_words, handle_start
from feedback_bot.conversation.turn import ClientTurn, PractitionerTurn, Turn
from feedback_bot.delivery.choice_ids import ChoiceKind, decode
from feedback_bot.people.codes import FailedCodeThrottle
from feedback_bot.ports import AfterSend, EventKind
from feedback_bot.storage.models import SafetyEvent
from feedback_bot.storage.states import ClientStatus, Delivery, OutboxKind

PractitionerHandler = Callable[[PractitionerTurn], Awaitable[None]]
DigestHooks = tuple[PractitionerHandler, PractitionerHandler]  # "digest", and "ack" (or its button)


class Router:
    def __init__(self, digest_hooks: DigestHooks, commands: CommandTable = COMMANDS) -> None:
        self._throttle = FailedCodeThrottle()
        self._on_digest, self._on_ack = digest_hooks
        self._commands = commands
        self._client_commands = {c.name: c for c in commands.client}
        hooks = {"digest": self._on_digest, "ack": self._on_ack}
        self._practitioner_commands = {
            c.name: handler
            for c in commands.practitioner
            if (handler := c.handler or hooks.get(c.name)) is not None
        }
        self.already_warned: set[str] = set()  # event ids answered by the emergency path
        self._groups_told: set[str] = set()  # in memory: nothing about a group is stored

    def help_text(self, turn: Turn, role: Role) -> str:
        return self._commands.help_text(turn.deps.catalog, turn.lang, role, p=turn.p)

    async def handle(self, turn: Turn, *, risky: bool, answered: bool = False) -> None:
        """``answered``: the crisis reply was queued already (``crisis_reply``), on its own."""
        event = turn.event
        if event.kind is EventKind.GROUP:
            if turn.identity is not None:
                # A private chat that became a group: nothing more is sent there.
                turn.identity.reachable = False
            # Once per group: a busy group must not get a reply to every message.
            group = turn.deps.vault.keyed_hash(event.platform, event.address)
            if group not in self._groups_told:
                self._groups_told.add(group)
                # Platforms that leave groups do it once this is delivered.
                turn.say(turn.t("group_refused"), then=AfterSend.LEAVE_CHAT)
            return
        if event.kind is EventKind.THROTTLED:
            turn.say(turn.t("common.slow_down"))
            return
        if event.kind in (EventKind.BLOCKED, EventKind.UNBLOCKED):
            if turn.identity is not None:
                turn.identity.reachable = event.kind is EventKind.UNBLOCKED
            return
        if event.kind is EventKind.UNREADABLE:  # linked or not: they should simply resend
            turn.say(turn.t("unreadable"))
            return
        if risky:  # before anything that could turn the message away, even its length
            if not answered:
                self.crisis_reply(turn)
            await self._safety(turn)
        if event.text is not None and len(event.text) > turn.deps.max_text_chars:
            turn.say(turn.t("too_long", limit=f"{turn.deps.max_text_chars:,}"))
            return
        if event.kind is EventKind.COMMAND and event.command == "start":
            await handle_start(turn, self._throttle, lambda t: self.help_text(t, Role.PRACTITIONER))
        elif turn.identity is None:
            turn.say(turn.t("unlinked"))
        elif event.kind is EventKind.NON_TEXT:
            turn.say(turn.t("non_text"))
        elif event.kind is EventKind.EDIT:
            turn.say(turn.t("edit_ignored"))
        elif turn.identity.admin_id is not None:
            await admin_chat.handle(turn, turn.identity.admin_id)
        elif (client_turn := ClientTurn.of(turn)) is not None:
            await self._client(client_turn, risky)
        elif (practitioner_turn := PractitionerTurn.of(turn)) is not None:
            await self._practitioner(practitioner_turn)
        else:  # a link to nobody: not left behind by anything we do
            turn.say(turn.t("unlinked"))

    def crisis_reply(self, turn: Turn) -> None:
        """Queue the crisis reply, unless the direct path has sent it already."""
        if turn.event.event_id not in self.already_warned:
            turn.say(turn.crisis_reply(), kind=OutboxKind.SAFETY, delivery=Delivery.URGENT)
        self.already_warned.discard(turn.event.event_id)

    async def _safety(self, turn: Turn) -> None:
        """What follows the crisis reply: the practitioner's alert and its record."""
        client_turn = ClientTurn.of(turn)
        if client_turn is None or client_turn.client.status not in (
            ClientStatus.ACTIVE,
            ClientStatus.PAUSED,
        ):
            return
        client = client_turn.client
        alerted = False
        if client.risk_alerts:
            alerted = bool(
                await notify_practitioner(
                    client_turn,
                    "practitioner.risk_alert",
                    kind=OutboxKind.SAFETY,
                    delivery=Delivery.URGENT,
                    alias=client.alias,
                )
            )
        turn.session.add(SafetyEvent(client_id=client.id, at=turn.now, alerted=alerted))
        if alerted:
            turn.say(turn.t("safety.alerted"), kind=OutboxKind.SAFETY, delivery=Delivery.URGENT)

    def _typed_command(self, turn: Turn, role: Role) -> None:
        """A command typed without its prefix (or by its name in the person's language)
        becomes that command; an alias with the prefix becomes its command's name."""
        event = turn.event
        if event.kind is EventKind.COMMAND and event.command:
            named = self._commands.named(role, event.command)
            if named is not None and named.name != event.command:
                turn.event = replace(event, command=named.name)
        elif event.kind is EventKind.TEXT and event.text:
            found = self._commands.match_typed(role, event.text, turn.lang, turn.p)
            if found is not None:
                name, args = found
                turn.event = replace(event, kind=EventKind.COMMAND, command=name, args=args)

    async def _practitioner(self, turn: PractitionerTurn) -> None:
        self._typed_command(turn, Role.PRACTITIONER)
        event = turn.event
        if event.kind is EventKind.TEXT:
            conv = await turn.conv()
            if (
                conv.state in PRACTITIONER_ANSWERS
                and turn.now - conv.updated_at > closing_loop.PENDING_WINDOW
            ):
                # Words typed hours after "Reply to …" are not sent to a client unasked.
                await turn.reset()
            if conv.state in PRACTITIONER_ANSWERS:
                await PRACTITIONER_ANSWERS[conv.state](turn, await resolve(turn))
                return
            # No buttons on this platform: "2" or "Reply to Ada" after a digest.
            pressed = await closing_loop.typed_choice(turn)
            if pressed is not None:
                turn, event = pressed, pressed.event
        if event.kind is EventKind.CHOICE:
            await self._practitioner_choice(turn)
        elif event.kind is EventKind.COMMAND and event.command in self._practitioner_commands:
            conv = await turn.conv()
            if conv.state != "idle":
                await turn.reset()  # a command leaves a pending question behind
            await self._practitioner_commands[event.command](turn)
        elif event.kind is EventKind.COMMAND and event.command != "help":
            turn.say(
                turn.t("unknown_command", command=(event.command or "")[:32])
                + "\n"
                + self.help_text(turn, Role.PRACTITIONER)
            )
        else:
            turn.say(self.help_text(turn, Role.PRACTITIONER))

    async def _practitioner_choice(self, turn: PractitionerTurn) -> None:
        kind = decode(turn.event.choice_id).kind
        if kind is ChoiceKind.DIGEST_ACK:
            await self._on_ack(turn)
        elif kind is ChoiceKind.REPLY:
            await closing_loop.on_reply_button(turn)
        else:
            conv = await turn.conv()
            key = await resolve(turn)
            if key == STALE or conv.state not in PRACTITIONER_ANSWERS:
                turn.say(turn.t("reply.stale_choice"))
            else:
                await PRACTITIONER_ANSWERS[conv.state](turn, key)

    async def _client(self, turn: ClientTurn, risky: bool) -> None:
        if not risky and (turn.event.kind is not EventKind.TEXT or await resolve(turn) is None):
            self._typed_command(turn, Role.CLIENT)  # an answer to the question comes first
        event, client = turn.event, turn.client
        if event.kind is EventKind.COMMAND:
            name = event.command or ""
            command = self._client_commands.get(name)
            if client.status == ClientStatus.INVITED and (
                command is None or not command.before_consent
            ):
                turn.say(turn.t("onboarding.need_consent"))
            elif (
                client.status == ClientStatus.STOPPED
                and command is not None
                and command.stores_words
            ):
                turn.say(stopped_text(turn))
            elif command is not None and command.handler is not None:
                await command.handler(turn)
            elif name == "help":
                turn.say(self.help_text(turn, Role.CLIENT) + "\n\n" + turn.full_footer())
            else:
                turn.say(
                    turn.t("unknown_command", command=name[:32])
                    + "\n"
                    + self.help_text(turn, Role.CLIENT)
                )
            return
        if event.kind is EventKind.CHOICE and decode(event.choice_id).kind is ChoiceKind.CHECKIN:
            if client.status == ClientStatus.STOPPED:
                turn.say(stopped_text(turn))
            else:
                await checkin_answers.on_checkin_choice(turn)
            return
        conv = await turn.conv()
        if event.kind is EventKind.TEXT and conv.state == "alerts" and await resolve(turn) is None:
            # "I agree" was pressed, then words came instead of the alerts answer.
            await consent_with_words(turn)
        if risky and event.kind is EventKind.TEXT:
            # The crisis reply has gone first; nothing routine follows it in this turn.
            if client.status in (ClientStatus.ACTIVE, ClientStatus.PAUSED):
                await feedback.keep_after_crisis(turn, event.text or "")
            return
        key = await resolve(turn)
        if key == STALE:
            turn.say(turn.t("feedback.stale_choice"))
            return
        if conv.state != "idle" and await self._answer(turn, conv.state, key):
            return
        if event.kind is not EventKind.TEXT:
            return
        if client.status == ClientStatus.INVITED:
            turn.say(turn.t("onboarding.need_consent"))
        elif client.status == ClientStatus.STOPPED:
            turn.say(stopped_text(turn))
        elif (open_checkin := await checkin_answers.open_checkin(turn)) is not None:
            await checkin_answers.answer_with_text(turn, open_checkin, event.text or "")
        else:
            await feedback.start(turn, event.text)

    @staticmethod
    async def _answer(turn: ClientTurn, state: str, key: str | None) -> bool:
        """Handle an answer to the pending question; False if the state takes no answer."""
        if state in CHOSEN_ONLY:
            if key is None:
                return False
            await CHOSEN_ONLY[state](turn, key)
        elif state in ANSWERS:
            await ANSWERS[state](turn, key)
        else:
            return False
        return True


def stopped_text(turn: ClientTurn) -> str:
    """Why nothing is taken in: the client stopped (and may resume), or their practice
    ended the line (and they may not)."""
    if turn.client.deactivated_at is not None:
        return turn.t("directory.ended_already")
    return turn.t("pause.stopped_already")
