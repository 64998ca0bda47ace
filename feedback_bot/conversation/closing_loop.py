"""The practitioner's side of closing the loop: ``ack [ALIAS]`` (or "I've read this" under
a digest) with a choice of what clients hear, and ``reply ALIAS …`` (or "Reply to …").

A client is only ever told what the practitioner chose to say, and is never asked to
answer it. The work of marking and telling is in ``digest/loop.py``.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import timedelta

from sqlalchemy import select

from feedback_bot.conversation.answers import _norm
from feedback_bot.conversation.practitioner import find_client
from feedback_bot.conversation.turn import PractitionerTurn
from feedback_bot.delivery.choice_ids import (
    ChoiceKind,
    acked_digest,
    decode,
    digest_ack,
    replied_item,
)
from feedback_bot.digest.loop import (
    MAX_REPLY_CHARS,
    REACHABLE,
    How,
    Pending,
    acknowledge,
    may_reply,
    pending,
    tell,
    unacked_digests,
)
from feedback_bot.ports import Choice, EventKind
from feedback_bot.storage.models import Client, Digest, FeedbackItem
from feedback_bot.storage.states import Routing

HOW_OPTIONS = ["ack_read", "ack_session", "ack_words"]
_HOW = {"ack_read": How.READ, "ack_session": How.READ_SESSION}
# A practitioner's pending question (what clients hear, the words of a reply) lapses after
# this: a message typed much later is not taken as words for a client.
PENDING_WINDOW = timedelta(hours=2)
# Aliases are at most a few words; longer prefixes are never tried.
_ALIAS_WORDS = 8


def _names(clients: list[Client]) -> str:
    return ", ".join(c.alias for c in clients)


# -- ack ---------------------------------------------------------------------------
async def on_ack(turn: PractitionerTurn) -> None:
    """``ack`` covers every unread summary; ``ack ALIAS`` one client's unread items; the
    button under a digest (old or new) covers that digest."""
    pr, event = turn.practitioner, turn.event
    client_id: int | None = None
    if event.kind is EventKind.CHOICE:
        digest_id = acked_digest(event.choice_id)
        digest = await turn.session.get(Digest, digest_id) if digest_id is not None else None
        if digest is None or digest.practitioner_id != pr.id:
            turn.say(turn.t("practitioner.nothing_to_ack"))
            return
        if digest.acked_at is not None:
            turn.say(turn.t("reply.already_acked"))
            return
        todo = await pending(turn.session, pr.id, [digest.id])
    elif alias := event.args.strip():
        client = await find_client(turn, alias)
        if client is None:
            turn.say(turn.t("practitioner.no_such_client", alias=alias[:80]))
            return
        client_id = client.id
        todo = await pending(turn.session, pr.id, None, client.id)
        if not todo.items:
            turn.say(turn.t("reply.nothing_unread_for", alias=client.alias))
            return
    else:
        ids = await unacked_digests(turn.session, pr.id)
        if not ids:
            turn.say(turn.t("practitioner.nothing_to_ack"))
            return
        todo = await pending(turn.session, pr.id, ids)
    if not todo.to_tell:
        await acknowledge(
            turn.session, turn.deps, pr, todo, How.READ, None, turn.now, whole_digests=not client_id
        )
        turn.say(turn.t("reply.acked_notices_off" if todo.notices_off else "reply.acked_nobody"))
        return
    data: dict[str, object] = {"digests": todo.digest_ids, "client": client_id}
    question = turn.t("reply.ask_how", names=_names(todo.to_tell))
    await turn.ask("ack_how", question, _how_options(todo), data=data)


def _how_options(todo: Pending) -> list[str]:
    # The feedback contact has no sessions with someone else's client to promise.
    if any(i.routing == Routing.CONTACT for i in todo.items):
        return [k for k in HOW_OPTIONS if k != "ack_session"]
    return HOW_OPTIONS


async def _pending_from(turn: PractitionerTurn) -> tuple[Pending, bool]:
    """What the pending question was about, read afresh (another chat may have acked)."""
    conv = await turn.conv()
    client_id = conv.data.get("client")
    todo = await pending(
        turn.session, turn.practitioner.id, list(conv.data.get("digests") or []), client_id
    )
    return todo, client_id is None


async def on_how(turn: PractitionerTurn, key: str | None) -> None:
    if key is None:
        conv = await turn.conv()
        options = list(conv.data.get("options") or HOW_OPTIONS)
        await turn.ask("ack_how", turn.t("reply.ask_how_again"), options, data=dict(conv.data))
        return
    todo, whole = await _pending_from(turn)
    if key == "ack_words":
        conv = await turn.conv()
        data = {k: v for k, v in conv.data.items() if k != "options"}
        await turn.set_state("ack_words", **data)
        turn.say(turn.t("reply.ask_words_ack", names=_names(todo.to_tell)))
        return
    await _finish(turn, todo, whole, _HOW[key], None)


async def on_ack_words(turn: PractitionerTurn, key: str | None) -> None:
    words = (turn.event.text or "").strip()
    if key is not None or not words:
        return
    if len(words) > MAX_REPLY_CHARS:
        turn.say(turn.t("reply.too_long", limit=MAX_REPLY_CHARS))
        return
    todo, whole = await _pending_from(turn)
    await _finish(turn, todo, whole, How.WORDS, words)


async def _finish(
    turn: PractitionerTurn, todo: Pending, whole: bool, how: How, words: str | None
) -> None:
    await turn.reset()
    if not todo.items:
        turn.say(turn.t("reply.already_acked"))
        return
    told = await acknowledge(
        turn.session, turn.deps, turn.practitioner, todo, how, words, turn.now, whole_digests=whole
    )
    if told:
        turn.say(turn.t("reply.acked", names=_names(todo.to_tell)))
    else:
        turn.say(turn.t("reply.acked_nobody"))


# -- reply -------------------------------------------------------------------------
async def on_reply_command(turn: PractitionerTurn) -> None:
    """``reply ALIAS words``: the longest run of leading words that is one of their
    clients' aliases names the client; the rest is the message."""
    words = turn.event.args.split()
    if not words:
        turn.say(turn.t("reply.usage"))
        return
    client, rest = None, ""
    for n in range(min(len(words), _ALIAS_WORDS), 0, -1):
        client = await find_client(turn, " ".join(words[:n]))
        if client is not None:
            parts = re.split(r"\s+", turn.event.args.strip(), maxsplit=n)
            rest = parts[n].strip() if len(parts) > n else ""
            break
    if client is None:
        turn.say(turn.t("practitioner.no_such_client", alias=words[0][:80]))
        return
    await _reply_to(turn, client, None, rest)


