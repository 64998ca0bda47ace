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
