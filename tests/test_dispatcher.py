"""Delivery: pacing per chat, platform retry-after, backoff, dead letters, crash recovery,
and several workers sharing one PostgreSQL database."""

from __future__ import annotations

import asyncio
import random
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from feedback_bot.delivery.dispatcher import Dispatcher
from feedback_bot.delivery.outbox import Delivery, enqueue
from feedback_bot.ports import (
    AfterSend,
    Capability,
    InboundSink,
    OutgoingMessage,
    RateLimit,
    RecipientUnavailable,
    SendError,
    SendReceipt,
    TransientSendError,
)
from feedback_bot.privacy.crypto import KeyRing, _decode_key, generate_key
from feedback_bot.privacy.vault import Vault
from feedback_bot.scheduling.clock import FakeClock
from feedback_bot.scheduling.settings import SchedulingSettings
from feedback_bot.storage.database import create_engine, session_factory
from feedback_bot.storage.migrate import upgrade
from feedback_bot.storage.models import ChatPace, OutboxMessage

START = datetime(2026, 11, 16, 9, 0, tzinfo=UTC)


@dataclass
class RecordingAdapter:
    """A platform that records when each message arrived, and can be told to fail."""

    clock: FakeClock
    platform: str = "fake"
    capabilities: frozenset[Capability] = frozenset({Capability.BUTTONS})
    max_text_length: int = 4096
    idempotent_sends: bool = False
    delivered: list[tuple[datetime, str, int]] = field(default_factory=list)
    retry_after: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    blocked: set[str] = field(default_factory=set)
    always_fail: set[str] = field(default_factory=set)
    rejects: set[str] = field(default_factory=set)
    menus: list[str] = field(default_factory=list)
    while_sending: list[Callable[[], Awaitable[None]]] = field(default_factory=list)

    async def register_practitioner(self, address: str) -> None:
        self.menus.append(address)

    async def start(self, sink: InboundSink) -> None: ...

    async def stop(self) -> None: ...

    def is_connected(self) -> bool:
        return True

    async def send(self, message: OutgoingMessage) -> SendReceipt:
        await asyncio.sleep(0)  # let other workers interleave
        while self.while_sending:
            await self.while_sending.pop(0)()
        if message.address in self.blocked:
            raise RecipientUnavailable("blocked")
        if message.address in self.always_fail:
            raise TransientSendError("network")
        if message.address in self.rejects:
            raise SendError("Bad Request: message is malformed")
        pending = self.retry_after[message.address]
        if pending:
            raise TransientSendError("rate_limited", retry_after=pending.pop(0))
        self.delivered.append((self.clock.now(), message.address, message.outbox_id))
        return SendReceipt(str(message.outbox_id))


@dataclass
class Rig:
    sessions: async_sessionmaker[AsyncSession]
    vault: Vault
    clock: FakeClock
    adapter: RecordingAdapter
    dispatcher: Dispatcher

    async def queue(
        self,
        address: str,
        n: int = 1,
        kind: str = "reply",
        delivery: Delivery = Delivery.AT_LEAST_ONCE,
        then: AfterSend = AfterSend.NOTHING,
    ) -> None:
        async with self.sessions() as s, s.begin():
            for i in range(n):
                enqueue(
                    s,
                    self.vault,
                    platform="fake",
                    address=address,
                    text=f"m{i}",
                    kind=kind,
                    delivery=delivery,
                    then=then,
                    now=self.clock.now(),
                )

    async def statuses(self) -> list[str]:
        async with self.sessions() as s:
            return list(
                (await s.execute(select(OutboxMessage.status).order_by(OutboxMessage.id))).scalars()
            )


def make_vault() -> Vault:
    key = generate_key()
    return Vault(KeyRing(key), _decode_key(key))


def new_dispatcher(sessions, vault, clock, adapter, **kw) -> Dispatcher:  # type: ignore[no-untyped-def]
    async def sleep(seconds: float) -> None:
        clock.advance(timedelta(seconds=seconds))

    return Dispatcher(
        sessions,
        vault,
        clock,
        {"fake": adapter},
        {"fake": RateLimit(1.0, 30.0)},
        SchedulingSettings(max_send_attempts=3, **kw),
        sleep=sleep,
        rng=random.Random(1),
    )


@pytest.fixture
async def rig(database_url: str) -> AsyncIterator[Rig]:
    engine = create_engine(database_url)
    await upgrade(engine)
    sessions = session_factory(engine)
    clock = FakeClock(START)
    vault = make_vault()
    adapter = RecordingAdapter(clock)
    yield Rig(sessions, vault, clock, adapter, new_dispatcher(sessions, vault, clock, adapter))
    await engine.dispose()


