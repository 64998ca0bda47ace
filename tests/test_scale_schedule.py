"""40,000 active clients: a beat sends every due check-in exactly once, and each schedule
change moves the client's stored next-due time to the right moment, across the autumn
DST changes in Berlin (25 Oct 2026) and New York (1 Nov 2026). Not timed: speed is in
bench/ticks.py and docs/benchmarks.md.

The bulk of the clients are seeded as rows (bench/seed.py); the few whose schedules
change are onboarded and changed through the chat, the way people do it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event, func, select, text

from bench.seed import seed_clients
from feedback_bot.storage.models import Appointment, Checkin, Client, Identity, OutboxMessage
from tests.harness import Harness, make_harness
from tests.test_checkins import weekly_client

N = 40_000
ZONES = ("Europe/Berlin", "America/New_York")
MONDAY = datetime(2026, 10, 19, 9, 0, tzinfo=UTC)  # both zones still on summer time


def utc(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


# Thursdays 18:00 local in UTC: CEST is +2, CET +1; EDT is −4, EST −5.
THURSDAY_18 = {
    "Europe/Berlin": [utc(10, 22, 16), utc(10, 29, 17), utc(11, 5, 17)],
    "America/New_York": [utc(10, 22, 22), utc(10, 29, 22), utc(11, 5, 23)],
}


@pytest.fixture
async def bot(database_url: str, tmp_path: Path) -> AsyncIterator[Harness]:
    h = await make_harness(database_url, tmp_path, MONDAY)
    try:
        yield h
    finally:
        await h.close()


async def next_times_by_zone(bot: Harness) -> dict[str | None, set[datetime | None]]:
    """Every seeded client's stored next check-in time, grouped by zone (one query)."""
    async with bot.app.sessions() as s:
        rows = (
            await s.execute(
                select(Client.timezone, Client.next_checkin_at)
                .where(Client.timezone.in_(ZONES))  # the seeded ones (aliases are sealed)
                .group_by(Client.timezone, Client.next_checkin_at)
            )
        ).all()
    out: dict[str | None, set[datetime | None]] = {}
    for tz, at in rows:
        out.setdefault(tz, set()).add(at)
    return out


async def checkins_queued(bot: Harness) -> tuple[int, int]:
    """(check-ins queued, distinct chats they went to)."""
    async with bot.app.sessions() as s:
        total, chats = (
            await s.execute(
                select(func.count(), func.count(func.distinct(OutboxMessage.identity_id))).where(
                    OutboxMessage.kind == "checkin"
                )
            )
        ).one()
    return int(total), int(chats)


async def next_checkin(bot: Harness, who: str) -> datetime | None:
    async with bot.app.sessions() as s:
        return (
            await s.execute(
                select(Client.next_checkin_at)
                .join(Identity, Identity.client_id == Client.id)
                .where(Identity.address == who)
            )
        ).scalar_one()


async def beat_at(bot: Harness, when: datetime) -> None:
    """Two beats at the same moment: the second must find nothing left to send."""
    bot.clock.set(when)
    await bot.app.tick()
    await bot.app.tick()


async def test_40000_clients_get_each_weekly_checkin_once_across_dst_in_two_zones(
    bot: Harness,
) -> None:
    await seed_clients(bot.app.sessions, bot.app.config, N, now=MONDAY, timezones=ZONES)
    half = N // len(ZONES)

    # The first beat computes every seeded client's next slot: Thursday 18:00 local.
    await bot.app.tick()
    assert await next_times_by_zone(bot) == {tz: {THURSDAY_18[tz][0]} for tz in ZONES}
    assert await checkins_queued(bot) == (0, 0)

    for week in range(2):  # Thursdays 22 Oct (summer time) and 29 Oct (Berlin in winter)
        berlin, new_york = THURSDAY_18["Europe/Berlin"][week], THURSDAY_18["America/New_York"][week]
        await beat_at(bot, berlin.replace(minute=10))  # jitter is at most 5 minutes
        assert await checkins_queued(bot) == (half + week * N, half if week == 0 else N)
        await beat_at(bot, new_york.replace(minute=10))
        assert await checkins_queued(bot) == ((week + 1) * N, N)
        assert await next_times_by_zone(bot) == {tz: {THURSDAY_18[tz][week + 1]} for tz in ZONES}


