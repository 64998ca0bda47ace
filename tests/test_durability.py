"""Durability: an event is stored exactly once however often it arrives, a crash between
receiving and committing loses nothing and duplicates nothing, and a crash while
processing leaves no half-done state behind."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import event as sa_event
from sqlalchemy.ext.asyncio import AsyncSession

from feedback_bot.conversation import feedback
from feedback_bot.conversation.turn import Turn
from feedback_bot.ports import EventKind, IncomingEvent
from feedback_bot.privacy.access import read_own_text
from feedback_bot.storage.models import Conversation, FeedbackItem, InboxEvent, OutboxMessage
from tests.harness import Harness, alex_linked, count, rows, t


class SimulatedCrash(Exception):
    pass


async def texts(bot: Harness, cid: int) -> list[tuple[str, str | None]]:
    found = sorted(await rows(bot, FeedbackItem, FeedbackItem.client_id == cid), key=lambda i: i.id)
    return [(i.status, read_own_text(bot.app.vault, cid, i)) for i in found]


def crash_first_commit(owner: Any, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Make the next top-level commit of ``owner._sessions`` fail after all its statements
    ran: the process "dies" between doing the work and making it durable."""
    real: Callable[[], AsyncSession] = owner._sessions
    crashes: list[int] = []

    def factory() -> AsyncSession:
        session = real()
        if not crashes:

            def boom(sync_session: Any) -> None:
                if sync_session.in_nested_transaction() or crashes:
                    return
                crashes.append(1)
                raise SimulatedCrash("power cut before COMMIT")

            sa_event.listen(session.sync_session, "before_commit", boom)
        return session

    monkeypatch.setattr(owner, "_sessions", factory)
    return crashes


# -- the same event twice ------------------------------------------------------------------


async def test_the_same_event_twice_is_stored_and_answered_once(bot: Harness) -> None:
    cid = await alex_linked(bot)
    ev = bot.console.event_for("alex", "something from last week")
    await bot.console.deliver(ev)
    await bot.console.deliver(ev)  # the platform redelivers before we acknowledged
    await bot.app.drain()
    await bot.console.deliver(ev)  # and once more, after it was processed
    await bot.app.drain()

    assert len(await rows(bot, InboxEvent, InboxEvent.event_id == ev.event_id)) == 1
    replies = [m.text for m in bot.new_messages("alex")]
    assert len(replies) == 1 and replies[0].startswith(t(bot, "feedback.ask_valence"))
    assert await texts(bot, cid) == [("draft", "something from last week")]


async def test_a_replayed_button_press_counts_once(bot: Harness) -> None:
    cid = await alex_linked(bot)
    await bot.says("alex", "words")
    await bot.presses("alex", "Something else")
    routing = bot.last_with_choices("alex")
    press = IncomingEvent(
        "console", "press-1", "alex", EventKind.CHOICE, choice_id=routing.choices[1].id
    )
    for _ in range(3):
        await bot.console.deliver(press)
        await bot.app.drain()
    replies = [m.text for m in bot.new_messages("alex")]
    assert len(replies) == 1  # one acknowledgement, no "already answered" for the replays
    assert await texts(bot, cid) == [("submitted", "words")]


# -- a crash between receiving and committing ----------------------------------------------