async def on_reply_button(turn: PractitionerTurn) -> None:
    item_id = replied_item(turn.event.choice_id)
    item = await turn.session.get(FeedbackItem, item_id) if item_id is not None else None
    client = await turn.session.get(Client, item.client_id) if item is not None else None
    if item is None or client is None or client.practitioner_id != turn.practitioner.id:
        turn.say(turn.t("reply.not_found"))
        return
    if not await may_reply(turn.session, turn.practitioner, item):
        turn.say(turn.t("reply.not_yours"))
        return
    await _reply_to(turn, client, item, "")


async def _reply_to(
    turn: PractitionerTurn, client: Client, item: FeedbackItem | None, words: str
) -> None:
    if client.status not in REACHABLE:
        turn.say(turn.t("reply.cannot_reach", alias=client.alias))
        return
    if not words:
        await turn.set_state(
            "reply_words", client=client.id, item=item.id if item is not None else None
        )
        turn.say(turn.t("reply.ask_words", alias=client.alias))
        return
    await _send_reply(turn, client, item, words)


async def _send_reply(
    turn: PractitionerTurn, client: Client, item: FeedbackItem | None, words: str
) -> None:
    if len(words) > MAX_REPLY_CHARS:
        turn.say(turn.t("reply.too_long", limit=MAX_REPLY_CHARS))
        return
    await turn.reset()
    sent = await tell(
        turn.session,
        turn.deps,
        turn.practitioner,
        client,
        How.WORDS,
        words,
        turn.now,
        item_id=item.id if item is not None else None,
        direct=True,
    )
    if not sent:
        turn.say(turn.t("reply.cannot_reach", alias=client.alias))
        return
    turn.say(turn.t("reply.sent", alias=client.alias), await _ack_again(turn, item))


async def _ack_again(turn: PractitionerTurn, item: FeedbackItem | None) -> tuple[Choice, ...]:
    """Platforms take a digest's buttons away once one is pressed: after replying from
    under a digest that is still unread, its "I've read this" is offered again."""
    if item is None or item.digest_id is None:
        return ()
    digest = await turn.session.get(Digest, item.digest_id)
    if digest is None or digest.acked_at is not None or not digest.choices:
        return ()
    return (Choice(id=digest_ack(digest.id), label=turn.t("choices.ack")),)


async def on_reply_words(turn: PractitionerTurn, key: str | None) -> None:
    words = (turn.event.text or "").strip()
    if key is not None or not words:
        return
    conv = await turn.conv()
    client = await turn.session.get(Client, int(conv.data.get("client") or 0))
    item_id = conv.data.get("item")
    item = await turn.session.get(FeedbackItem, int(item_id)) if item_id else None
    if client is None or client.practitioner_id != turn.practitioner.id:
        await turn.reset()
        turn.say(turn.t("reply.not_found"))
        return
    if item is not None and not await may_reply(turn.session, turn.practitioner, item):
        await turn.reset()
        turn.say(turn.t("reply.not_yours"))
        return
    await _send_reply(turn, client, item, words)


# -- typed instead of pressed ------------------------------------------------------
async def typed_choice(turn: PractitionerTurn) -> PractitionerTurn | None:
    """On a platform without buttons, "1" or "I've read this" typed after a digest: the
    turn as if that button of their latest digest had been pressed; None otherwise."""
    said = _norm(turn.event.text or "")
    if not said:
        return None
    digest = (
        await turn.session.execute(
            select(Digest)
            .where(
                Digest.practitioner_id == turn.practitioner.id,
                Digest.sent_at.is_not(None),
                Digest.choices.is_not(None),
            )
            .order_by(Digest.sent_at.desc(), Digest.id.desc())
            .limit(1)
        )
    ).scalar_one_or_none()
    ids: list[str] = list(digest.choices or []) if digest is not None else []
    chosen = None
    if said.isdigit() and 1 <= int(said) <= len(ids):
        chosen = ids[int(said) - 1]
    else:
        for choice_id in ids:
            label = await _label(turn, choice_id)
            if label is not None and said == _norm(label):
                chosen = choice_id
                break
    if chosen is None:
        return None
    event = replace(turn.event, kind=EventKind.CHOICE, choice_id=chosen, text=None)
    return replace(turn, event=event)


async def _label(turn: PractitionerTurn, choice_id: str) -> str | None:
    choice = decode(choice_id)
    if choice.kind is ChoiceKind.DIGEST_ACK:
        return turn.t("choices.ack")
    if choice.kind is ChoiceKind.REPLY and choice.number is not None:
        item = await turn.session.get(FeedbackItem, choice.number)
        client = await turn.session.get(Client, item.client_id) if item is not None else None
        if client is not None:
            return turn.t("reply.button", alias=client.alias)
    return None
