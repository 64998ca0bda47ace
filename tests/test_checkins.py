"""Gentle check-ins as a client experiences them: at a good local time, once, never nagging."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from feedback_bot.metrics import REGISTRY
from feedback_bot.ports import EventKind, IncomingEvent
from feedback_bot.scheduling.checkins import jitter_seconds
from feedback_bot.scheduling.settings import SchedulingSettings
from feedback_bot.storage.models import Checkin, Identity
from tests.harness import Harness, make_harness

CHECKIN_TEXT = "gentle check-in"


@pytest.fixture
def start_time() -> datetime:
    return datetime(2026, 10, 12, 9, 0, tzinfo=UTC)  # a Monday, before both DST changes


@pytest.fixture
async def bot(database_url: str, tmp_path: Path, start_time: datetime) -> AsyncIterator[Harness]:
    h = await make_harness(
        database_url, tmp_path, start_time, scheduling=SchedulingSettings(jitter_seconds=0)
    )
    try:
        yield h
    finally:
        await h.close()


def checkins_for(bot: Harness, who: str) -> list[datetime]:
    """When each check-in reached this person (fake clock at delivery)."""
    return [t for t, text in bot.deliveries.get(who, []) if CHECKIN_TEXT in text]


async def run_until(bot: Harness, until: datetime, step: timedelta = timedelta(hours=1)) -> None:
    """Tick like the clock job would; an hour is finer than the missed-slot grace window."""
    while bot.clock.now() < until:
        bot.clock.advance(min(step, until - bot.clock.now()))
        await bot.app.tick()
        await bot.app.drain()


async def thursday(bot: Harness, day: int) -> None:
    """Live through a Thursday in October 2026 around the 18:00 London slot."""
    bot.clock.set(max(bot.clock.now(), datetime(2026, 10, day, 12, 0, tzinfo=UTC)))
    await run_until(bot, datetime(2026, 10, day, 22, 0, tzinfo=UTC))


async def weekly_client(bot: Harness, who: str, pid: int, tz: str) -> None:
    await bot.client(who, pid)
    await bot.says(who, f"!timezone {tz}")
    await bot.says(who, "!checkins")
    await bot.presses(who, "Once a week")
    await bot.presses(who, "Thursday")
    await bot.presses(who, "18:00")


async def test_weekly_checkins_keep_local_time_across_dst_in_two_time_zones(bot: Harness) -> None:
    pid = await bot.practitioner()
    await weekly_client(bot, "berlin", pid, "Europe/Berlin")
    await weekly_client(bot, "newyork", pid, "America/New_York")
    bot.clock.set(datetime(2026, 10, 21, tzinfo=UTC))
    # Europe leaves summer time on 25 Oct, the US on 1 Nov: run across both.
    await run_until(bot, datetime(2026, 11, 6, tzinfo=UTC))
    for who, tz in (("berlin", "Europe/Berlin"), ("newyork", "America/New_York")):
        times = checkins_for(bot, who)
        local = [t.astimezone(ZoneInfo(tz)) for t in times]
        assert len(local) == 3, local  # Thursdays 22 and 29 Oct, 5 Nov
        assert all(t.weekday() == 3 and (t.hour, t.minute) == (18, 0) for t in local), local
        offsets = {t.utcoffset() for t in local}
        assert len(offsets) == 2, "the UTC instant must move with daylight saving"


async def test_after_session_checkin_waits_for_quiet_hours_to_end(bot: Harness) -> None:
    pid = await bot.practitioner()
    await bot.client("alex", pid)
    # Session Tue 13 Oct 10:00 London (BST) ends 10:50; +20 h is 06:50 on Wednesday,
    # inside the default quiet hours (21:00–08:00), so it arrives at 08:00.
    await bot.says("dr", "!session Alex 2026-10-13 10:00")
    await run_until(bot, datetime(2026, 10, 15, tzinfo=UTC))
    [sent] = checkins_for(bot, "alex")
    local = sent.astimezone(ZoneInfo("Europe/London"))
    assert (local.day, local.hour, local.minute) == (14, 8, 0)


async def test_client_quiet_hours_are_respected(bot: Harness) -> None:
    pid = await bot.practitioner()
    await weekly_client(bot, "alex", pid, "Europe/London")
    await bot.says("alex", "!quiet 17:00 20:00")  # weekly time 18:00 now falls inside
    await run_until(bot, datetime(2026, 10, 16, tzinfo=UTC))
    [sent] = checkins_for(bot, "alex")
    assert sent.astimezone(ZoneInfo("Europe/London")).hour == 20


def test_jitter_stays_within_bounds_and_spreads_a_practice() -> None:
    slot = datetime(2026, 10, 15, 17, 0, tzinfo=UTC)
    values = [jitter_seconds(client_id, slot, 300) for client_id in range(1, 200)]
    assert all(0 <= v <= 300 for v in values)
    assert len(set(values)) > 50, "check-ins of one practice must not fire in one second"
    assert jitter_seconds(7, slot, 300) == jitter_seconds(7, slot, 300), "stable per slot"
    assert jitter_seconds(7, slot, 0) == 0


async def test_remind_me_later_asks_once_more_and_then_never_again(bot: Harness) -> None:
    pid = await bot.practitioner()
    await weekly_client(bot, "alex", pid, "Europe/London")
    await run_until(bot, datetime(2026, 10, 15, 17, 0, tzinfo=UTC))
    assert len(checkins_for(bot, "alex")) == 1
    replies = await bot.presses("alex", "Remind me later")
    assert any("once more" in r for r in replies)
    await run_until(bot, datetime(2026, 10, 17, 17, 0, tzinfo=UTC))
    reminders = [(t, x) for t, x in bot.deliveries["alex"] if "gentle nudge" in x]
    assert len(reminders) == 1
    # Four hours after 18:00 is 22:00, inside quiet hours: the nudge waits for 08:00.
    local = reminders[0][0].astimezone(ZoneInfo("Europe/London"))
    assert (local.day, local.hour, local.minute) == (16, 8, 0)
    reminder_msg = bot.last_with_choices("alex")
    assert "Remind me later" not in [c.label for c in reminder_msg.choices]


async def test_unanswered_checkin_expires_and_is_never_resent(bot: Harness) -> None:
    pid = await bot.practitioner()
    await weekly_client(bot, "alex", pid, "Europe/London")
    await run_until(bot, datetime(2026, 10, 18, tzinfo=UTC))
    assert len(checkins_for(bot, "alex")) == 1
    async with bot.app.sessions() as s:
        statuses = (await s.execute(select(Checkin.status))).scalars().all()
    assert statuses == ["expired"]
    replies = await bot.presses("alex", "Something felt good")
    assert any("has passed" in r for r in replies)


async def test_paused_and_stopped_clients_get_nothing(bot: Harness) -> None:
    pid = await bot.practitioner()
    await weekly_client(bot, "paula", pid, "Europe/London")
    await weekly_client(bot, "sid", pid, "Europe/London")
    await bot.says("paula", "!pause")
    await bot.says("sid", "!stop")
    await thursday(bot, 15)
    await thursday(bot, 22)
    assert checkins_for(bot, "paula") == [] and checkins_for(bot, "sid") == []
    await bot.says("paula", "!resume")
    await thursday(bot, 29)
    assert len(checkins_for(bot, "paula")) == 1
    assert checkins_for(bot, "sid") == []


async def test_blocked_client_is_paused_until_unblocked(bot: Harness) -> None:
    pid = await bot.practitioner()
    await weekly_client(bot, "alex", pid, "Europe/London")
    bot.console.blocked.add("alex")
    await thursday(bot, 15)
    async with bot.app.sessions() as s:
        ident = (await s.execute(select(Identity).where(Identity.address == "alex"))).scalar_one()
    assert ident.reachable is False
    await thursday(bot, 22)
    async with bot.app.sessions() as s:
        kinds = (await s.execute(select(Checkin.status).order_by(Checkin.id))).scalars().all()
    assert kinds[-1] == "skipped", "no attempt is made while the bot is blocked"
    bot.console.blocked.discard("alex")
    await bot.console.deliver(IncomingEvent("console", "unblock-1", "alex", EventKind.UNBLOCKED))
    await bot.app.drain()
    await thursday(bot, 29)
    assert len(checkins_for(bot, "alex")) == 1


async def test_restart_inside_grace_sends_once_outside_grace_marks_missed(bot: Harness) -> None:
    pid = await bot.practitioner()
    await weekly_client(bot, "alex", pid, "Europe/London")
    # Down from before the slot (Thu 18:00 BST = 17:00 UTC) until 18:30 UTC: within grace.
    bot.clock.set(datetime(2026, 10, 15, 18, 30, tzinfo=UTC))
    await bot.tick()
    await bot.tick(minutes=15)
    assert len(checkins_for(bot, "alex")) == 1
    # Down for a whole day over the next slot: it is recorded as missed, never sent late.
    bot.clock.set(datetime(2026, 10, 23, 12, 0, tzinfo=UTC))
    await bot.tick()
    assert len(checkins_for(bot, "alex")) == 1
    async with bot.app.sessions() as s:
        rows = (await s.execute(select(Checkin.status).order_by(Checkin.slot_at))).scalars().all()
    assert rows[-1] == "missed"


async def test_ticks_from_overlapping_workers_never_send_a_slot_twice(bot: Harness) -> None:
    import asyncio

    pid = await bot.practitioner()
    await weekly_client(bot, "alex", pid, "Europe/London")
    bot.clock.set(datetime(2026, 10, 15, 17, 1, tzinfo=UTC))
    await asyncio.gather(*(bot.app.checkins.tick(bot.clock.now()) for _ in range(4)))
    await bot.app.drain()
    assert len(checkins_for(bot, "alex")) == 1


async def test_answering_a_checkin_records_it_and_asks_alliance_items(bot: Harness) -> None:
    pid = await bot.practitioner()
    await weekly_client(bot, "alex", pid, "Europe/London")
    await run_until(bot, datetime(2026, 10, 15, 17, 0, tzinfo=UTC))
    answered = REGISTRY.get_sample_value("feedback_bot_checkins_answered_total") or 0.0
    replies = await bot.presses("alex", "Nothing today")
    assert any("Take care" in r for r in replies)
    assert REGISTRY.get_sample_value("feedback_bot_checkins_answered_total") == answered + 1
    assert any("heard" in r for r in replies), "the first alliance item follows"
    await bot.says("alex", "7")
    await bot.says("alex", "skip")
    async with bot.app.sessions() as s:
        checkin = (await s.execute(select(Checkin))).scalar_one()
    assert (checkin.status, checkin.response) == ("answered", "nothing")


async def test_after_session_checkins_follow_a_weekly_series_across_dst_in_two_zones(
    bot: Harness,
) -> None:
    for who, tz in (("dr_berlin", "Europe/Berlin"), ("dr_ny", "America/New_York")):
        pid = await bot.practitioner(who, tz=tz)
        client = f"client_of_{who}"
        await bot.client(client, pid, alias="Kim")
        await bot.says(client, f"!timezone {tz}")
        # Tuesdays 17:00 local, weekly; +50 min session, +20 h → Wednesday 13:50 local.
        await bot.says(who, "!session Kim 2026-10-20 17:00 weekly")
    for day in (21, 28, 4):  # the Wednesdays after each session
        month = 10 if day > 20 else 11
        bot.clock.set(datetime(2026, month, day, 0, 0, tzinfo=UTC))
        await run_until(bot, datetime(2026, month, day, 23, 0, tzinfo=UTC))
    async with bot.app.sessions() as s:
        rows = (await s.execute(select(Checkin).order_by(Checkin.due_at))).scalars().all()
    for who, tz in (("dr_berlin", "Europe/Berlin"), ("dr_ny", "America/New_York")):
        assert len(checkins_for(bot, f"client_of_{who}")) == 3
        async with bot.app.sessions() as s:
            client_id = (
                await s.execute(
                    select(Identity.client_id).where(Identity.address == f"client_of_{who}")
                )
            ).scalar_one()
        local = [r.due_at.astimezone(ZoneInfo(tz)) for r in rows if r.client_id == client_id]
        assert [(t.weekday(), t.hour, t.minute) for t in local] == [(2, 13, 50)] * 3, local
        assert len({t.utcoffset() for t in local}) == 2, "one of the three is after the change"


async def test_a_new_checkin_lets_an_older_unanswered_one_lapse(bot: Harness) -> None:
    """One open check-in at a time: when this week's goes out, one still open from
    before (here a session's, sent that afternoon) lapses."""
    pid = await bot.practitioner()
    await weekly_client(bot, "alex", pid, "Europe/London")
    await run_until(bot, datetime(2026, 10, 15, 15, 0, tzinfo=UTC))
    afternoon = datetime(2026, 10, 15, 14, 0, tzinfo=UTC)
    async with bot.app.sessions() as s, s.begin():
        client_id = await s.scalar(select(Identity.client_id).where(Identity.address == "alex"))
        assert client_id is not None
        s.add(
            Checkin(
                client_id=client_id,
                kind="after_session",
                slot_at=afternoon,
                due_at=afternoon,
                status="sent",
                sent_at=afternoon,
                reminded=False,
                created_at=afternoon,
            )
        )
    await run_until(bot, datetime(2026, 10, 15, 18, 0, tzinfo=UTC))  # 18:00 BST is 17:00
    async with bot.app.sessions() as s:
        found = {k: v for k, v in await s.execute(select(Checkin.kind, Checkin.status))}
    assert found == {"after_session": "expired", "weekly": "sent"}
