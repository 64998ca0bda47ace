"""Input the bot did not ask for: strangers, unknown commands, stickers, edits, groups,
very long texts, and people who block the bot. Each gets a kind reply where one is due,
and none of it leaves anything stored that shouldn't be."""

from __future__ import annotations

import uuid
from typing import Any

from feedback_bot.conversation.commands import Role
from feedback_bot.ports import EventKind, IncomingEvent
from feedback_bot.privacy.access import read_own_text
from feedback_bot.storage.models import (
    FeedbackItem,
    Identity,
    InboxEvent,
    OutboxMessage,
    SafetyEvent,
)
from tests.harness import Harness, alex_linked, count, help_text, rows, t


def event(who: str, kind: EventKind, **fields: Any) -> IncomingEvent:
    return IncomingEvent("console", uuid.uuid4().hex, who, kind, **fields)


async def deliver(bot: Harness, ev: IncomingEvent) -> list[str]:
    await bot.console.deliver(ev)
    await bot.app.drain()
    return [m.text for m in bot.new_messages(ev.address)]


async def texts(bot: Harness, cid: int) -> list[str | None]:
    found = sorted(await rows(bot, FeedbackItem, FeedbackItem.client_id == cid), key=lambda i: i.id)
    return [read_own_text(bot.app.vault, cid, i) for i in found]


async def nothing_kept_about(bot: Harness, who: str) -> None:
    chat_hash = bot.app.vault.keyed_hash("console", who)
    assert await count(bot, Identity, Identity.address == who) == 0
    inbox = await rows(bot, InboxEvent, InboxEvent.chat_hash == chat_hash)
    assert inbox and all(r.status == "done" and r.payload_enc is None for r in inbox)
    assert await count(bot, OutboxMessage, OutboxMessage.address == chat_hash) == 0


# -- strangers -----------------------------------------------------------------------------


async def test_unlinked_chat_gets_an_explanation_and_nothing_is_kept(bot: Harness) -> None:
    await bot.practitioner("dr")
    for said in ("hello, is this the therapy bot?", "!feedback", "!help", "1"):
        assert await bot.says("stranger", said) == [t(bot, "unlinked")], said
    assert await deliver(bot, event("stranger", EventKind.NON_TEXT)) == [t(bot, "unlinked")]
    await nothing_kept_about(bot, "stranger")
    assert await count(bot, FeedbackItem) == 0


async def test_unlinked_chat_in_crisis_still_gets_help(bot: Harness) -> None:
    await bot.practitioner("dr")
    replies = await bot.says("stranger", "everyone would be better off without me")
    assert replies[0].startswith(t(bot, "safety.reply"))
    assert await count(bot, SafetyEvent) == 0
    await nothing_kept_about(bot, "stranger")


async def test_a_reply_after_a_deleted_message_is_still_delivered(bot: Harness) -> None:
    """Replies to strangers are deleted from the outbox once sent. The next message, to
    anyone, must not be mistaken for a resend of it (the outbox id is the adapters'
    idempotency key, e.g. the Matrix transaction id)."""
    cid = await alex_linked(bot)
    assert await bot.says("stranger", "hello?") == [t(bot, "unlinked")]
    replies = await bot.says("alex", "something about last week")
    assert replies and replies[0].startswith(t(bot, "feedback.ask_valence"))
    assert len(await texts(bot, cid)) == 1


# -- unknown commands, non-text, edits, groups ---------------------------------------------


async def test_unknown_command_gets_help(bot: Harness) -> None:
    await alex_linked(bot)
    [reply] = await bot.says("alex", "!help")
    assert reply.startswith(help_text(bot, Role.CLIENT))
    [reply] = await bot.says("alex", "!frobnicate now please")
    assert reply == t(bot, "unknown_command", command="frobnicate") + "\n" + help_text(
        bot, Role.CLIENT
    )
    long_name = "x" * 32
    [reply] = await bot.says("alex", f"!{long_name}")
    assert reply.startswith(t(bot, "unknown_command", command=long_name))


async def test_non_text_gets_a_kind_reply_and_changes_nothing(bot: Harness) -> None:
    cid = await alex_linked(bot)
    assert await deliver(bot, event("alex", EventKind.NON_TEXT)) == [t(bot, "non_text")]
    await bot.says("alex", "words first")
    assert await deliver(bot, event("alex", EventKind.NON_TEXT)) == [t(bot, "non_text")]
    # The question that was open is still open: the sticker didn't answer it.
    await bot.presses("alex", "Something felt good")
    await bot.presses("alex", "Just so you know")
    assert await texts(bot, cid) == ["words first"]


