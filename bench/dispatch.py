"""Outbound: draining a queue of outbox messages through the console adapter.

* throughput with pacing out of the way (a very high :class:`RateLimit`);
* pacing at 1 message per second per chat, on the fake clock: the queue should take about
  as many simulated seconds as each chat has messages, and no chat gets two within a second;
* PostgreSQL only: one dispatcher against two worker processes sharing the queue
  (``FOR UPDATE SKIP LOCKED``), as two bot instances would.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bench.common import (
    REPO,
    START,
    UNPACED,
    Backend,
    Rig,
    child_env,
    clear_outbox,
    make_rig,
    reset_pacing,
)
from bench.stats import settle
from feedback_bot.delivery.outbox import Delivery, enqueue
from feedback_bot.ports import Choice, RateLimit
from feedback_bot.privacy.crypto import generate_key

# A check-in-sized message: a few sentences and four choices (rendered as a numbered list,
# since the console has no buttons).
TEXT = (
    "How are you feeling about our work together since the last session? There are no "
    "right or wrong answers, and you can skip this. Reply with !pause to pause check-ins."
)
CHOICES = tuple(
    Choice(id=f"c1.{k}", label=label)
    for k, label in [("ok", "Good"), ("mixed", "Mixed"), ("no", "Not great"), ("later", "Later")]
)


async def enqueue_messages(rig: Rig, messages: int, chats: int) -> None:
    """Round-robin over the chats, as a burst of check-ins would be queued."""
    now = rig.clock.now()
    async with rig.app.sessions() as session, session.begin():
        for i in range(messages):
            enqueue(
                session,
                rig.app.vault,
                platform="console",
                address=f"chat-{i % chats}",
                text=TEXT,
                choices=CHOICES,
                kind="checkin",
                delivery=Delivery.AT_MOST_ONCE,
                now=now,
            )


@dataclass
class PacingResult:
    messages: int
    chats: int
    simulated_s: float
    wall_s: float
    min_gap_s: float  # smallest gap between two messages to the same chat
    per_chat: int  # messages each chat received (all equal, or -1)
    releases: int  # claimed rows put back because their chat was not ready yet


@dataclass
class DispatchResult:
    backend: str
    messages: int
    chats: int
    reps: int
    mps: list[float] = field(default_factory=list)  # one dispatcher, unpaced
    cpu_s: list[float] = field(default_factory=list)
    pacing: PacingResult | None = None
    # PostgreSQL only: messages/s with two worker processes; the one-dispatcher runs above
    # are interleaved with these (same moments, same load).
    two_proc_mps: list[float] = field(default_factory=list)
    two_proc_split: list[tuple[int, int]] = field(default_factory=list)


async def _timed_drain(rig: Rig, messages: int) -> tuple[float, float]:
    settle()
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    sent = await rig.app.dispatcher.drain()
    wall = time.perf_counter() - t0
    cpu = time.process_time() - cpu0
    if sent != messages:
        raise RuntimeError(f"dispatch: drained {sent} of {messages}")
    return wall, cpu


async def _pacing(rig: Rig, messages: int, chats: int) -> PacingResult:
    await clear_outbox(rig)
    await rig.fresh_console(RateLimit(per_chat_per_second=1.0, overall_per_second=1_000_000.0))
    await enqueue_messages(rig, messages, chats)
    # Shared pacing claims only rows whose chat may receive now: nothing is put back.
    releases = 0
    rig.delivered.clear()
    start = rig.clock.now()
    wall, _ = await _timed_drain(rig, messages)
    by_chat: dict[str, list[datetime]] = defaultdict(list)
    for at, address, _ in rig.delivered:
        by_chat[address].append(at)
    gaps = [
        (b - a).total_seconds()
        for times in by_chat.values()
        for a, b in zip(times, times[1:], strict=False)
    ]
    counts = {len(v) for v in by_chat.values()}
    return PacingResult(
        messages=messages,
        chats=chats,
        simulated_s=(rig.clock.now() - start).total_seconds(),
        wall_s=wall,
        min_gap_s=min(gaps) if gaps else float("nan"),
        per_chat=counts.pop() if len(counts) == 1 else -1,
        releases=releases,
    )


class _Worker:
    """A dispatcher in its own process (``python -m bench.dispatch_worker``)."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc

    @classmethod
    async def start(cls, url: str, key: str, worker_id: str) -> _Worker:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.dispatch_worker",
            url,
            worker_id,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            env=child_env(key),
            cwd=str(REPO),
        )
        worker = cls(proc)
        if (await worker._line()) != {"ready": True}:
            raise RuntimeError("dispatch worker did not start")
        return worker

    async def _line(self) -> Any:
        assert self.proc.stdout is not None
        line = await self.proc.stdout.readline()
        if not line:
            raise RuntimeError("dispatch worker exited")
        return json.loads(line)

    def go(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(b"go\n")

    async def result(self) -> dict[str, Any]:
        return dict(await self._line())

    async def stop(self) -> None:
        if self.proc.returncode is None:
            assert self.proc.stdin is not None
            self.proc.stdin.write(b"quit\n")
            await self.proc.stdin.drain()
            await self.proc.wait()


async def _run_procs(workers: list[_Worker], messages: int) -> tuple[float, list[int]]:
    settle()
    t0 = time.perf_counter()
    for w in workers:
        w.go()
    results = await asyncio.gather(*(w.result() for w in workers))
    wall = time.perf_counter() - t0
    ids = [i for r in results for i in r["ids"]]
    if len(ids) != messages or len(set(ids)) != messages:
        raise RuntimeError(f"dispatch workers delivered {len(ids)} ({len(set(ids))} distinct)")
    return wall, [len(r["ids"]) for r in results]


async def run_dispatch(
    backend: Backend,
    *,
    messages: int,
    chats: int,
    reps: int,
    pacing_messages: int,
    pacing_chats: int,
) -> DispatchResult:
    """On PostgreSQL the one-dispatcher runs are interleaved with the two-dispatcher runs
    (see :func:`_two_dispatchers`) and serve as the throughput figure too."""
    result = DispatchResult(backend.name, messages, chats, reps)
    key = generate_key()
    async with backend.database() as url:
        rig = await make_rig(url, key=key, worker_id="bench-0")
        try:
            await enqueue_messages(rig, min(50, messages), min(chats, 50))
            await rig.app.dispatcher.drain()  # warm-up: connections, compiled statements
            if pacing_messages:
                result.pacing = await _pacing(rig, pacing_messages, pacing_chats)
            if backend.name == "postgres":
                await _two_dispatchers(rig, url, key, result)
            else:
                for _ in range(reps):
                    await _one(rig, result)
        finally:
            await rig.close()
    return result


async def _one(rig: Rig, result: DispatchResult) -> None:
    await clear_outbox(rig)
    await rig.fresh_console(UNPACED)
    await enqueue_messages(rig, result.messages, result.chats)
    wall, cpu = await _timed_drain(rig, result.messages)
    result.mps.append(result.messages / wall)
    result.cpu_s.append(cpu)


async def _two_dispatchers(rig: Rig, url: str, key: str, result: DispatchResult) -> None:
    messages, chats = result.messages, result.chats
    rig.clock.set(START)  # the pacing run moved it on; the workers' clocks start here
    await reset_pacing(rig)  # its tokens and chat times lie ahead of START now
    procs = [await _Worker.start(url, key, f"proc-{i}") for i in range(2)]
    try:
        for _ in range(result.reps):
            # One dispatcher, then two, in each repetition: drifting load hits both alike.
            await _one(rig, result)
            await clear_outbox(rig)
            await enqueue_messages(rig, messages, chats)
            wall, split = await _run_procs(procs, messages)
            result.two_proc_mps.append(messages / wall)
            result.two_proc_split.append((split[0], split[1]))
    finally:
        for w in procs:
            await w.stop()
