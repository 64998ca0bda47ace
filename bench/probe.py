"""Measurements that need a fresh process, so memory figures belong to them alone.

* ``python -m bench.probe build DATABASE_URL [--tracemalloc]`` imports the app in stages
  and builds it;
* ``python -m bench.probe ticks DATABASE_URL CLIENTS STEADY BURST [--tracemalloc]`` runs
  the scheduler ticks of :mod:`bench.ticks` on a database the parent already seeded.

The encryption key comes in ``FEEDBACK_BOT_BENCH_KEY``. One JSON object goes to stdout.

Peak RSS is read from ``VmHWM`` in ``/proc/self/status`` and reset through
``/proc/self/clear_refs`` before each stage, so each stage reports its own peak.
(``getrusage().ru_maxrss`` is no use here: Linux carries it across ``execve``, so a child
of a large parent reports the parent's size.) tracemalloc slows Python down ~2.5×, so it
never runs during a timed section or an RSS reading: ``--tracemalloc`` adds one more,
untimed, burst tick at the end, and to ``build`` it means a separate, traced run.

Only the standard library is imported at module level: ``build`` measures the imports.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
import tracemalloc
from typing import Any


def _status_kb(field: str) -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def rss_kb() -> int:
    return _status_kb("VmRSS")


def peak_kb() -> int:
    return _status_kb("VmHWM")


def reset_peak() -> bool:
    """Start a new high-water mark at the current RSS (Linux ≥ 4.0)."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as refs:
            refs.write("5")
    except OSError:
        return False
    return True


async def build(url: str, trace: bool) -> dict[str, Any]:
    """Import in stages and build the app: RSS, or (``trace``) the tracemalloc peak of the
    build, never both in one process (tracing costs memory of its own)."""
    out: dict[str, Any] = {"bare_rss_kb": rss_kb()}
    t0 = time.perf_counter()
    # What digest/chart.py pulls in at import time, measured on its own first.
    import matplotlib.backends.backend_agg  # noqa: F401
    import matplotlib.figure  # noqa: F401

    out["matplotlib_rss_kb"] = rss_kb()
    from bench.common import KEY_ENV, make_rig

    out["imports_s"] = time.perf_counter() - t0
    out["imports_rss_kb"] = rss_kb()
    out["reset_ok"] = reset_peak()
    if trace:
        tracemalloc.start()
    t0 = time.perf_counter()
    rig = await make_rig(url, key=os.environ[KEY_ENV])
    out["build_s"] = time.perf_counter() - t0
    out["build_peak_kb"] = peak_kb()
    out["built_rss_kb"] = rss_kb()
    if trace:
        out["build_traced_peak_kb"] = tracemalloc.get_traced_memory()[1] / 1024
        tracemalloc.stop()
    await rig.close()
    return out


async def ticks(url: str, clients: int, steady: int, burst: int, trace: bool) -> dict[str, Any]:
    from datetime import timedelta

    from bench.common import KEY_ENV, make_rig
    from bench.ticks import BEAT, FIRST_BURST, TickTimes, checkins_queued, timed_tick

    rig = await make_rig(url, key=os.environ[KEY_ENV])
    out: dict[str, Any] = {"built_rss_kb": rss_kb(), "reset_ok": reset_peak()}
    bursts, steadies = TickTimes(), TickTimes()
    try:
        at = FIRST_BURST
        for week in range(burst):
            at = FIRST_BURST + timedelta(weeks=week)
            before = await checkins_queued(rig)
            await timed_tick(rig, at, bursts)
            sent = await checkins_queued(rig) - before
            if sent != clients:
                raise RuntimeError(f"burst tick queued {sent} check-ins for {clients}")
        out["burst_peak_kb"] = peak_kb()
        before = await checkins_queued(rig)
        for beat in range(1, steady + 1):
            await timed_tick(rig, at + beat * BEAT, steadies)
        if await checkins_queued(rig) != before:
            raise RuntimeError("a steady tick sent check-ins")
        if trace:
            now = FIRST_BURST + timedelta(weeks=burst)
            rig.clock.set(now)
            tracemalloc.start()
            await rig.app.tick()
            out["burst_traced_peak_kb"] = tracemalloc.get_traced_memory()[1] / 1024
            tracemalloc.stop()
    finally:
        await rig.close()
    out["burst"] = bursts.__dict__
    out["steady"] = steadies.__dict__
    return out


def main(argv: list[str]) -> None:
    trace = "--tracemalloc" in argv
    args = [a for a in argv if a != "--tracemalloc"]
    if args[0] == "build":
        result = asyncio.run(build(args[1], trace))
    elif args[0] == "ticks":
        clients, steady, burst = (int(a) for a in args[2:5])
        result = asyncio.run(ticks(args[1], clients, steady, burst, trace))
    else:
        raise SystemExit(f"unknown probe {args[0]!r}")
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
