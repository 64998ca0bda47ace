"""Delivers outbox rows through adapters: claims, pacing, retries, dead letters.

The dispatcher knows no message kinds: how a row is delivered is data on the row, set
by whoever enqueued it (:class:`~feedback_bot.delivery.outbox.Delivery`, ``AfterSend``).

Leases: a worker's claims carry ``claimed_by`` = "<worker name>/<this life>" and
``claimed_at``, which :meth:`Dispatcher.renew_lease` refreshes while the worker lives. On
start (:meth:`Dispatcher.recover_on_start`) the rows this worker's previous lives left
claimed are resolved at once (on SQLite, which runs one worker, everyone's are); rows of
another worker are resolved once its lease lapses (``sending_stale_seconds``), by whoever
notices first (:meth:`Dispatcher.recover_stale`). A claim younger than half the lease is
sent without reading its row again (nobody can have taken it over): a row deleted in that
moment (an erasure) is sent like one already in flight; its outcome finds no row to record.

Crash rule for rows left in ``sending`` (claimed, outcome unknown):
* adapters with idempotent sends (Matrix: ``tx_id`` = outbox id; console) resend;
* other adapters (Telegram has no idempotency key) resend every row except AT_MOST_ONCE
  ones — replies and safety messages are resent, a duplicate reply being kinder than a
  lost one — while check-ins and reminders (AT_MOST_ONCE) are marked ``unknown``:
  "never twice" matters more for a nudge than delivery.
"""

from __future__ import annotations

import asyncio
import logging
import random
import socket
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased

from feedback_bot.delivery import shared_pacing
from feedback_bot.delivery.outbox import to_message
from feedback_bot.delivery.shared_pacing import SharedPace, Token
from feedback_bot.metrics import MESSAGES_OUT, OUTBOX_DEPTH, OUTBOX_OLDEST_AGE, SEND_FAILURES
from feedback_bot.ports import (
    Adapter,
    AddressMigrated,
    AfterSend,
    Capability,
    OutgoingMessage,
    RateLimit,
    RecipientUnavailable,
    SendError,
    SendReceipt,
    TransientSendError,
)
from feedback_bot.ports.numbered_choices import with_numbered_choices
from feedback_bot.privacy.crypto import DecryptionError, token_key_id
from feedback_bot.privacy.vault import Vault
from feedback_bot.scheduling.clock import Clock
from feedback_bot.scheduling.settings import SchedulingSettings
from feedback_bot.storage.models import Identity, OutboxMessage, PlatformPace
from feedback_bot.storage.states import Delivery, OutboxStatus

log = logging.getLogger(__name__)

WAITING = (OutboxStatus.PENDING, OutboxStatus.FAILED)
SENT = {"sent": True}  # what a delivered row's payload says instead of its content

Sleep = Callable[[float], Awaitable[None]]


async def _first_of(events: tuple[asyncio.Event, ...], pause: Awaitable[None]) -> None:
    """Until one of ``events`` is set, or ``pause`` is over."""
    waits: list[asyncio.Future[object]] = [asyncio.ensure_future(e.wait()) for e in events]
    waits.append(asyncio.ensure_future(pause))
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waits:
            w.cancel()


# How far ahead the delivery loop claims: the claim's round trip and the loop's wake-up
# happen before a token comes free instead of after, so they don't lengthen its cycle.
LOOKAHEAD = timedelta(milliseconds=250)
# Waits this short are pacing (a chat's gap, a token, a send's slot) and pass on the app's
# clock (``sleep``); longer ones are capped by the loop's idle time.
PACING_WAIT_MAX = 1.5
# The shortest of them: a token or slot due within LOOKAHEAD that the last claim could not
# use (its chat was not free yet) is not worth a claim per loop.
PACING_WAIT_MIN = 0.01


@dataclass(frozen=True, slots=True)
class Claim:
    row_id: int
    token: Token | None
    at: datetime | None  # when to send (None: now)
    # The row as claimed (detached): its message is made ready before the send's slot,
    # so reading and decrypting it don't lengthen the token's cycle.
    row: OutboxMessage
    claimed_at: datetime


