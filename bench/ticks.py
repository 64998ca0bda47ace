"""The scheduler beat (``App.tick``: check-ins, then digests) against the number of active
clients, all on weekly check-ins (Thursdays 18:00, the practice default time).

Two kinds of tick are timed:

* **steady** — what every beat costs (``tick_seconds``, 30 s by default) when nothing is due:
  the moment after this week's check-ins went out;
* **burst** — the beat at Thursday 18:10 that sends every client's weekly check-in at once
  (jitter is at most 5 minutes, so all of them are due). Each repetition is the next week.

Clients are seeded as rows with bulk inserts (25 per practitioner, ``bench/seed.py``),
consented the week before; their stored next-due times say "look at me" (as after
migration 0009), so the first burst also computes every client's next slot. The ticks run
in a fresh process, which also reports its peak RSS.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from bench.common import Backend, Rig, make_rig, run_child
from bench.seed import seed_clients
from bench.stats import median, settle
from feedback_bot.conversation import draft_clock
from feedback_bot.privacy.crypto import generate_key
from feedback_bot.storage.models import OutboxMessage

PER_PRACTITIONER = 25
CONSENTED = datetime(2026, 11, 9, 9, 0, tzinfo=UTC)  # a week before START
# Thursday 18:10 in London (UTC in November): past every jittered due time (≤ 18:05) and
# well inside the two-hour grace, so each client's check-in is sent in this beat.
FIRST_BURST = datetime(2026, 11, 19, 18, 10, tzinfo=UTC)
BEAT = timedelta(seconds=30)


@dataclass
class TickTimes:
    total_ms: list[float] = field(default_factory=list)
    checkins_ms: list[float] = field(default_factory=list)
    drafts_ms: list[float] = field(default_factory=list)
    digests_ms: list[float] = field(default_factory=list)
    cpu_ms: list[float] = field(default_factory=list)


@dataclass
class TickPoint:
    backend: str
    clients: int
    practitioners: int
    steady: TickTimes = field(default_factory=TickTimes)
    burst: TickTimes = field(default_factory=TickTimes)
    # Memory of the probe process (KiB): RSS once the app is built, the peak RSS during the
    # burst ticks, and the tracemalloc peak of one extra, untimed, burst tick.
    built_rss_kb: int = 0
    burst_peak_kb: int = 0
    burst_traced_peak_kb: float = 0.0
    peak_reset: bool = True  # False: /proc/self/clear_refs refused, peaks are since start


async def checkins_queued(rig: Rig) -> int:
    async with rig.app.sessions() as session:
        n = await session.scalar(
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.kind == "checkin")
        )
    return int(n or 0)


async def timed_tick(rig: Rig, now: datetime, into: TickTimes) -> None:
    """``App.tick`` at ``now``, its three parts timed separately (it runs them in turn)."""
    rig.clock.set(now)
    settle()
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    await rig.app.checkins.tick(now)
    t1 = time.perf_counter()
    await draft_clock.tick(rig.app.sessions, rig.app.deps, now)
    t2 = time.perf_counter()
    await rig.app.digests.tick(now)
    t3 = time.perf_counter()
    into.cpu_ms.append((time.process_time() - cpu0) * 1000)
    into.checkins_ms.append((t1 - t0) * 1000)
    into.drafts_ms.append((t2 - t1) * 1000)
    into.digests_ms.append((t3 - t2) * 1000)
    into.total_ms.append((t3 - t0) * 1000)


@asynccontextmanager
async def seeded(backend: Backend, clients: int) -> AsyncIterator[tuple[str, str]]:
    """A database on ``backend`` holding ``clients`` consented clients, and its key; the
    seeding app is closed before the caller's process uses it."""
    key = generate_key()
    async with backend.database() as url:
        rig = await make_rig(url, key=key)
        try:
            await seed_clients(
                rig.app.sessions,
                rig.app.config,
                clients,
                now=CONSENTED,
                per_practitioner=PER_PRACTITIONER,
            )
        finally:
            await rig.close()
        yield url, key