async def test_no_chat_receives_more_than_one_message_per_second(rig: Rig) -> None:
    await rig.queue("a", 5)
    await rig.queue("b", 5)
    assert await rig.dispatcher.drain() == 10
    for chat in ("a", "b"):
        times = [t for t, addr, _ in rig.adapter.delivered if addr == chat]
        gaps = [(b - a).total_seconds() for a, b in zip(times, times[1:], strict=False)]
        assert gaps and min(gaps) >= 1.0, gaps
    # Two chats are served side by side, not one after the other.
    assert rig.clock.now() - START < timedelta(seconds=6)


async def test_retry_after_holds_only_the_affected_chat_and_keeps_its_order(rig: Rig) -> None:
    rig.adapter.retry_after["slow"] = [30.0]
    await rig.queue("slow", 3)
    await rig.queue("fast", 3)
    await rig.dispatcher.drain()
    fast = [t for t, a, _ in rig.adapter.delivered if a == "fast"]
    assert len(fast) == 3 and fast[-1] - START < timedelta(seconds=5), "others don't stall"
    assert [a for _, a, _ in rig.adapter.delivered].count("slow") == 0
    rig.clock.advance(timedelta(seconds=30))
    await rig.dispatcher.drain()
    slow = [(t, oid) for t, a, oid in rig.adapter.delivered if a == "slow"]
    assert len(slow) == 3
    assert slow[0][0] - START >= timedelta(seconds=30), "retry-after obeyed"
    assert [oid for _, oid in slow] == sorted(oid for _, oid in slow), "order kept"


async def test_a_farewell_leaves_nothing_of_its_chat_even_after_a_retry_after(rig: Rig) -> None:
    rig.adapter.retry_after["gone"] = [30.0]
    await rig.queue("gone", kind="ephemeral", delivery=Delivery.FAREWELL)
    await rig.queue("other", kind="ephemeral", delivery=Delivery.EPHEMERAL)
    await rig.dispatcher.drain()
    assert [a for _, a, _ in rig.adapter.delivered] == ["other"], "retry-after obeyed"
    rig.clock.advance(timedelta(seconds=30))
    await rig.dispatcher.drain()
    assert [a for _, a, _ in rig.adapter.delivered] == ["other", "gone"]
    async with rig.sessions() as s:
        paced = set((await s.execute(select(ChatPace.chat_hash))).scalars())
        assert (await s.execute(select(OutboxMessage))).first() is None, "both deleted once sent"
    # An ordinary message keeps its chat's pacing (a day, privacy.retention); the goodbye
    # to an erased client keeps nothing.
    assert paced == {rig.vault.keyed_hash("fake", "other")}


async def test_a_row_taken_over_during_its_send_stays_with_the_worker_that_took_it(
    rig: Rig,
) -> None:
    await rig.queue("a")

    async def taken_over() -> None:  # this worker stalled past its lease; another took over
        async with rig.sessions() as s, s.begin():
            await s.execute(update(OutboxMessage).values(claimed_by="other-host/0123456789ab"))

    rig.adapter.while_sending.append(taken_over)
    assert await rig.dispatcher.dispatch_once() == 0
    async with rig.sessions() as s:
        row = (await s.execute(select(OutboxMessage))).scalar_one()
    # Not marked sent over the other worker's claim: its lease decides what happens next.
    assert (row.status, row.claimed_by) == ("sending", "other-host/0123456789ab")


async def test_transient_errors_back_off_then_become_dead_letters(rig: Rig) -> None:
    rig.adapter.always_fail.add("x")
    await rig.queue("x")
    seen = []
    for _ in range(3):
        await rig.dispatcher.dispatch_once()
        async with rig.sessions() as s:
            row = (await s.execute(select(OutboxMessage))).scalar_one()
        seen.append((row.status, row.next_attempt_at))
        rig.clock.set(max(rig.clock.now(), row.next_attempt_at))
    assert [st for st, _ in seen] == ["failed", "failed", "dead"]
    first_delay = seen[0][1] - START
    second_delay = seen[1][1] - seen[0][1]
    assert timedelta(seconds=1) <= first_delay <= timedelta(seconds=2)
    assert second_delay > first_delay, "exponential backoff"


