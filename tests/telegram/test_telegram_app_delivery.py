"""The whole app over Telegram when things go wrong: flood control, a client who blocks
the bot, and a crash between receiving an update and committing it."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import func, select

from feedback_bot.app.bootstrap import App
from feedback_bot.delivery.cursors import DbCursorStore
from feedback_bot.ports import IncomingEvent
from feedback_bot.scheduling.clock import FakeClock
from feedback_bot.storage.models import FeedbackItem, Identity, OutboxMessage
from tests.fakes.telegram_api import ApiCall, FakeTelegramApi
from tests.telegram.app_harness import (
    ALEX,
    Person,
    app_settings,
    build,
    linked,
    settle,
    t,
    telegram_adapter,
)


def sends(tg: FakeTelegramApi, chat_id: int) -> list[ApiCall]:
    return [c for c in tg.calls if c.method.startswith("send") and c.chat_id == chat_id]


async def reachable(app: App, chat_id: int) -> bool:
    async with app.sessions() as session:
        identity = await session.scalar(
            select(Identity).where(
                Identity.platform == "telegram", Identity.address == str(chat_id)
            )
        )
    assert identity is not None
    return identity.reachable


async def run_checkins(app: App, clock: FakeClock, sam: Person, days: int = 3) -> None:
    """Sam records a session tomorrow; the days after it are lived through hour by hour."""
    tomorrow = (clock.now() + timedelta(days=1)).date().isoformat()
    await sam.says(f"/session Alex {tomorrow} 10:00", until="Alex")
    until = clock.now() + timedelta(days=days)
    while clock.now() < until:
        clock.advance(timedelta(hours=1))
        await app.tick()
        await app.drain()


async def test_flood_control_storm_is_honoured_and_no_chat_gets_more_than_one_a_second(
    app: App, tg: FakeTelegramApi
) -> None:
    sam, alex = await linked(app, tg)
    bea = Person(app, tg, 3003, "Bea")  # not linked: she gets the "who are you" reply
    people = (sam, alex, bea)
    updates = [tg.push_command(p.chat_id, "help") for p in people for _ in range(3)]
    await tg.wait_until(lambda: not set(updates) & set(tg.pending_update_ids))
    # Flood control hits Alex's chat twice, then the whole bot once.
    tg.rate_limit(retry_after=3, count=2, method="sendMessage", chat_id=ALEX)
    tg.rate_limit(retry_after=2, count=1, method="sendMessage", after=2)
    storm_start = len(tg.calls)
    await app.drain()

    storm = tg.calls[storm_start:]
    assert [c.status for c in storm].count(429) == 3
    for person in people:
        calls = [c for c in storm if c.method == "sendMessage" and c.chat_id == person.chat_id]
        delivered = [c.at for c in calls if c.status == 200]
        assert len(delivered) == 3, person.chat_id
        gaps = [b - a for a, b in zip(delivered, delivered[1:], strict=False)]
        assert min(gaps) >= 1.0, (person.chat_id, gaps)
        for call, retry in zip(calls, calls[1:], strict=False):
            if call.status == 429:
                assert call.error is not None
                assert retry.at - call.at >= call.error["parameters"]["retry_after"]
    async with app.sessions() as session:
        stuck = await session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.status.in_(("pending", "failed", "sending", "dead")))
        )
    assert stuck == 0


async def test_client_who_blocked_the_bot_is_paused_until_unblocked(
    app: App, tg: FakeTelegramApi, clock: FakeClock
) -> None:
    sam, _ = await linked(app, tg)
    tg.block(ALEX)
    await settle(app, tg, tg.push_my_chat_member(ALEX, "kicked"))
    assert not await reachable(app, ALEX)
    before = len(sends(tg, ALEX))
    await run_checkins(app, clock, sam)
    assert len(sends(tg, ALEX)) == before  # no check-in was even attempted

    tg.unblock(ALEX)
    await settle(app, tg, tg.push_my_chat_member(ALEX, "member", old_status="kicked"))
    assert await reachable(app, ALEX)


async def test_a_403_on_send_marks_the_client_unreachable_and_stops_retries(
    app: App, tg: FakeTelegramApi, clock: FakeClock
) -> None:
    sam, _ = await linked(app, tg)
    tg.block(ALEX)  # Telegram's my_chat_member update never came
    before = len(sends(tg, ALEX))
    await run_checkins(app, clock, sam, days=6)
    refused = sends(tg, ALEX)[before:]
    assert [c.status for c in refused] == [403]  # tried once, never retried
    assert not await reachable(app, ALEX)


async def test_update_received_by_a_process_that_dies_before_commit_is_not_lost(
    database_url: str, tg: FakeTelegramApi, clock: FakeClock
) -> None:
    settings = app_settings(database_url, tg)
    first = await build(settings, clock)
    await first.adapters["telegram"].start(first.receive)
    try:
        _, alex = await linked(first, tg)
    finally:
        await first.close()

    second = await build(settings, clock)
    try:
        # A process fetches Alex's message and is killed while committing it.
        committing = asyncio.Event()

        async def killed_mid_commit(event: IncomingEvent) -> None:
            committing.set()
            await asyncio.Event().wait()

        doomed = telegram_adapter(settings, DbCursorStore(second.sessions, clock))
        await doomed.start(killed_mid_commit)
        update_id = tg.push_text(ALEX, "the last session felt rushed")
        async with asyncio.timeout(5):
            await committing.wait()
        await doomed.stop()  # its grace runs out: the commit never happened
        assert update_id in tg.pending_update_ids

        # The restarted bot gets the message again and handles it exactly once.
        await second.adapters["telegram"].start(second.receive)
        alex.app = second
        replies = await alex.replies(update_id, until=t(second, "feedback.ask_valence")[:30])
        assert len(replies) == 1
        async with second.sessions() as session:
            items = (await session.execute(select(FeedbackItem))).scalars().all()
        assert len(items) == 1
    finally:
        await second.close()