async def run_ticks(
    backend: Backend, *, clients: int, steady_reps: int, burst_reps: int, trace: bool = True
) -> TickPoint:
    """Seed here, tick in a fresh process (``bench.probe ticks``) so its peak RSS is the
    ticks' own, not this process's seeding or earlier benchmarks."""
    async with seeded(backend, clients) as (url, key):
        args = [url, str(clients), str(steady_reps), str(burst_reps)]
        out = await run_child("bench.probe", "ticks", *args, *(["--tracemalloc"] * trace), key=key)
    point = TickPoint(backend.name, clients, -(-clients // PER_PRACTITIONER))
    point.burst = TickTimes(**out["burst"])
    point.steady = TickTimes(**out["steady"])
    point.built_rss_kb = int(out["built_rss_kb"])
    point.burst_peak_kb = int(out["burst_peak_kb"])
    point.burst_traced_peak_kb = float(out.get("burst_traced_peak_kb", 0.0))
    point.peak_reset = bool(out["reset_ok"])
    return point


def summary(point: TickPoint) -> dict[str, float | int | str]:
    """The figures a script reads (``bench.run --json``): medians, ms and per second."""
    burst_s = median(point.burst.checkins_ms) / 1000
    return {
        "backend": point.backend,
        "clients": point.clients,
        "steady_beat_ms": round(median(point.steady.total_ms), 2),
        "steady_checkins_ms": round(median(point.steady.checkins_ms), 2),
        "steady_drafts_ms": round(median(point.steady.drafts_ms), 2),
        "steady_digests_ms": round(median(point.steady.digests_ms), 2),
        "steady_cpu_ms": round(median(point.steady.cpu_ms), 2),
        "burst_checkins_per_s": round(point.clients / burst_s, 1) if burst_s else 0.0,
        "burst_checkin_tick_ms": round(median(point.burst.checkins_ms), 1),
        # CPU of the ticking process over the whole burst beat (the PostgreSQL server's
        # work is not in it; SQLite's is): steadier than wall time on a busy machine.
        "burst_cpu_ms": round(median(point.burst.cpu_ms), 1),
        "burst_beat_ms": round(median(point.burst.total_ms), 1),
        "peak_rss_mb": round(max(point.burst_peak_kb, point.built_rss_kb) / 1024, 1),
        "built_rss_mb": round(point.built_rss_kb / 1024, 1),
        "steady_runs": len(point.steady.total_ms),
        "burst_runs": len(point.burst.total_ms),
    }


async def run_naive(backend: Backend, *, clients: int) -> dict[str, Any]:
    """One APScheduler job per client (``bench.naive``), in a fresh process."""
    async with seeded(backend, clients) as (url, key):
        out = await run_child("bench.naive", url, str(clients), key=key)
    return {"backend": backend.name, "clients": clients, **out}


def naive_lines(rows: list[dict[str, Any]], points: list[TickPoint]) -> list[str]:
    """The naive design beside this run's stored-next-due figures at the same size."""
    if not rows:
        return []
    names = {"sqlite": "SQLite", "postgres": "PostgreSQL"}
    out = [
        "### 6. The naive design: one APScheduler job per client",
        "",
        "A cron job per client, all due at once (`bench/naive.py`), beside the scheduler of "
        "section 3 at the same size in this run (— where section 3 did not run that size).",
        "",
        "| | clients | adding the jobs, s | idle CPU ms/s | burst check-ins/s (sent / failed / "
        "missed) | ours: burst check-ins/s | ours / naive | peak RSS MB (ours) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        ours = next(
            (p for p in points if p.backend == r["backend"] and p.clients == r["clients"]), None
        )
        our_rate = ours.clients / (median(ours.burst.checkins_ms) / 1000) if ours else None
        naive_rate = float(r["burst_checkins_per_s"])
        our_rss = max(ours.burst_peak_kb, ours.built_rss_kb) / 1024 if ours else None
        out.append(
            f"| {names[r['backend']]} | {r['clients']:,} | {r['add_jobs_s']:.1f} | "
            f"{r['idle_cpu_ms_per_s']:.0f} | {naive_rate:.1f} ({r['executed']:,} / "
            f"{r['failed']:,} / {r['missed']:,}) | "
            + (
                f"{our_rate:.0f} | ×{our_rate / naive_rate:.1f}"
                if our_rate and naive_rate
                else "— | —"
            )
            + f" | {max(r['burst_peak_kb'], r['built_rss_kb']) / 1024:.0f}"
            + (f" ({our_rss:.0f})" if our_rss else "")
            + " |"
        )
    return [*out, ""]