async def test_crash_before_the_inbox_commit_then_replay_stores_it_once(
    bot: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    cid = await alex_linked(bot)
    crashes = crash_first_commit(bot.app.inbox, monkeypatch)
    ev = bot.console.event_for("alex", "the room was cold")

    with pytest.raises(SimulatedCrash):
        await bot.console.deliver(ev)  # the adapter sees the failure: no cursor advance
    assert crashes == [1]
    await bot.app.drain()
    assert await count(bot, InboxEvent, InboxEvent.event_id == ev.event_id) == 0
    assert bot.new_messages("alex") == []
    assert await texts(bot, cid) == []

    await bot.console.deliver(ev)  # the platform redelivers
    await bot.app.drain()
    await bot.console.deliver(ev)  # and, for good measure, once more
    await bot.app.drain()

    [row] = await rows(bot, InboxEvent, InboxEvent.event_id == ev.event_id)
    assert row.status == "done"
    replies = [m.text for m in bot.new_messages("alex")]
    assert len(replies) == 1 and replies[0].startswith(t(bot, "feedback.ask_valence"))
    assert await texts(bot, cid) == [("draft", "the room was cold")]


async def test_crash_before_the_inbox_commit_still_sends_crisis_help_once(
    bot: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    await alex_linked(bot)
    crash_first_commit(bot.app.inbox, monkeypatch)
    ev = bot.console.event_for("alex", "I don't see the point anymore")
    with pytest.raises(SimulatedCrash):
        await bot.console.deliver(ev)
    # Sent straight away, without the database.
    direct = [m.text for m in bot.new_messages("alex")]
    assert len(direct) == 1 and direct[0].startswith(t(bot, "safety.reply"))

    await bot.console.deliver(ev)
    await bot.app.drain()
    later = [m.text for m in bot.new_messages("alex")]
    assert not any(r.startswith(t(bot, "safety.reply")) for r in later)  # not twice
    # The words are kept once the database is back; no routine question follows the help.
    assert later == [t(bot, "safety.kept")]


async def test_crash_before_the_processing_commit_is_redone_once(
    bot: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Handled, but the transaction that holds the state change, the reply and the "done"
    mark never committed: after restart the event is processed again, as if for the first
    time, so there is one draft and one reply."""
    cid = await alex_linked(bot)
    crashes = crash_first_commit(bot.app.processor, monkeypatch)
    await bot.console.say("alex", "it felt rushed")
    with pytest.raises(SimulatedCrash):
        await bot.app.drain()
    assert crashes == [1]
    monkeypatch.undo()

    pending = await rows(bot, InboxEvent, InboxEvent.status == "pending")
    assert len(pending) == 1
    assert await texts(bot, cid) == []  # nothing of it was committed

    await bot.app.drain()  # "after restart"
    replies = [m.text for m in bot.new_messages("alex")]
    assert len(replies) == 1 and replies[0].startswith(t(bot, "feedback.ask_valence"))
    assert await texts(bot, cid) == [("draft", "it felt rushed")]
    assert await count(bot, InboxEvent, InboxEvent.status != "done") == 0


# -- a crash while processing --------------------------------------------------------------


async def test_a_failing_handler_leaves_no_half_feedback_and_apologises(
    bot: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    cid = await alex_linked(bot)
    await bot.shares("alex", "an earlier item", "Something else", "Just so you know")
    real_ask = Turn.ask

    async def failing_ask(self: Turn, state: str, *args: Any, **kwargs: Any) -> None:
        if state == "valence":
            raise RuntimeError("bug in the question")
        await real_ask(self, state, *args, **kwargs)

    monkeypatch.setattr(Turn, "ask", failing_ask)
    assert await bot.says("alex", "new words that must not half-exist") == [
        t(bot, "common.something_wrong")
    ]
    # The draft had been written and flushed before the failure: it is gone again.
    assert await texts(bot, cid) == [("submitted", "an earlier item")]
    [conv] = await rows(bot, Conversation)
    assert conv.state == "idle" and conv.item_id is None
    failed = await rows(bot, InboxEvent, InboxEvent.status == "failed")
    assert len(failed) == 1 and failed[0].payload_enc is None
    # No stray reply beyond the apology (the apology itself is gone once sent).
    assert await count(bot, OutboxMessage, OutboxMessage.status != "sent") == 0

    monkeypatch.undo()
    await bot.shares("alex", "trying again", "Something else", "Just so you know")
    assert await texts(bot, cid) == [
        ("submitted", "an earlier item"),
        ("submitted", "trying again"),
    ]


async def test_a_failure_while_submitting_keeps_the_draft_as_it_was(
    bot: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    cid = await alex_linked(bot)
    await bot.says("alex", "almost done")
    await bot.presses("alex", "Something else")
    routing = bot.last_with_choices("alex")

    async def broken_ack(turn: Turn, item: FeedbackItem) -> str:
        raise RuntimeError("could not work out the date")

    monkeypatch.setattr(feedback, "acknowledgement", broken_ack)
    assert await bot.presses("alex", "Just so you know") == [t(bot, "common.something_wrong")]
    # Still a draft, still waiting for the same answer: submitted-without-acknowledgement
    # would be a half state.
    assert await texts(bot, cid) == [("draft", "almost done")]
    [conv] = await rows(bot, Conversation)
    assert conv.state == "routing"

    monkeypatch.undo()
    await bot.console.press("alex", routing.choices[1].id)
    await bot.app.drain()
    [ack] = [m.text for m in bot.new_messages("alex")]
    assert "Sam will see this" in ack
    assert await texts(bot, cid) == [("submitted", "almost done")]
