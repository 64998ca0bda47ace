"""Inbound: free-text feedback from linked, consenting clients, end to end.

Each repetition: every client sends one free-text message through ``app.receive`` (the
sink an adapter calls; it returns once the event is committed to the inbox), then
``process_inbox`` turns each into a draft and a question, and the dispatcher delivers the
questions. Between repetitions the conversations are put back to idle (untimed), so every
repetition does the same work.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from bench.common import (
    Backend,
    make_rig,
    onboard_via_chat,
    reset_conversations,
    seed_clients_direct,
)
from bench.stats import settle

TEXTS = [
    "The last session felt a bit rushed towards the end, and I wanted more time on work.",
    "I liked that we started with the breathing exercise. Could we do that again next week?",
    "When we talked about my sister I felt you understood, thank you for that.",
    "I am not sure the homework sheet makes sense to me, it felt like a lot this week.",
    "Could we meet a little earlier in the day? Evenings are hard with the kids at home.",
]


@dataclass
class InboundResult:
    backend: str
    clients: int
    via_chat: int
    reps: int
    onboard_s_per_client: float = 0.0  # invite + !start + "I agree" + alerts, through the app
    eps: list[float] = field(default_factory=list)  # end to end, per repetition
    receive_s: list[float] = field(default_factory=list)
    process_s: list[float] = field(default_factory=list)
    dispatch_s: list[float] = field(default_factory=list)
    cpu_s: list[float] = field(default_factory=list)  # this process's CPU, per repetition
    commit_ms: list[float] = field(default_factory=list)  # every event's inbox commit


async def run_inbound(backend: Backend, *, clients: int, via_chat: int, reps: int) -> InboundResult:
    result = InboundResult(backend.name, clients, via_chat, reps)
    async with backend.database() as url:
        rig = await make_rig(url)
        try:
            t0 = time.perf_counter()
            addresses = await onboard_via_chat(rig, via_chat)
            result.onboard_s_per_client = (time.perf_counter() - t0) / max(1, via_chat)
            addresses += await seed_clients_direct(rig, clients - via_chat, first=via_chat)
            for rep in range(reps):
                # A minute apart on the app's clock, as people typing would be: the inbound
                # flood throttle (per chat per minute) must never be what is measured.
                rig.clock.advance(minutes=1)
                await reset_conversations(rig)
                events = [
                    rig.console.event_for(a, TEXTS[(i + rep) % len(TEXTS)])
                    for i, a in enumerate(addresses)
                ]
                before = len(rig.delivered)
                settle()
                cpu0 = time.process_time()
                t0 = time.perf_counter()
                for event in events:
                    t = time.perf_counter()
                    await rig.app.receive(event)
                    result.commit_ms.append((time.perf_counter() - t) * 1000)
                t1 = time.perf_counter()
                processed = 0
                while step := await rig.app.process_inbox():
                    processed += step
                t2 = time.perf_counter()
                sent = await rig.app.dispatcher.drain()
                t3 = time.perf_counter()
                cpu = time.process_time() - cpu0
                # One question back per event, nothing else (no safety path, no errors).
                if processed != len(events) or sent != len(events):
                    raise RuntimeError(
                        f"inbound: {len(events)} events, {processed} processed, {sent} sent"
                    )
                if len(rig.delivered) - before != len(events):
                    raise RuntimeError("inbound: the console did not get one reply per event")
                result.receive_s.append(t1 - t0)
                result.process_s.append(t2 - t1)
                result.dispatch_s.append(t3 - t2)
                result.eps.append(len(events) / (t3 - t0))
                result.cpu_s.append(cpu)
        finally:
            await rig.close()
    return result


# -- many chats at once, through the app's own loop -------------------------------------


@dataclass
class ConcurrentResult:
    """Free-text events from many chats in flight at once, handled by the app's own inbox
    loop (``App._process_loop``: process, then deliver) while more arrive."""

    backend: str
    events: int  # per repetition: each from an idle client, so each is the same work
    chats: int  # conversations in flight at once
    reps: int
    eps: list[float] = field(default_factory=list)  # first receive → last reply delivered
    cpu_ms: list[float] = field(default_factory=list)  # this process's CPU per event
    statements: list[float] = field(default_factory=list)  # per event, every engine
    commit_ms: list[float] = field(default_factory=list)  # every event's inbox commit
    profile: str = ""  # top functions of one repetition (``--profile``)


async def run_concurrent(
    backend: Backend,
    *,
    events: int,
    chats: int,
    reps: int,
    profile: bool = False,
    limit_s: float = 600,
) -> ConcurrentResult:
    """``chats`` workers; each sends a free text for the next idle client, waits for the
    bot's question to be delivered, then takes the next client, until ``events`` have
    been answered. The app's inbox loop runs as it does in ``feedback-bot run``."""
    import asyncio
    import contextlib
    import cProfile
    import io
    import pstats
    from collections import deque

    from sqlalchemy import event as sa_event

    from adapters.console import ConsoleAdapter
    from bench.common import UNPACED
    from feedback_bot.ports import OutgoingMessage

    result = ConcurrentResult(backend.name, events, chats, reps)
    async with backend.database() as url:
        rig = await make_rig(url)
        try:
            addresses = await seed_clients_direct(rig, events)
            answered: dict[str, asyncio.Event] = {}

            def delivered(message: OutgoingMessage) -> None:
                waiting = answered.get(message.address)
                if waiting is not None:
                    waiting.set()

            console = ConsoleAdapter(output=delivered)
            await console.start(rig.app.receive)
            rig.console = console
            rig.set_rate_limit(UNPACED)
            statements = [0]

            def count(*_args: object) -> None:
                statements[0] += 1

            engines = {rig.app.engine.sync_engine}
            if rig.app.inbox._sessions.kw.get("bind") is not None:
                engines.add(rig.app.inbox._sessions.kw["bind"].sync_engine)
            for engine in engines:
                sa_event.listen(engine, "before_cursor_execute", count)
            for rep in range(reps):
                rig.clock.advance(minutes=1)
                await reset_conversations(rig)
                answered.clear()
                todo = deque(addresses)
                commits: list[float] = []

                async def chat(todo: deque[str], commits: list[float], rep: int) -> None:
                    while todo:
                        address = todo.popleft()
                        answered[address] = done = asyncio.Event()
                        message = TEXTS[(len(todo) + rep) % len(TEXTS)]
                        ev = console.event_for(address, message)
                        t = time.perf_counter()
                        await rig.app.receive(ev)
                        commits.append((time.perf_counter() - t) * 1000)
                        await done.wait()

                settle()
                last = profile and rep == reps - 1
                profiler = cProfile.Profile(time.thread_time) if last else None
                statements[0] = 0
                loop = asyncio.create_task(rig.app._process_loop())
                if profiler is not None:
                    profiler.enable()
                cpu0, t0 = time.process_time(), time.perf_counter()
                workers = [chat(todo, commits, rep) for _ in range(chats)]
                await asyncio.wait_for(asyncio.gather(*workers), limit_s)
                elapsed, cpu = time.perf_counter() - t0, time.process_time() - cpu0
                if profiler is not None:
                    profiler.disable()
                # As App.stop does: not in the middle of a delivery (the last reply may
                # be out but not yet marked sent; cancelled there it would stay "sending"
                # and hold its chat's next reply).
                async with rig.app._dispatch_lock:
                    loop.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await loop
                result.eps.append(events / elapsed)
                result.cpu_ms.append(cpu / events * 1000)
                result.statements.append(statements[0] / events)
                result.commit_ms += commits
                if profiler is not None:
                    out = io.StringIO()
                    stats = pstats.Stats(profiler, stream=out)
                    stats.sort_stats("tottime").print_stats(25)
                    stats.sort_stats("cumulative").print_stats("feedback_bot|adapters", 40)
                    result.profile = out.getvalue()
        finally:
            await rig.close()
    return result


