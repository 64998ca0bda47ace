"""Weekly digests with charts for many practitioners: what ``feedback-bot digest send
--all`` does (each practitioner's digest composed, its chart drawn, queued with its HTML
file), timed end to end on one database.

    python -m bench.digests                          # 1,000 practitioners × 25 clients
    python -m bench.digests --practitioners 100 --profile
    python -m bench.digests --jobs 1 --jobs 2        # one process, then two (--jobs 2)

Every client has shared one new item this week (so every digest has a section for each
of its 25 clients) and has answered the alliance questions weekly for six weeks (so every
section has a panel in the chart). Delivering the queued digests is the dispatcher's work
and is not timed here.

With ``jobs`` > 1 the digests are drawn as ``digest send --all --jobs N`` draws them:
N processes, each with its share of the practitioners (``feedback_bot/app/digest_processes.py``),
on a database seeded afresh (a first run would have marked every item as seen). Those
processes keep the real clock, so the seeded weeks end at the wall-clock time.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import pstats
import resource
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial

from sqlalchemy import func, select, text

from bench.common import Backend, bench_settings, make_rig, pg_admin_url, pg_server_version
from bench.seed import _insert, seed_clients
from feedback_bot.app.digest_processes import send_all_in_processes
from feedback_bot.privacy.crypto import generate_key
from feedback_bot.storage.models import AllianceScore, FeedbackItem, OutboxMessage, new_uid

WORDS = [
    "The last session felt a bit rushed towards the end, and I wanted more time on work.",
    "I liked that we started with the breathing exercise. Could we do that again?",
    "When we talked about my sister I felt you understood, thank you for that.",
]


@dataclass
class DigestsResult:
    backend: str
    practitioners: int
    clients_each: int
    jobs: int = 1
    seed_s: float = 0.0
    wall_s: float = 0.0
    cpu_s: float = 0.0
    queued: int = 0
    outbox_rows: int = 0
    profile: str = ""
    progress: list[int] = field(default_factory=list)


async def run_digests(
    backend: Backend,
    *,
    practitioners: int,
    clients_each: int = 25,
    profile: bool = False,
    jobs: int = 1,
) -> DigestsResult:
    result = DigestsResult(backend.name, practitioners, clients_each, jobs)
    key = generate_key()
    async with backend.database() as url:
        rig = await make_rig(url, start=datetime.now(UTC).replace(microsecond=0), key=key)
        app = rig.app
        try:
            t0 = time.perf_counter()
            now = rig.clock.now()
            ids = await seed_clients(
                app.sessions,
                app.config,
                practitioners * clients_each,
                now=now - timedelta(weeks=7),
                per_practitioner=clients_each,
            )
            keys = [i.key for i in app.config.alliance.items]
            async with app.sessions() as session, session.begin():
                items = []
                for n, cid in enumerate(ids):
                    uid = new_uid()
                    items.append(
                        {
                            "uid": uid,
                            "client_id": cid,
                            "valence": "not_right" if n % 7 == 0 else "good",
                            "text_enc": app.vault.seal(
                                "feedback_item", "text", uid, WORDS[n % len(WORDS)]
                            ),
                            "routing": "session" if n % 2 else "fyi",
                            "status": "submitted",
                            "source": "anytime",
                            "risk": False,
                            "edit_count": 0,
                            "number": 1,
                            "created_at": now - timedelta(days=2),
                            "submitted_at": now - timedelta(days=2),
                        }
                    )
                await _insert(session, FeedbackItem, items)
                await _insert(
                    session,
                    AllianceScore,
                    [
                        {
                            "client_id": cid,
                            "item_key": key,
                            "score": (n + week + k) % 11,
                            "at": now - timedelta(weeks=week, hours=k),
                        }
                        for n, cid in enumerate(ids)
                        for week in range(6)
                        for k, key in enumerate(keys)
                    ],
                )
            async with app.sessions() as session:
                if session.get_bind().dialect.name == "postgresql":
                    # As autovacuum would have by then: the statistics seed_clients took
                    # describe empty item and score tables, and PostgreSQL then scanned
                    # all 300,000 scores and 25,000 items for each digest (EXPLAIN ANALYZE).
                    await session.execute(text("ANALYZE"))
                    await session.commit()
            result.seed_s = time.perf_counter() - t0

            def tick(done: int, total: int) -> None:
                if done % max(1, total // 10) == 0:
                    result.progress.append(done)

            profiler = cProfile.Profile(time.thread_time) if profile and jobs == 1 else None
            cpu0, t0 = _cpu_with_children(), time.perf_counter()
            if profiler is not None:
                profiler.enable()
            if jobs == 1:
                result.queued = await app.digests.send_all(tick)
            else:
                factory = partial(bench_settings, url, key)
                result.queued = await asyncio.to_thread(send_all_in_processes, factory, jobs, tick)
            if profiler is not None:
                profiler.disable()
            result.wall_s = time.perf_counter() - t0
            result.cpu_s = _cpu_with_children() - cpu0
            async with app.sessions() as session:
                result.outbox_rows = int(
                    await session.scalar(select(func.count()).select_from(OutboxMessage)) or 0
                )
            if result.queued != practitioners:
                raise RuntimeError(f"digests: {result.queued} of {practitioners} queued")
            if profiler is not None:
                out = io.StringIO()
                stats = pstats.Stats(profiler, stream=out)
                stats.sort_stats("tottime").print_stats(20)
                stats.sort_stats("cumulative").print_stats("feedback_bot", 30)
                result.profile = out.getvalue()
        finally:
            await rig.close()
    return result


def _cpu_with_children() -> float:
    # The share processes are waited for before this is read, so their CPU is in it.
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def markdown(results: list[DigestsResult]) -> str:
    names = {"sqlite": "SQLite", "postgres": "PostgreSQL"}
    first = results[0]
    lines = [
        f"{first.practitioners:,} practitioners × {first.clients_each} clients, every client "
        "with one new item and six weeks of alliance scores: `digest send --all` "
        "(composed, chart drawn, queued with the HTML file; not delivered).",
        "",
        "| | "
        + " | ".join(
            f"{names[r.backend]}, {r.jobs} process{'es' if r.jobs > 1 else ''}" for r in results
        )
        + " |",
        "| --- |" + " ---: |" * len(results),
        "| **wall time, s** | " + " | ".join(f"{r.wall_s:,.1f}" for r in results) + " |",
        "| ms per digest | "
        + " | ".join(f"{r.wall_s / r.practitioners * 1000:,.1f}" for r in results)
        + " |",
        "| CPU (all processes), s | " + " | ".join(f"{r.cpu_s:,.1f}" for r in results) + " |",
        "| digests queued | " + " | ".join(f"{r.queued:,}" for r in results) + " |",
        "| seeding (untimed), s | " + " | ".join(f"{r.seed_s:,.1f}" for r in results) + " |",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.digests")
    parser.add_argument("--practitioners", type=int, default=1000)
    parser.add_argument("--clients-each", type=int, default=25)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--postgres-url")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--jobs", type=int, action="append", help="processes (repeatable)")
    args = parser.parse_args(argv)

    async def go() -> list[DigestsResult]:
        backends = [Backend("sqlite")]
        if not args.no_postgres:
            admin = pg_admin_url(args.postgres_url)
            if await pg_server_version(admin) is not None:
                backends.append(Backend("postgres", admin))
        return [
            await run_digests(
                b,
                practitioners=args.practitioners,
                clients_each=args.clients_each,
                profile=args.profile,
                jobs=jobs,
            )
            for b in backends
            for jobs in args.jobs or [1]
        ]

    results = asyncio.run(go())
    sys.stdout.write(markdown(results))
    for r in results:
        if r.profile:
            sys.stdout.write(f"\n#### Profile, {r.backend}\n\n```\n{r.profile}```\n")


if __name__ == "__main__":
    main()