async def test_schedule_changes_move_the_next_due_time_among_40000_clients(bot: Harness) -> None:
    await seed_clients(bot.app.sessions, bot.app.config, N, now=MONDAY, timezones=ZONES)
    pid = await bot.practitioner()
    for who in ("mover", "pauser", "switcher"):
        await weekly_client(bot, who, pid, "Europe/Berlin")
        assert await next_checkin(bot, who) == THURSDAY_18["Europe/Berlin"][0]

    # Time zone: Thursday 18:00 in New York instead.
    await bot.says("mover", "!timezone America/New_York")
    assert await next_checkin(bot, "mover") == THURSDAY_18["America/New_York"][0]

    # Pause: nothing is due; resume: the next Thursday again.
    await bot.says("pauser", "!pause")
    assert await next_checkin(bot, "pauser") is None
    await bot.says("pauser", "!resume")
    assert await next_checkin(bot, "pauser") == THURSDAY_18["Europe/Berlin"][0]

    # Cadence: after each session, and no session yet: nothing is due until one is set.
    await bot.says("switcher", "!checkins")
    await bot.presses("switcher", "After each session")
    assert await next_checkin(bot, "switcher") is None
    # Tuesday 27 Oct 10:00 in London (after the European change: GMT): the session ends
    # 10:50, and the check-in slot is 20 hours later.
    await bot.says("dr", "!session Switcher 2026-10-27 10:00")
    assert await next_checkin(bot, "switcher") == utc(10, 28, 6, 50)
    async with bot.app.sessions() as s:
        appt = (await s.execute(select(Appointment))).scalar_one()
    assert appt.next_digest_at == utc(10, 26, 10), "the pre-session digest 24 hours before"

    # The 22 Oct bursts (no chat from here on: a chat turn would deliver the whole burst).
    await bot.app.tick()
    await beat_at(bot, THURSDAY_18["Europe/Berlin"][0].replace(minute=10))
    await beat_at(bot, THURSDAY_18["America/New_York"][0].replace(minute=10))
    assert await checkins_queued(bot) == (N + 2, N + 2), "the seeded clients, mover, pauser"
    assert await next_checkin(bot, "mover") == THURSDAY_18["America/New_York"][1]
    assert await next_checkin(bot, "pauser") == THURSDAY_18["Europe/Berlin"][1], "winter time"
    assert await next_checkin(bot, "switcher") == utc(10, 28, 6, 50)

    # The session's week: its digest goes out the day before, the check-in the next
    # morning once quiet hours end (06:50 UTC is 07:50 in Berlin, inside 21:00–08:00).
    await beat_at(bot, utc(10, 26, 10, 1))
    async with bot.app.sessions() as s:
        appt = (await s.execute(select(Appointment))).scalar_one()
    assert appt.next_digest_at is None, "a one-off session: no digest to come"
    await beat_at(bot, utc(10, 28, 8, 1))
    assert await next_checkin(bot, "switcher") is None, "a one-off session: nothing more"
    async with bot.app.sessions() as s:
        [(kind, status, due)] = (
            await s.execute(
                select(Checkin.kind, Checkin.status, Checkin.due_at)
                .join(Identity, Identity.client_id == Checkin.client_id)
                .where(Identity.address == "switcher")
            )
        ).all()
    assert (kind, status) == ("after_session", "sent")
    assert time(8, 0) <= due.astimezone(ZoneInfo("Europe/Berlin")).time() <= time(8, 5)  # jitter


async def test_a_steady_beat_is_the_same_few_queries_for_any_number_of_clients(
    bot: Harness,
) -> None:
    """What a beat costs when nothing is due: the same handful of statements for 200
    clients as for 4,000, none of them binding more values than a batch."""
    statements: list[int] = []  # bound values per statement

    def count(conn: object, cursor: object, sql: str, params: object, *args: object) -> None:
        statements.append(len(params) if isinstance(params, (tuple, list, dict)) else 0)

    costs = []
    for n in (200, 3800):
        await seed_clients(
            bot.app.sessions, bot.app.config, n, now=bot.clock.now(), prefix=f"c{n}-"
        )
        await bot.app.tick()  # plans the new clients: Thursday, nothing due now
        event.listen(bot.app.engine.sync_engine, "before_cursor_execute", count)
        try:
            statements.clear()
            await bot.app.tick()
        finally:
            event.remove(bot.app.engine.sync_engine, "before_cursor_execute", count)
        costs.append(len(statements))
        assert max(statements) <= 10
    assert costs[0] == costs[1] <= 8, costs


async def test_a_steady_beat_reads_indexes_even_with_statistics_from_before_the_burst(
    bot: Harness,
) -> None:
    """Statistics taken while every client was due (right after a migration or a bulk
    import, until the next ANALYZE) must not turn the beat that finds nothing into a scan
    of every client or check-in: each of its reads finds its answer in an index."""
    await seed_clients(bot.app.sessions, bot.app.config, 4000, now=bot.clock.now())
    async with bot.app.sessions() as s:
        await s.execute(text("ANALYZE"))  # every client due now, as far as the planner knows
        await s.commit()
    # Thursday 18:10 in London (summer time): every weekly check-in goes out.
    await beat_at(bot, utc(10, 22, 17, 10))
    assert await checkins_queued(bot) == (4000, 4000)
    bot.clock.set(utc(10, 22, 17, 11))

    reads: list[tuple[str, Any]] = []

    def keep(conn: object, cursor: object, sql: str, params: Any, *args: object) -> None:
        if sql.lstrip().upper().startswith("SELECT"):
            reads.append((sql, params))

    event.listen(bot.app.engine.sync_engine, "before_cursor_execute", keep)
    try:
        await bot.app.tick()
    finally:
        event.remove(bot.app.engine.sync_engine, "before_cursor_execute", keep)
    assert reads
    postgres = bot.app.engine.dialect.name == "postgresql"
    async with bot.app.engine.connect() as conn:
        for sql, params in reads:
            explain = "EXPLAIN " if postgres else "EXPLAIN QUERY PLAN "
            rows = (await conn.exec_driver_sql(explain + sql, params)).all()
            plan = "\n".join(str(r[-1]) for r in rows)
            for table in ("client", "checkin"):
                scan = f"Seq Scan on {table} " if postgres else f"SCAN {table}"
                assert scan not in plan + " ", f"{sql}\n{plan}"