def concurrent_markdown(results: list[ConcurrentResult]) -> str:
    from bench.stats import fmt, median, percentile, spread

    names = {"sqlite": "SQLite", "postgres": "PostgreSQL"}
    first = results[0]
    lines = [
        f"{first.events} free-text events per repetition from {first.chats} chats in flight at "
        f"once (each sends for an idle client, waits for the question, takes the next); "
        f"the app's own inbox loop; median of {first.reps} repetitions.",
        "",
        "| | " + " | ".join(names[r.backend] for r in results) + " |",
        "| --- |" + " ---: |" * len(results),
    ]

    def row(label: str, cells: list[str]) -> None:
        lines.append(f"| {label} | " + " | ".join(cells) + " |")

    row("**events/s end to end** (median)", [fmt(median(r.eps)) for r in results])
    row("— range over repetitions", [spread(r.eps) for r in results])
    row("CPU of this process, ms/event", [fmt(median(r.cpu_ms), 2) for r in results])
    row("SQL statements per event", [fmt(median(r.statements), 1) for r in results])
    row("**inbox commit p50, ms**", [fmt(percentile(r.commit_ms, 50), 2) for r in results])
    row("inbox commit p95, ms", [fmt(percentile(r.commit_ms, 95), 2) for r in results])
    row("**inbox commit p99, ms**", [fmt(percentile(r.commit_ms, 99), 2) for r in results])
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    """``python -m bench.inbound``: the concurrent inbound benchmark, markdown to stdout."""
    import argparse
    import asyncio
    import sys

    from bench.common import pg_admin_url, pg_server_version

    parser = argparse.ArgumentParser(prog="python -m bench.inbound")
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--chats", type=int, default=100)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--postgres-url")
    parser.add_argument("--profile", action="store_true", help="cProfile the last repetition")
    args = parser.parse_args(argv)

    async def go() -> list[ConcurrentResult]:
        backends = [Backend("sqlite")]
        if not args.no_postgres:
            admin = pg_admin_url(args.postgres_url)
            if await pg_server_version(admin) is not None:
                backends.append(Backend("postgres", admin))
        return [
            await run_concurrent(
                b, events=args.events, chats=args.chats, reps=args.reps, profile=args.profile
            )
            for b in backends
        ]

    results = asyncio.run(go())
    sys.stdout.write(concurrent_markdown(results))
    for r in results:
        if r.profile:
            sys.stdout.write(f"\n#### Profile, {r.backend}\n\n```\n{r.profile}```\n")


if __name__ == "__main__":
    main()