async def test_a_message_the_platform_rejects_is_a_dead_letter_at_once(rig: Rig) -> None:
    rig.adapter.rejects.add("r")
    await rig.queue("r")
    await rig.queue("ok")
    await rig.dispatcher.drain()
    assert await rig.statuses() == ["dead", "sent"]


async def test_practitioners_get_their_command_menu_after_the_welcome(rig: Rig) -> None:
    await rig.queue("dr", kind="practitioner_welcome", then=AfterSend.PRACTITIONER_MENU)
    await rig.queue("client", kind="reply")
    await rig.dispatcher.drain()
    assert rig.adapter.menus == ["dr"]


async def test_blocked_recipient_is_not_retried(rig: Rig) -> None:
    rig.adapter.blocked.add("gone")
    await rig.queue("gone", 3)
    await rig.dispatcher.drain()
    rig.clock.advance(timedelta(hours=1))
    await rig.dispatcher.drain()
    assert await rig.statuses() == ["unavailable"] * 3
    assert rig.adapter.delivered == []


async def test_rows_left_sending_by_a_crash_follow_the_platform_rule(rig: Rig) -> None:
    await rig.queue("a", kind="reply")
    await rig.queue("a", kind="checkin", delivery=Delivery.AT_MOST_ONCE)
    async with rig.sessions() as s, s.begin():
        await s.execute(
            update(OutboxMessage).values(
                status="sending", claimed_by="dead-worker", claimed_at=START
            )
        )
    rig.clock.advance(timedelta(minutes=10))
    assert await rig.dispatcher.recover_stale() == 2
    # No idempotency key on this platform: the reply is resent, the check-in is not.
    assert await rig.statuses() == ["pending", "unknown"]
    rig.adapter.idempotent_sends = True
    async with rig.sessions() as s, s.begin():
        await s.execute(update(OutboxMessage).values(status="sending", claimed_at=START))
    await rig.dispatcher.recover_stale()
    assert await rig.statuses() == ["pending", "pending"]


async def test_two_dispatchers_on_postgresql_send_each_message_exactly_once(
    postgres_url: str,
) -> None:
    database_url = postgres_url
    clock = FakeClock(START)
    vault = make_vault()
    adapter = RecordingAdapter(clock)
    engines = [create_engine(database_url) for _ in range(2)]
    await upgrade(engines[0])
    workers = []
    for i, engine in enumerate(engines):
        sessions = session_factory(engine)
        d = new_dispatcher(sessions, vault, clock, adapter)
        d.worker_id = f"worker-{i}"
        workers.append(d)
    rig = Rig(session_factory(engines[0]), vault, clock, adapter, workers[0])
    for chat in range(100):  # more chats than one worker claims in a batch
        await rig.queue(f"chat{chat}", 2)
    await asyncio.gather(*(w.drain() for w in workers))
    ids = [oid for _, _, oid in adapter.delivered]
    assert len(ids) == 200 and len(set(ids)) == 200
    async with rig.sessions() as s:
        claimed_by = set((await s.execute(select(OutboxMessage.claimed_by))).scalars())
    assert await rig.statuses() == ["sent"] * 200
    assert claimed_by == {"worker-0", "worker-1"}, "both workers really took part"
    for engine in engines:
        await engine.dispose()


# -- the send uses the row its claim took (no second read), unless its lease may have lapsed


def outbox_reads(rig: Rig) -> list[str]:
    """Every SELECT that reads the outbox's rows, from now on."""
    seen: list[str] = []
    engine = rig.sessions.kw["bind"].sync_engine

    def counted(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT OUTBOX.ID"):
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", counted)
    return seen


async def test_a_claimed_message_is_sent_without_being_read_again(rig: Rig) -> None:
    await rig.queue("a")
    await rig.queue("b")
    reads = outbox_reads(rig)
    assert await rig.dispatcher.dispatch_once() == 2
    assert len(reads) == 1, "the claim reads the rows; the sends use them as claimed"
    assert await rig.statuses() == ["sent", "sent"]


async def test_a_claim_older_than_half_its_lease_is_read_again_before_sending(
    rig: Rig,
) -> None:
    await rig.queue("a")
    [claim] = await rig.dispatcher._claim(10)
    lease = rig.dispatcher._settings.sending_stale_seconds
    rig.clock.advance(seconds=lease)
    # Meanwhile another worker saw the lease lapse and took the row over.
    async with rig.sessions() as s, s.begin():
        await s.execute(update(OutboxMessage).values(claimed_by="another-worker/1"))
    assert await rig.dispatcher._deliver(claim) == 0
    assert rig.adapter.delivered == [], "not sent by a worker that no longer holds it"
