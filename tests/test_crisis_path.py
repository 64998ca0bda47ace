"""The crisis path when the database fails, floods and later errors (issue 11, 9-12)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from feedback_bot.delivery.inbox import InboxUnavailable
from feedback_bot.storage.models import InboxEvent, OutboxMessage
from tests.harness import Harness
from tests.test_safety_paths import RISKY, BrokenDatabase


def crisis_replies(bot: Harness, who: str) -> list[str]:
    opening = bot.app.catalog.t("safety.reply", "en")
    return [m.text for m in bot.console.sent[who] if m.text.startswith(opening)]


async def test_each_direct_crisis_reply_has_its_own_idempotency_key(bot: Harness) -> None:
    """Point 9: the platform deduplicates on the key (Matrix tx id), so two people must
    never share one; a redelivered event is not answered a second time."""
    working = bot.app.inbox._sessions
    bot.app.inbox._sessions = BrokenDatabase()  # type: ignore[assignment]
    events = [bot.console.event_for(who, RISKY) for who in ("kim", "lee")]
    for event in events:
        with pytest.raises(OperationalError):
            await bot.console.deliver(event)
    [kim], [lee] = bot.console.sent["kim"], bot.console.sent["lee"]
    assert kim.outbox_id != lee.outbox_id
    assert 0 not in (kim.outbox_id, lee.outbox_id)
    # Never an outbox row's id: those are positive (and a 32-bit column on PostgreSQL).
    assert kim.outbox_id < 0 and lee.outbox_id < 0
    with pytest.raises(InboxUnavailable):  # redelivered while still down: not even tried
        await bot.console.deliver(events[0])
    assert len(bot.console.sent["kim"]) == 1
    bot.app.inbox._sessions = working
    bot.app.inbox._unavailable_until = 0.0  # the inbox's pause is over
    for event in events:
        await bot.console.deliver(event)
    await bot.app.drain()
    assert len(crisis_replies(bot, "kim")) == 1 and len(crisis_replies(bot, "lee")) == 1


async def test_redeliveries_do_not_count_against_the_flood_throttle(bot: Harness) -> None:
    """Point 10: an outage longer than the throttle's limit of tries must not turn an
    ordinary message into a "flood" that is dropped (and its offset confirmed)."""
    pid = await bot.practitioner()
    await bot.client("alex", pid)
    working = bot.app.inbox._sessions
    bot.app.inbox._sessions = BrokenDatabase()  # type: ignore[assignment]
    event = bot.console.event_for("alex", "the room was cold")
    for _ in range(bot.app.settings.inbound_per_minute + 10):
        with pytest.raises(Exception):  # noqa: B017, PT011 (database errors or "not now")
            await bot.console.deliver(event)
        bot.app.inbox._unavailable_until = 0.0  # the platform's next try, a moment later
    bot.app.inbox._sessions = working
    await bot.console.deliver(event)
    async with bot.app.sessions() as s:
        stored = await s.scalar(
            select(func.count())
            .select_from(InboxEvent)
            .where(InboxEvent.event_id == event.event_id)
        )
    assert stored == 1


async def test_a_later_error_in_the_turn_keeps_the_crisis_reply(
    bot: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Point 11: the crisis reply is committed on its own; whatever fails after it in the
    same turn, the person gets it (and the apology for the rest)."""
    pid = await bot.practitioner()
    await bot.client("alex", pid)

    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("a bug further down the turn")

    monkeypatch.setattr(bot.app.processor.router, "_client", broken)
    await bot.console.say("alex", RISKY)
    await bot.app.drain()
    texts = [m.text for m in bot.console.sent["alex"]]
    assert len(crisis_replies(bot, "alex")) == 1
    assert bot.app.catalog.t("common.something_wrong", "en") in texts


async def test_a_crisis_flood_is_answered_but_bounded(bot: Harness) -> None:
    """Point 12: 600 crisis texts from one unlinked chat in a minute: the first ones are
    stored and answered, the rest coalesced into one notice; no table grows with them."""
    limit = bot.app.settings.inbound_crisis_per_minute
    first = [await bot.console.say("flood", RISKY) for _ in range(limit)]
    for _ in range(600 - limit):
        await bot.console.say("flood", RISKY)
    await bot.app.drain()
    async with bot.app.sessions() as s:
        inbox = await s.scalar(select(func.count()).select_from(InboxEvent))
        outbox = await s.scalar(select(func.count()).select_from(OutboxMessage))
        kept = await s.scalar(
            select(func.count())
            .select_from(InboxEvent)
            .where(InboxEvent.event_id.in_([e.event_id for e in first]))
        )
    assert kept == limit, "the first ones are never dropped"
    assert inbox is not None and inbox <= limit + 1
    assert outbox is not None and outbox <= 2 * (limit + 1)
    assert len(crisis_replies(bot, "flood")) == limit
    notices = [m.text for m in bot.console.sent["flood"] if "That's a lot of messages" in m.text]
    assert len(notices) == 1
