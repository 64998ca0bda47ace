"""Run every benchmark on SQLite and PostgreSQL and write ``docs/benchmarks.md``.

    python -m bench.run              # the full run (about 6 minutes on 2 busy cores)
    python -m bench.run --quick      # smaller sizes, fewer repetitions
    python -m bench.run --only ticks --output -    # one section, markdown to stdout
    python -m bench.run --only ticks --clients 100000 --json   # one JSON object

PostgreSQL: ``--postgres-url`` or ``FEEDBACK_BOT_BENCH_POSTGRES_URL`` (default
``postgresql+asyncpg://postgres@127.0.0.1:5432/test``); each scenario gets a fresh database
there, dropped afterwards. Without a reachable server (or with ``--no-postgres``) only
SQLite is measured, and the report says so.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sqlite3
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

from bench.adapters import overhead_lines, run_telegram_overhead
from bench.adapters_matrix import MatrixUnavailable, run_matrix_overhead
from bench.common import REPO, Backend, pg_admin_url, pg_server_version
from bench.digests import markdown as digests_markdown
from bench.digests import run_digests
from bench.dispatch import run_dispatch
from bench.inbound import run_inbound
from bench.memory import run_build_memory, run_crypto
from bench.outbound import run_outbound
from bench.report import Results, render, write
from bench.ticks import naive_lines, run_naive, run_ticks, summary


@dataclass(frozen=True)
class Sizes:
    inbound_clients: int
    inbound_via_chat: int  # of those, onboarded through the chat; the rest seeded as rows
    inbound_reps: int
    messages: int
    chats: int
    dispatch_reps: int
    pacing_messages: int
    pacing_chats: int
    ticks: tuple[tuple[int, int, int], ...]  # (clients, steady ticks, burst ticks)
    trace_max_clients: int  # tracemalloc (an extra, ~2.5× slower burst) up to this size
    crypto_loops: int  # calls per sample: short samples, many of them, so that the median
    crypto_reps: int  # drops the ones a busy machine preempted
    naive_clients: int  # one APScheduler job per client, for comparison
    overhead_updates: int  # adapter overhead: updates per round
    overhead_rounds: int
    # Outbound against Telegram's limits: real worker processes, wall time (PostgreSQL)
    outbound_messages: int = 1000
    outbound_chats: int = 300
    outbound_reps: int = 1
    # Weekly digests with charts: practitioners × 25 clients, one process and two
    digest_practitioners: int = 1000


FULL = Sizes(
    inbound_clients=40,
    inbound_via_chat=8,
    inbound_reps=5,
    messages=1000,
    chats=100,
    dispatch_reps=3,
    pacing_messages=100,
    pacing_chats=10,
    ticks=((1000, 5, 3), (10_000, 5, 2), (100_000, 5, 2)),
    trace_max_clients=100,
    crypto_loops=300,
    crypto_reps=21,
    naive_clients=10_000,
    overhead_updates=30,
    overhead_rounds=3,
)
QUICK = Sizes(
    inbound_clients=20,
    inbound_via_chat=4,
    inbound_reps=3,
    messages=200,
    chats=20,
    dispatch_reps=3,
    pacing_messages=50,
    pacing_chats=10,
    ticks=((100, 3, 3), (1000, 3, 3)),
    trace_max_clients=100,
    crypto_loops=200,
    crypto_reps=9,
    naive_clients=1000,
    overhead_updates=10,
    overhead_rounds=2,
    outbound_messages=300,
    outbound_chats=100,
    digest_practitioners=100,
)


def _log(msg: str, t0: float) -> None:
    sys.stderr.write(f"[{time.perf_counter() - t0:6.1f}s] {msg}\n")
    sys.stderr.flush()


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _mem_total() -> str:
    try:
        with open("/proc/meminfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("MemTotal:"):
                    return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return "unknown"


def _git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "feedback_bot", "adapters"],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    changed = " (the working tree differs from it)" if dirty.stdout.strip() else ""
    return out.stdout.strip() + changed


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f}"


def machine(pg_version: str | None) -> dict[str, str]:
    return {
        "date (UTC)": datetime.now(UTC).strftime("%Y-%m-%d %H:%M"),
        "code measured": f"`{_git_commit()}`",
        "CPU": f"{os.cpu_count()} × {_cpu_model()} (`nproc` = {os.cpu_count()})",
        "memory": _mem_total(),
        "OS": platform.platform(),
        "Python": platform.python_version(),
        "SQLite": f"{sqlite3.sqlite_version} (aiosqlite {version('aiosqlite')}), WAL, "
        "synchronous=NORMAL",
        "PostgreSQL": (
            f"{pg_version} (asyncpg {version('asyncpg')}), same machine, default settings"
            if pg_version
            else "not measured"
        ),
        "SQLAlchemy / cryptography": f"{version('sqlalchemy')} / {version('cryptography')}",
        "load average (1/5/15 min) at start": _load(),
    }


@dataclass
class Context:
    """What every benchmark gets: where to run, how big, and where its results go."""

    args: argparse.Namespace
    sizes: Sizes
    backends: list[Backend]
    results: Results
    log: Callable[[str], None]


async def _memory(ctx: Context) -> None:
    ctx.log("encryption")
    ctx.results.crypto = run_crypto(loops=ctx.sizes.crypto_loops, reps=ctx.sizes.crypto_reps)
    ctx.results.crypto_loops = ctx.sizes.crypto_loops
    for b in ctx.backends:
        ctx.log(f"{b.name}: building the app (memory)")
        ctx.results.build.append(await run_build_memory(b))


async def _inbound(ctx: Context) -> None:
    s = ctx.sizes
    for b in ctx.backends:
        ctx.log(f"{b.name}: inbound")
        ctx.results.inbound.append(
            await run_inbound(
                b, clients=s.inbound_clients, via_chat=s.inbound_via_chat, reps=s.inbound_reps
            )
        )


async def _dispatch(ctx: Context) -> None:
    s = ctx.sizes
    for b in ctx.backends:
        ctx.log(f"{b.name}: dispatcher")
        ctx.results.dispatch.append(
            await run_dispatch(
                b,
                messages=s.messages,
                chats=s.chats,
                reps=s.dispatch_reps,
                pacing_messages=s.pacing_messages,
                pacing_chats=s.pacing_chats,
            )
        )


async def _ticks(ctx: Context) -> None:
    a, s = ctx.args, ctx.sizes
    tick_sizes = ((a.clients, 5, a.burst_runs),) if a.clients else s.ticks
    for b in ctx.backends:
        for n, steady, burst in tick_sizes:
            ctx.log(f"{b.name}: ticks, {n} clients")
            ctx.results.ticks.append(
                await run_ticks(
                    b,
                    clients=n,
                    steady_reps=steady,
                    burst_reps=burst,
                    trace=n <= s.trace_max_clients,
                )
            )


async def _naive(ctx: Context) -> None:
    rows = []
    for b in ctx.backends:
        ctx.log(f"{b.name}: naive design, {ctx.sizes.naive_clients} clients")
        rows.append(await run_naive(b, clients=ctx.sizes.naive_clients))
    ctx.results.sections["naive"] = naive_lines(rows, ctx.results.ticks)


async def _adapters(ctx: Context) -> None:
    s = ctx.sizes
    found = []
    for b in ctx.backends[:1]:  # the database is not what this compares
        ctx.log(f"{b.name}: adapter overhead, Telegram")
        found.append(
            await run_telegram_overhead(b, updates=s.overhead_updates, rounds=s.overhead_rounds)
        )
        ctx.log(f"{b.name}: adapter overhead, Matrix")
        try:
            found.append(
                await run_matrix_overhead(b, updates=s.overhead_updates, rounds=s.overhead_rounds)
            )
        except MatrixUnavailable as exc:
            ctx.log(f"Matrix not measured: {str(exc).splitlines()[0]}")
    ctx.results.sections["adapters"] = overhead_lines(found)


async def _outbound(ctx: Context) -> None:
    s = ctx.sizes
    for b in ctx.backends:
        if b.name != "postgres":
            continue  # several worker processes need PostgreSQL
        ctx.results.outbound.append(
            await run_outbound(
                b,
                messages=s.outbound_messages,
                chats=s.outbound_chats,
                reps=s.outbound_reps,
                log=ctx.log,
            )
        )


async def _digests(ctx: Context) -> None:
    found = []
    for b in ctx.backends:
        for jobs in (1, 2):
            ctx.log(f"{b.name}: digests, {ctx.sizes.digest_practitioners} × 25, {jobs} process(es)")
            found.append(
                await run_digests(b, practitioners=ctx.sizes.digest_practitioners, jobs=jobs)
            )
    ctx.results.sections["digests"] = [
        "### 7. Weekly digests with charts (`digest send --all`, one process and `--jobs 2`)",
        "",
        *digests_markdown(found).splitlines(),
        "",
    ]


# Every benchmark, in report order: one line each (`--only NAME` runs one). A benchmark
# fills ``ctx.results``: a typed list that report.py renders, or markdown lines of its
# own in ``ctx.results.sections[NAME]``.
BENCHMARKS: dict[str, Callable[[Context], Awaitable[None]]] = {
    "memory": _memory,
    "inbound": _inbound,
    "dispatch": _dispatch,
    "ticks": _ticks,
    "adapters": _adapters,
    "naive": _naive,
    "outbound": _outbound,
    "digests": _digests,
}
SECTIONS = tuple(BENCHMARKS)


async def main_async(args: argparse.Namespace) -> Results:
    t0 = time.perf_counter()
    sizes = QUICK if args.quick else FULL
    backends = [] if args.no_sqlite else [Backend("sqlite")]
    pg_version = None
    notes: list[str] = []
    if not args.no_postgres:
        admin = pg_admin_url(args.postgres_url)
        pg_version = await pg_server_version(admin)
        if pg_version is None:
            notes.append("PostgreSQL was not reachable, so only SQLite was measured.")
            _log("PostgreSQL not reachable: SQLite only", t0)
        else:
            backends.append(Backend("postgres", admin))
    else:
        notes.append("PostgreSQL was skipped (`--no-postgres`).")
    results = Results(mode="quick" if args.quick else "full", machine=machine(pg_version))
    results.notes = notes
    ctx = Context(args, sizes, backends, results, lambda msg: _log(msg, t0))
    for name, bench in BENCHMARKS.items():
        if args.only and name not in args.only:
            continue
        mark = time.perf_counter()
        await bench(ctx)
        results.section_s[name] = time.perf_counter() - mark
    if not all(m.peak_reset for m in results.build) or not all(p.peak_reset for p in results.ticks):
        notes.append(
            "/proc/self/clear_refs was refused, so peak RSS figures are peaks since the "
            "process started, not per stage."
        )
    results.machine["load average (1/5/15 min) at end"] = _load()
    results.elapsed_s = time.perf_counter() - t0
    _log("done", t0)
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        default=bool(os.environ.get("BENCH_QUICK")),
        help="smaller sizes, fewer repetitions (also BENCH_QUICK=1): a few minutes",
    )
    parser.add_argument("--no-postgres", action="store_true", help="measure SQLite only")
    parser.add_argument("--no-sqlite", action="store_true", help="measure PostgreSQL only")
    parser.add_argument("--postgres-url", help="server for the per-run PostgreSQL databases")
    parser.add_argument("--only", action="append", choices=SECTIONS, help="run only this section")
    parser.add_argument(
        "--output",
        help="where to write the results: a markdown file whose generated part is replaced, "
        "or - for stdout (default: docs/benchmarks.md; stdout with --only)",
    )
    parser.add_argument("--clients", type=int, help="ticks: only this many clients")
    parser.add_argument("--burst-runs", type=int, default=2, help="with --clients: burst ticks")
    parser.add_argument(
        "--json", action="store_true", help="print one JSON object (the ticks' figures)"
    )
    args = parser.parse_args(argv)
    if args.json:
        results = asyncio.run(main_async(args))
        out = {"machine": results.machine, "ticks": [summary(p) for p in results.ticks]}
        sys.stdout.write(json.dumps(out) + "\n")
        return
    output = args.output or ("-" if args.only else str(REPO / "docs" / "benchmarks.md"))
    results = asyncio.run(main_async(args))
    if output == "-":
        sys.stdout.write(render(results))
    else:
        write(Path(output), results)
        sys.stderr.write(f"results written to {output}\n")


if __name__ == "__main__":
    main()