class Dispatcher:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        vault: Vault,
        clock: Clock,
        adapters: Mapping[str, Adapter],
        limits: Mapping[str, RateLimit],
        settings: SchedulingSettings,
        *,
        sleep: Sleep = asyncio.sleep,
        worker_id: str | None = None,
        worker_name: str | None = None,
        single_worker: bool = False,
        batch_size: int = 50,
        rng: random.Random | None = None,
    ) -> None:
        self._sessions = sessions
        self._vault = vault
        self._clock = clock
        self._adapters = dict(adapters)
        self._pacers = {p: SharedPace(p, limit) for p, limit in limits.items()}
        self._settings = settings
        self._sleep = sleep
        self.worker_name = (worker_name or socket.gethostname())[:40]
        self.worker_id = worker_id or f"{self.worker_name}/{uuid.uuid4().hex[:12]}"
        self._single_worker = single_worker
        self._batch = batch_size
        self._rng = rng or random.Random()
        self._last_claimed = 0
        self._claim_filled = False  # the last claim took all the room it had
        self._only: list[str] | None = None
        self._next_slot: dict[str, datetime] = {}  # per platform: this worker's next send
        self._tokens_back: list[datetime] = []  # when tokens this worker gave back are free

    def serve_only(self, platform: str, addresses: list[str]) -> None:
        """Claim only messages to these chats: several terminal chats on one database
        (``feedback-bot chat``) each deliver their own person's messages, never another's."""
        # The outbox keeps a keyed hash of the address, not the address (outbox.enqueue).
        self._only = [self._vault.keyed_hash(platform, a) for a in addresses]

    def _mine(self) -> list[ColumnElement[bool]]:
        return [] if self._only is None else [OutboxMessage.address.in_(self._only)]

    def add_adapter(self, adapter: Adapter, limit: RateLimit) -> None:
        self._adapters[adapter.platform] = adapter
        self._pacers[adapter.platform] = SharedPace(adapter.platform, limit)

    async def dispatch_once(self) -> int:
        """Send what is due now, one claim after the other (tests, the demo, the terminal
        chat: a predictable order); returns how many were delivered."""
        claimed = await self._claim(self._batch)
        self._last_claimed = len(claimed)
        delivered = 0
        for claim in claimed:
            delivered += await self._deliver(claim)
        return delivered

    async def run(
        self,
        wake: asyncio.Event,
        stop: asyncio.Event,
        idle_seconds: float,
        busy: asyncio.Lock | None = None,
    ) -> None:
        """The worker's delivery loop. It claims rows whose chat may receive now, each with
        a platform token free by the time its send is due (up to ``LOOKAHEAD`` ahead, so
        the claim's round trip is not added to the tokens coming free next), sends spaced
        at the platform's rate; sends run side by side (each to a different chat). It
        sleeps until a token, a chat or a row it knows of comes due, ``wake`` is set
        (something was queued here) or ``idle_seconds`` passed (queued by another worker).
        Once ``stop`` is set it claims nothing more and returns when the sends in
        flight have finished; cancelled, it cancels them. ``busy`` is held while it claims
        or has sends in flight (``App.drain`` waits for it)."""
        in_flight: set[asyncio.Task[int]] = set()
        answered = asyncio.Event()  # a send finished: its token comes back one hold later

        def done(task: asyncio.Task[int]) -> None:
            in_flight.discard(task)
            answered.set()

        holding = False
        try:
            while not stop.is_set():
                wake.clear()
                answered.clear()
                if busy is not None and not holding:
                    await busy.acquire()
                    holding = True
                # Tokens coming free by then are this claim's to take (or another worker's):
                # only later ones are worth waking for afterwards.
                seen_until = self._clock.now() + LOOKAHEAD
                try:
                    claimed = await self._claim(self._batch - len(in_flight), LOOKAHEAD)
                except Exception as exc:  # the database is away: try again shortly
                    log.warning("dispatch: claim failed (%s)", type(exc).__name__)
                    claimed = []
                    await asyncio.sleep(idle_seconds)
                for claim in claimed:
                    task = asyncio.create_task(self._deliver_logged(claim))
                    in_flight.add(task)
                    task.add_done_callback(done)
                if self._claim_filled:
                    continue  # it took all it had room for: there may be more at once
                self._tokens_back = [t for t in self._tokens_back if t > seen_until]
                if holding and busy is not None and not in_flight:
                    busy.release()
                    holding = False
                known: datetime | None = None
                if len(in_flight) < self._batch:
                    try:
                        known = await self._next_ready(LOOKAHEAD)
                    except Exception as exc:
                        log.warning("dispatch: %s", type(exc).__name__)
                while not (wake.is_set() or stop.is_set()):
                    now = self._clock.now()
                    # A claim takes tokens and slots up to LOOKAHEAD ahead: wake that early.
                    later = [t for t in (*self._tokens_back, *self._next_slot.values()) if t > now]
                    times = [t for t in (known, *(t - LOOKAHEAD for t in later)) if t is not None]
                    soonest = min(times, default=None)
                    wait = None
                    if soonest is not None:
                        wait = max(PACING_WAIT_MIN, (soonest - now).total_seconds())
                    if wait is not None and wait <= PACING_WAIT_MAX:
                        pause = self._sleep(wait)  # pacing: on the app's clock
                    else:
                        pause = asyncio.sleep(min(wait or idle_seconds, idle_seconds))
                    answered.clear()
                    await _first_of((wake, answered, stop), pause)
                    if not answered.is_set():
                        break
                self._tokens_back = [t for t in self._tokens_back if t > self._clock.now()]
            if in_flight:
                await asyncio.wait(set(in_flight))
        finally:
            for task in list(in_flight):
                task.cancel()
            if holding and busy is not None:
                busy.release()

    async def _deliver_logged(self, claim: Claim) -> int:
        try:
            return await self._deliver(claim)
        except Exception as exc:  # the row stays claimed; its lease hands it on
            log.error("dispatch: outbox %s: %s", claim.row_id, type(exc).__name__)
            return 0

    async def drain(self, max_rounds: int = 1000, max_pacing_wait: float = 5.0) -> int:
        """Dispatch until nothing is due now (used by the demo and tests)."""
        total = 0
        for _ in range(max_rounds):
            sent = await self.dispatch_once()
            total += sent
            if sent or self._last_claimed:
                continue  # progress (a failure is progress too): go round again
            soonest = await self._next_ready()
            if soonest is None:
                break
            wait = (soonest - self._clock.now()).total_seconds()
            if wait > max_pacing_wait:
                break  # a real backoff: leave it to the next dispatch job
            if wait > 0:
                await self._sleep(wait)  # only pacing: wait it out
        return total

    def _waiting(self, now: datetime | None = None) -> list[ColumnElement[bool]]:
        due = [] if now is None else [OutboxMessage.next_attempt_at <= now]
        return [
            OutboxMessage.status.in_(WAITING),
            OutboxMessage.platform.in_(list(self._adapters)),
            *due,
            *self._mine(),
        ]

    async def _next_ready(self, lookahead: timedelta = timedelta(0)) -> datetime | None:
        """When there may be something to claim: the next row due, or, for rows due now,
        the first of their chats or of the platform's tokens to free up (``lookahead``
        before it: a claim takes tokens that far ahead)."""
        now = self._clock.now()
        async with self._sessions() as session:
            due = await session.scalar(
                select(func.min(OutboxMessage.next_attempt_at)).where(*self._waiting())
            )
            if due is None:
                return None
            if due > now:
                return due
            paces = [p for name, p in self._pacers.items() if name in self._adapters]
            token = await shared_pacing.soonest_token(session, paces, now)
            times = [
                await shared_pacing.soonest_chat(session, and_(*self._waiting(now)), now),
                None if token is None else token - lookahead,
            ]
            return min((t for t in times if t is not None), default=None)

    async def _claim(self, limit: int, lookahead: timedelta = timedelta(0)) -> list[Claim]:
        """Rows whose chat may receive now, each with a platform token free by the time
        its send is due, in one transaction. Without ``lookahead`` every send is due now;
        with it, sends are due up to that far ahead, spaced at the platform's rate."""
        now = self._clock.now()
        horizon = now + lookahead
        lease = timedelta(seconds=self._settings.sending_stale_seconds)
        claimed: list[Claim] = []
        self._claim_filled = False
        earlier = aliased(OutboxMessage)
        async with self._sessions() as session, session.begin():
            for platform in self._adapters:
                pace = self._pacers.get(platform)
                room = limit - len(claimed)
                if room <= 0:
                    break
                slot = max(now, self._next_slot.get(platform, now))
                if pace is not None and lookahead:
                    if slot > horizon:
                        continue
                    room = min(room, int((horizon - slot) / pace.spacing) + 1)
                stmt = (
                    select(OutboxMessage)
                    .where(
                        OutboxMessage.status.in_(WAITING),
                        OutboxMessage.next_attempt_at <= now,
                        OutboxMessage.platform == platform,
                        *self._mine(),
                        shared_pacing.chat_allowed(now),
                        # Only a chat's oldest undelivered message: the chat's order holds,
                        # and one chat never has two sends in flight.
                        ~exists().where(
                            earlier.address == OutboxMessage.address,
                            earlier.status.in_([*WAITING, OutboxStatus.SENDING]),
                            earlier.id < OutboxMessage.id,
                        ),
                    )
                    .order_by((OutboxMessage.delivery == Delivery.URGENT).desc(), OutboxMessage.id)
                    .limit(room)
                    .with_for_update(skip_locked=True)
                )
                rows = list((await session.execute(stmt)).scalars())
                if pace is None:
                    tokens: list[tuple[Token | None, datetime]] = [(None, now)] * len(rows)
                else:
                    tokens = list(
                        await pace.take(session, len(rows), horizon, self.worker_id, lease)
                    )
                if len(rows) == room and len(tokens) == room:
                    self._claim_filled = True  # there may be more: claim again at once
                # Rows without a token (another worker took it meanwhile) stay waiting.
                for row, (token, free_at) in zip(rows, tokens, strict=False):
                    row.status = OutboxStatus.SENDING
                    row.claimed_by = self.worker_id
                    row.claimed_at = now
                    at = None
                    if lookahead and pace is not None:
                        at = max(slot, free_at)
                        slot = at + pace.spacing
                        self._next_slot[platform] = slot
                    claimed.append(Claim(row.id, token, at, row, now))
        return claimed

    async def _deliver(self, claim: Claim) -> int:
        row_id, token = claim.row_id, claim.token
        adapter = self._adapters[claim.row.platform]
        message: OutgoingMessage | None
        try:
            message = self._render(adapter, to_message(self._vault, claim.row))
        except DecryptionError:
            message = None  # set aside below, in the transaction that frees its token
        if claim.at is not None:
            wait = (claim.at - self._clock.now()).total_seconds()
            if wait > 0:
                await self._sleep(wait)  # the send's slot; its token is free by then
        outcome: SendReceipt | Exception | None = None
        answered = self._clock.now()
        if message is not None and self._still_mine(claim):
            outcome = await self._send_now(adapter, message)
            answered = self._clock.now()  # before any write: the token's cycle starts here
            if isinstance(outcome, SendReceipt):
                return await self._delivered(claim, adapter, message, outcome, answered)
        async with self._sessions() as session:
            row = await session.get(OutboxMessage, row_id)
            pace = self._pacers.get(row.platform) if row is not None else None
            if (
                row is None
                or row.status != OutboxStatus.SENDING
                or row.claimed_by != self.worker_id
            ):
                await self._give_back(session, pace, token, None if outcome is None else answered)
                await session.commit()
                return 0
            if outcome is None:  # an old claim, checked just now, or an unreadable row
                try:
                    message = self._render(adapter, to_message(self._vault, row))
                except DecryptionError as exc:
                    await self._give_back(session, pace, token, None)
                    await self._quarantine(session, row, exc)
                    return 0
                outcome = await self._send_now(adapter, message)
                answered = self._clock.now()
            assert message is not None
            return await self._record(
                session, pace, token, row, adapter, message, outcome, answered
            )

    async def _delivered(
        self,
        claim: Claim,
        adapter: Adapter,
        message: OutgoingMessage,
        receipt: SendReceipt,
        answered: datetime,
    ) -> int:
        """The common case, lean: the row is marked sent (or deleted) by id in the
        statement that checks it is still this worker's, without loading it again."""
        row = claim.row
        pace = self._pacers.get(row.platform)
        ours = (
            OutboxMessage.id == claim.row_id,
            OutboxMessage.status == OutboxStatus.SENDING,
            OutboxMessage.claimed_by == self.worker_id,
        )
        if row.delivery in (Delivery.EPHEMERAL, Delivery.FAREWELL):
            stmt: Any = delete(OutboxMessage).where(*ours)
        else:
            stmt = (
                update(OutboxMessage)
                .where(*ours)
                .values(
                    status=OutboxStatus.SENT,
                    sent_at=answered,
                    platform_message_id=receipt.platform_message_id,
                    attempts=OutboxMessage.attempts + 1,
                    # Delivered content is not kept: the chat has it, the database needn't.
                    payload_enc=self._vault.seal_json("outbox", "payload", row.uid, SENT),
                    attachments_enc=None,
                )
            )
        async with self._sessions() as session, session.begin():
            result = await session.execute(stmt, execution_options={"synchronize_session": False})
            if not result.rowcount:  # type: ignore[attr-defined]
                # Taken over meanwhile (this worker stalled past its lease): the token only.
                await self._give_back(session, pace, claim.token, answered)
                return 0
            await self._answered(session, pace, claim.token, row, answered)
        MESSAGES_OUT.labels(platform=row.platform, kind=row.kind).inc()
        await self._after_send(adapter, message)
        return 1

    def _still_mine(self, claim: Claim) -> bool:
        """Whether the claim can be trusted without asking the database: nobody takes a
        row over before its lease lapses, so a claim younger than half of it is still ours.
        An older one (the worker stalled) is checked against the row before sending."""
        age = self._clock.now() - claim.claimed_at
        return age < timedelta(seconds=self._settings.sending_stale_seconds / 2)

    async def _send_now(
        self, adapter: Adapter, message: OutgoingMessage
    ) -> SendReceipt | Exception:
        try:
            return await adapter.send(message)
        except Exception as exc:
            return exc

    async def _record(
        self,
        session: AsyncSession,
        pace: SharedPace | None,
        token: Token | None,
        row: OutboxMessage,
        adapter: Adapter,
        message: OutgoingMessage,
        outcome: SendReceipt | Exception,
        answered: datetime,
    ) -> int:
        """The platform's answer, in one transaction: the row's state, the token given
        back, the chat's next allowed time."""
        row.attempts += 1
        if isinstance(outcome, Exception):
            return await self._failed(session, pace, token, row, message, outcome, answered)
        await self._answered(session, pace, token, row, answered)
        await self._sent(session, row, outcome.platform_message_id, answered)
        MESSAGES_OUT.labels(platform=row.platform, kind=row.kind).inc()
        await self._after_send(adapter, message)
        return 1

    async def _failed(
        self,
        session: AsyncSession,
        pace: SharedPace | None,
        token: Token | None,
        row: OutboxMessage,
        message: OutgoingMessage,
        exc: Exception,
        answered: datetime,
    ) -> int:
        if isinstance(exc, TransientSendError):
            await self._answered(session, pace, token, row, answered, exc.retry_after)
            await self._transient(session, row, exc)
        elif isinstance(exc, RecipientUnavailable):
            await self._answered(session, pace, token, row, answered)
            await self._unavailable(session, row, exc.reason)
        elif isinstance(exc, AddressMigrated):
            await self._answered(session, pace, token, row, answered)
            await self._migrated(session, row, message, exc.new_address)
        elif isinstance(exc, SendError):  # the platform refused this message: retrying won't help
            await self._answered(session, pace, token, row, answered)
            log.warning("dispatch: outbox %s rejected (%s)", row.id, type(exc).__name__)
            row.status, row.last_error, row.claimed_by = OutboxStatus.DEAD, "rejected", None
            SEND_FAILURES.labels(platform=row.platform, reason="rejected").inc()
            await session.commit()
        else:  # an adapter bug must not kill the loop
            await self._answered(session, pace, token, row, answered)
            log.error("dispatch: unexpected %s on outbox %s", type(exc).__name__, row.id)
            await self._transient(session, row, TransientSendError("adapter_error"))
        return 0

    async def _answered(
        self,
        session: AsyncSession,
        pace: SharedPace | None,
        token: Token | None,
        row: OutboxMessage,
        answered: datetime,
        retry_after: float | None = None,
    ) -> None:
        """The platform answered at ``answered`` (a request reached it before): the token
        comes back one hold later and the chat waits its gap (or what the platform asked),
        in the transaction that records the outcome."""
        if pace is not None:
            # The row's pending change (its attempt count) is flushed by the first write
            # below, so the row is locked before the token: the order the lease renewal
            # takes them in (rows, then tokens). The other order deadlocked with it on
            # PostgreSQL (three workers' test), so this UPDATE stays a statement of its own.
            await self._give_back(session, pace, token, answered)
            if token is not None:
                self._tokens_back.append(answered + pace.hold)
            if row.delivery == Delivery.FAREWELL and retry_after is None:
                # The chat's person was erased: nothing of the chat stays once this is
                # answered. A stranger's next message a second later would at worst be
                # answered with a retry-after, which is recorded like any other.
                await pace.forget_chat(session, row.address)
                return
            gap = pace.chat_gap
            if retry_after is not None:
                gap = max(gap, timedelta(seconds=retry_after))
            await pace.chat_waits(session, row.address, answered + gap)

    async def _give_back(
        self,
        session: AsyncSession,
        pace: SharedPace | None,
        token: Token | None,
        answered: datetime | None,
    ) -> None:
        if pace is not None and token is not None:
            await pace.give_back(session, token, self.worker_id, answered)

    @staticmethod
    async def _after_send(adapter: Adapter, message: OutgoingMessage) -> None:
        """What the enqueuer asked the platform to do once the message was delivered."""
        try:
            if message.then is AfterSend.PRACTITIONER_MENU:
                # Platforms with command menus (Telegram) show practitioners their commands.
                await adapter.register_practitioner(message.address)
            elif message.then is AfterSend.LEAVE_CHAT:
                await adapter.leave_chat(message.address)
        except Exception as exc:  # a missing menu must not undo a delivered message
            log.warning("dispatch: %s failed (%s)", message.then.value, type(exc).__name__)

    @staticmethod
    def _render(adapter: Adapter, message: OutgoingMessage) -> OutgoingMessage:
        if message.choices and Capability.BUTTONS not in adapter.capabilities:
            return with_numbered_choices(message)
        return message

    async def _sent(
        self, session: AsyncSession, row: OutboxMessage, platform_id: str | None, at: datetime
    ) -> None:
        if row.delivery in (Delivery.EPHEMERAL, Delivery.FAREWELL):
            await session.execute(delete(OutboxMessage).where(OutboxMessage.id == row.id))
        else:
            row.status = OutboxStatus.SENT
            row.sent_at = at
            row.platform_message_id = platform_id
            # Delivered content is not kept: the chat has it, the database needn't.
            row.payload_enc = self._vault.seal_json("outbox", "payload", row.uid, SENT)
            row.attachments_enc = None
        await session.commit()

    def _backoff(self, attempts: int) -> float:
        s = self._settings
        base = min(s.backoff_max_seconds, s.backoff_base_seconds * 2 ** max(0, attempts - 1))
        return float(base * (0.5 + self._rng.random() / 2))  # "equal jitter"

    async def _transient(
        self,
        session: AsyncSession,
        row: OutboxMessage,
        exc: TransientSendError,
    ) -> None:
        SEND_FAILURES.labels(platform=row.platform, reason=exc.reason).inc()
        now = self._clock.now()
        row.last_error = exc.reason[:64]
        row.claimed_by = None
        if exc.retry_after is None and row.attempts >= self._settings.max_send_attempts:
            row.status = OutboxStatus.DEAD
            log.warning(
                "dispatch: outbox %s is a dead letter after %s attempts", row.id, row.attempts
            )
            await session.commit()
            return
        delay = exc.retry_after if exc.retry_after is not None else self._backoff(row.attempts)
        until = now + timedelta(seconds=delay)
        row.status = OutboxStatus.FAILED
        row.next_attempt_at = until
        # Later messages to the same chat wait too, so they can't overtake this one.
        await session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.address == row.address,
                OutboxMessage.id > row.id,
                OutboxMessage.status == OutboxStatus.PENDING,
                OutboxMessage.next_attempt_at < until,
            )
            .values(next_attempt_at=until)
        )
        await session.commit()

    async def _unavailable(self, session: AsyncSession, row: OutboxMessage, reason: str) -> None:
        SEND_FAILURES.labels(platform=row.platform, reason=reason[:32]).inc()
        row.status = OutboxStatus.UNAVAILABLE
        row.last_error = reason[:64]
        row.claimed_by = None
        if row.identity_id is not None:
            ident = await session.get(Identity, row.identity_id)
            if ident is not None:
                ident.reachable = False  # check-ins pause until an unblock event
        # Everything else waiting for this chat would meet the same wall, except a refusal
        # note to a group chat: the platform takes it before leaving (Adapter.leave_chat).
        await session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.address == row.address,
                OutboxMessage.status.in_(WAITING),
                OutboxMessage.after_send != AfterSend.LEAVE_CHAT.value,
            )
            .values(status=OutboxStatus.UNAVAILABLE, last_error="recipient_unavailable")
        )
        log.info("dispatch: recipient unavailable (%s) for outbox %s", reason, row.id)
        await session.commit()

    async def _migrated(
        self, session: AsyncSession, row: OutboxMessage, message: OutgoingMessage, new_address: str
    ) -> None:
        old_hash = row.address
        new_hash = self._vault.keyed_hash(row.platform, new_address)
        if row.identity_id is not None:
            ident = await session.get(Identity, row.identity_id)
            if ident is not None:
                ident.address = new_address
        waiting = (
            await session.execute(
                select(OutboxMessage).where(
                    OutboxMessage.address == old_hash,
                    OutboxMessage.status.in_([*WAITING, OutboxStatus.SENDING]),
                )
            )
        ).scalars()
        for other in waiting:
            try:
                payload = self._vault.open_json("outbox", "payload", other.uid, other.payload_enc)
            except DecryptionError as exc:
                self._set_aside(other, exc)
                continue
            payload["address"] = new_address
            other.payload_enc = self._vault.seal_json("outbox", "payload", other.uid, payload)
            other.address = new_hash
        row.status = OutboxStatus.PENDING
        row.claimed_by = None
        row.attempts = max(0, row.attempts - 1)  # a move is not a failed attempt
        await session.commit()

    async def _quarantine(
        self, session: AsyncSession, row: OutboxMessage, exc: DecryptionError
    ) -> None:
        self._set_aside(row, exc)
        await session.commit()

    @staticmethod
    def _set_aside(row: OutboxMessage, exc: DecryptionError) -> None:
        """A row nobody can read (its key removed too early, a partial rotation) is kept
        aside so the rest of the queue, this chat's later messages included, moves on."""
        row.status = OutboxStatus.QUARANTINED
        row.last_error = "undecryptable"
        row.claimed_by = None
        log.error(
            "dispatch: outbox %s quarantined: %s (key id %s); "
            "see `feedback-bot outbox quarantined`",
            row.id,
            exc,
            token_key_id(row.payload_enc) or "none",
        )

    async def recover_on_start(self) -> int:
        """Resolve at once what this worker's previous lives left claimed (on a single
        worker database, whatever anyone left claimed), and any lease already lapsed."""
        async with self._sessions() as session, session.begin():
            held = (
                PlatformPace.held_by.is_not(None)
                if self._single_worker
                else shared_pacing.held_by_lives_of(self.worker_name)
            )
            await shared_pacing.release_tokens_of(
                session,
                and_(held, PlatformPace.held_by != self.worker_id),
                self._pacers,
                self._clock.now(),
            )
        if self._single_worker:
            return await self._recover(self._not_mine_now())
        mine = OutboxMessage.claimed_by.startswith(f"{self.worker_name}/", autoescape=True)
        return await self._recover(or_(mine, self._lapsed()), self._not_mine_now())

    async def recover_stale(self) -> int:
        """Resolve rows whose worker's lease has lapsed (rule in the module doc)."""
        return await self._recover(self._lapsed(), self._not_mine_now())

    async def renew_lease(self) -> int:
        """Show the others this worker is alive: refresh ``claimed_at`` on its claims."""
        async with self._sessions() as session, session.begin():
            result = await session.execute(
                update(OutboxMessage)
                .where(
                    OutboxMessage.status == OutboxStatus.SENDING,
                    OutboxMessage.claimed_by == self.worker_id,
                )
                .values(claimed_at=self._clock.now())
            )
            lease = timedelta(seconds=self._settings.sending_stale_seconds)
            await shared_pacing.renew_tokens(session, self.worker_id, self._clock.now() + lease)
        return int(result.rowcount)  # type: ignore[attr-defined]

    def _not_mine_now(self) -> ColumnElement[bool]:
        return or_(OutboxMessage.claimed_by.is_(None), OutboxMessage.claimed_by != self.worker_id)

    def _lapsed(self) -> ColumnElement[bool]:
        cutoff = self._clock.now() - timedelta(seconds=self._settings.sending_stale_seconds)
        return OutboxMessage.claimed_at < cutoff

    async def _recover(self, *where: ColumnElement[bool]) -> int:
        resolved = 0
        async with self._sessions() as session, session.begin():
            rows = (
                await session.execute(
                    select(OutboxMessage)
                    .where(OutboxMessage.status == OutboxStatus.SENDING, *where)
                    .with_for_update(skip_locked=True)
                )
            ).scalars()
            for row in rows:
                adapter = self._adapters.get(row.platform)
                idempotent = adapter is not None and adapter.idempotent_sends
                if idempotent or row.delivery != Delivery.AT_MOST_ONCE:
                    row.status = OutboxStatus.PENDING
                else:
                    row.status = OutboxStatus.UNKNOWN
                row.claimed_by = None
                resolved += 1
        if resolved:
            log.info("dispatch: %s message(s) left claimed by a crashed worker resolved", resolved)
        return resolved

    async def update_gauges(self) -> None:
        """Queue depth and age, read when Prometheus scrapes rather than on every send."""
        async with self._sessions() as session:
            depth, oldest = (
                await session.execute(
                    select(func.count(), func.min(OutboxMessage.created_at)).where(
                        OutboxMessage.status.in_(WAITING)
                    )
                )
            ).one()
        OUTBOX_DEPTH.set(depth or 0)
        age = 0.0 if oldest is None else (self._clock.now() - oldest).total_seconds()
        OUTBOX_OLDEST_AGE.set(age)