async def test_an_edited_message_does_not_change_what_was_shared(bot: Harness) -> None:
    cid = await alex_linked(bot)
    await bot.shares("alex", "what I first wrote", "Something else", "Just so you know")
    replies = await deliver(bot, event("alex", EventKind.EDIT, text="what I wrote instead"))
    assert replies == [t(bot, "edit_ignored")]
    assert await texts(bot, cid) == ["what I first wrote"]


async def test_group_events_are_refused(bot: Harness) -> None:
    cid = await alex_linked(bot)
    replies = await deliver(bot, event("some-group", EventKind.GROUP, text="hi all"))
    assert replies == [t(bot, "group_refused")]
    await nothing_kept_about(bot, "some-group")
    # Even from a linked chat, group content is not taken as feedback.
    replies = await deliver(bot, event("alex", EventKind.GROUP, text="group chatter"))
    assert replies == [t(bot, "group_refused")]
    assert await texts(bot, cid) == []


# -- very long text ------------------------------------------------------------------------


async def test_text_over_the_limit_is_refused_whole_and_earlier_items_stay(bot: Harness) -> None:
    cid = await alex_linked(bot)
    await bot.shares("alex", "an earlier thought", "Something else", "Just so you know")
    limit = bot.app.settings.max_text_chars
    assert limit == 20_000

    replies = await bot.says("alex", "a" * (limit + 1))
    assert replies == [t(bot, "too_long", limit=f"{limit:,}")]
    assert "20,000" in replies[0]
    assert await texts(bot, cid) == ["an earlier thought"]

    # Mid-flow too: the draft keeps what it had, and the question is still open.
    await bot.says("alex", "a short start")
    assert await bot.says("alex", "b" * (limit + 500)) == [t(bot, "too_long", limit=f"{limit:,}")]
    await bot.presses("alex", "Something else")
    await bot.presses("alex", "Just so you know")
    assert await texts(bot, cid) == ["an earlier thought", "a short start"]

    # Exactly at the limit is fine, and nothing is cut off.
    await bot.says("alex", "c" * limit)
    await bot.presses("alex", "Something else")
    await bot.presses("alex", "Just so you know")
    assert (await texts(bot, cid))[-1] == "c" * limit


async def test_long_text_with_crisis_words_still_gets_help(bot: Harness) -> None:
    cid = await alex_linked(bot)
    limit = bot.app.settings.max_text_chars
    said = "I don't see the point anymore. " + "It has been a long week. " * (limit // 20)
    assert len(said) > limit
    replies = await bot.says("alex", said)
    assert replies[0].startswith(t(bot, "safety.reply"))
    assert t(bot, "too_long", limit=f"{limit:,}") in replies
    assert await texts(bot, cid) == []
    assert await count(bot, SafetyEvent, SafetyEvent.client_id == cid) == 1


# -- blocked chats -------------------------------------------------------------------------


async def test_a_chat_that_blocks_the_bot_is_marked_unreachable(bot: Harness) -> None:
    cid = await alex_linked(bot)
    assert await deliver(bot, event("alex", EventKind.BLOCKED)) == []
    [ident] = await rows(bot, Identity, Identity.client_id == cid)
    assert ident.reachable is False
    assert await deliver(bot, event("alex", EventKind.UNBLOCKED)) == []
    [ident] = await rows(bot, Identity, Identity.client_id == cid)
    assert ident.reachable is True
    # A stranger blocking us leaves nothing.
    assert await deliver(bot, event("stranger", EventKind.BLOCKED)) == []
    assert await count(bot, Identity, Identity.address == "stranger") == 0

    # The platform saying "blocked" only when we try to send has the same effect.
    await bot.shares("alex", "before blocking", "Something else", "Just so you know")
    bot.console.blocked.add("alex")
    await bot.says("alex", "!mine")  # the reply cannot be delivered
    assert bot.new_messages("alex") == []
    [ident] = await rows(bot, Identity, Identity.client_id == cid)
    assert ident.reachable is False
    [undelivered] = await rows(
        bot, OutboxMessage, OutboxMessage.identity_id == ident.id, OutboxMessage.status != "sent"
    )
    assert undelivered.status == "unavailable"
    assert await texts(bot, cid) == ["before blocking"]  # nothing lost

    # The practitioner's digest does not try to alert an unreachable client later on.
    await bot.says("dr", "!digest")
    await bot.presses("dr", "I've read this")
    bot.console.blocked.discard("alex")
    await bot.app.drain()
    assert bot.new_messages("alex") == []
