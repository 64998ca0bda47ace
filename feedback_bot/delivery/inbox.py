"""The first durable step: an incoming event is committed here, deduplicated on
(platform, event_id), before the adapter may acknowledge it to its platform."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import asdict, replace
from datetime import datetime
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from feedback_bot.ports import EventKind, IncomingEvent
from feedback_bot.privacy.vault import Vault
from feedback_bot.scheduling.clock import Clock
from feedback_bot.storage.database import upsert_insert
from feedback_bot.storage.models import InboxEvent, new_uid
from feedback_bot.storage.states import InboxStatus

log = logging.getLogger(__name__)

# Called when the database can't take an urgent event in time; sends crisis resources
# directly and says whether they went out.
EmergencyReply = Callable[[IncomingEvent], Awaitable[bool]]
RiskCheck = Callable[[str], bool]


class InboxUnavailable(Exception):
    """The database failed us a moment ago; the adapter should hand the event over again."""


class Inbox:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        vault: Vault,
        clock: Clock,
        *,
        is_risky: RiskCheck,
        emergency_reply: EmergencyReply,
        on_new: Callable[[], None] = lambda: None,
        gate: AbstractAsyncContextManager[Any] | None = None,
        per_minute: int = 20,
        crisis_per_minute: int = 5,
        direct_after: float = 2.0,
        retry_max: float = 10.0,
    ) -> None:
        self._sessions = sessions
        self._vault = vault
        self._clock = clock
        self._is_risky = is_risky
        self._emergency_reply = emergency_reply
        self._on_new = on_new
        self._gate = gate or contextlib.nullcontext()
        self._throttle = InboundThrottle(per_minute)
        # Crisis texts are screened and answered, but one chat can't fill the tables.
        self._crisis_throttle = InboundThrottle(crisis_per_minute)
        self._direct_after = direct_after
        self._retry_max = retry_max
        # Events answered by the direct path (in memory: a redelivery is not answered twice).
        self._answered: OrderedDict[tuple[str, str], None] = OrderedDict()
        self._failures = 0
        self._unavailable_until = 0.0  # time.monotonic(); no store is tried before it

    async def receive(self, event: IncomingEvent) -> bool:
        """Commit the event; True if it was new. Raises if it could not be stored, so the
        adapter does not advance its cursor and the platform redelivers it.

        A crisis text gets its reply within seconds whatever the database does: if the
        commit has not finished after ``direct_after`` seconds (or the database failed a
        moment ago, or it fails now) the reply goes straight to the adapter, once per
        event. While the database is failing, stores are not even tried until a growing
        back-off has passed, so each event the adapter hands over is screened at once."""
        # Screened before anything else: if storing fails, the person still gets help.
        risky = bool(event.text) and self._is_risky(event.text or "")
        throttle = self._crisis_throttle if risky else self._throttle
        verdict = throttle.admit(
            self._vault.keyed_hash(event.platform, event.address),
            self._clock.now().timestamp(),
            event.event_id,
        )
        if verdict == "drop":
            return False
        if verdict == "notify" and event.kind is not EventKind.GROUP:
            # A group keeps its GROUP kind: it gets the refusal, never another text.
            # One kind notice per flood; the flooding text itself is not kept. A crisis
            # flood has had its replies (the first ones); a direct one too if needed.
            if risky and time.monotonic() < self._unavailable_until:
                await self._answer_directly(event)
            risky = False
            event = replace(
                event,
                kind=EventKind.THROTTLED,
                text=None,
                command=None,
                args="",
                choice_id=None,
            )
        if time.monotonic() < self._unavailable_until:
            if risky:
                await self._answer_directly(event)
            raise InboxUnavailable("inbox: database unavailable, not retried yet")
        if risky and self._failures:
            await self._answer_directly(event)  # the last try failed: don't wait for this one
        store = asyncio.ensure_future(self._store(event))
        if risky and not self._was_answered(event):
            done, _ = await asyncio.wait({store}, timeout=self._direct_after)
            if not done:
                await self._answer_directly(event)
        try:
            inserted = await store
        except Exception:
            log.error("inbox: could not store event", extra={"platform": event.platform})
            self._failures += 1
            if self._failures > 1:  # one failure may be a blip: the next try is at once
                pause = min(self._retry_max, 0.5 * 2.0 ** min(self._failures - 1, 16))
                self._unavailable_until = time.monotonic() + pause
            if risky:
                await self._answer_directly(event)
            raise
        self._failures = 0
        self._unavailable_until = 0.0
        if inserted:
            self._on_new()
        return inserted

    def _was_answered(self, event: IncomingEvent) -> bool:
        return (event.platform, event.event_id) in self._answered

    async def _answer_directly(self, event: IncomingEvent) -> None:
        key = (event.platform, event.event_id)
        if key in self._answered:
            return
        if await self._emergency_reply(event):
            self._answered[key] = None
            while len(self._answered) > 10_000:
                self._answered.popitem(last=False)

    async def _store(self, event: IncomingEvent) -> bool:
        uid = new_uid()
        now: datetime = self._clock.now()
        # ``sessions`` come from the receiving engine (storage.database.receiving_engine):
        # a short wait for a lock, since the adapter retries, and waiting would hold up
        # every event behind this one, crisis texts included.
        async with self._gate, self._sessions() as session:
            result = await self._insert(session, event, uid, now)
            await session.commit()
        return bool(result.rowcount)

    async def _insert(
        self, session: AsyncSession, event: IncomingEvent, uid: str, now: datetime
    ) -> Any:
        payload = {
            k: (v.value if isinstance(v, EventKind) else v) for k, v in asdict(event).items()
        }
        insert = upsert_insert(session)
        stmt = (
            insert(InboxEvent)
            .values(
                uid=uid,
                platform=event.platform,
                event_id=event.event_id,
                chat_hash=self._vault.keyed_hash(event.platform, event.address),
                payload_enc=self._vault.seal_json("inbox", "payload", uid, payload),
                status=InboxStatus.PENDING,
                received_at=now,
            )
            .on_conflict_do_nothing(index_elements=["platform", "event_id"])
        )
        return await session.execute(stmt)


class InboundThrottle:
    """A flood from one chat can neither slow the others down nor fill the disk: beyond
    ``per_minute`` events in a minute, one notice is stored and the rest are dropped.
    In memory on purpose: it guards the database, so it must not depend on it.

    The same event handed over again (the platform redelivers what we could not commit)
    gets the verdict it had the first time and is not counted again: a database outage
    must not turn someone's ordinary message into a "flood" that is dropped."""

    def __init__(self, per_minute: int) -> None:
        self._limit = per_minute
        self._seen: dict[str, deque[tuple[float, str | None]]] = {}
        self._notified: dict[str, tuple[float, str | None]] = {}

    def admit(
        self, chat: str, now: float, event_id: str | None = None
    ) -> Literal["ok", "notify", "drop"]:
        if len(self._seen) > 10_000:
            self._forget_quiet(now)
        window = self._seen.setdefault(chat, deque())
        while window and now - window[0][0] >= 60:
            window.popleft()
        if event_id is not None:
            if any(seen == event_id for _, seen in window):
                return "ok"
            if self._notified.get(chat, (0.0, None))[1] == event_id:
                return "notify"
        if len(window) < self._limit:
            window.append((now, event_id))
            return "ok"
        if now - self._notified.get(chat, (float("-inf"), None))[0] >= 60:
            self._notified[chat] = (now, event_id)
            return "notify"
        return "drop"

    def _forget_quiet(self, now: float) -> None:
        """Chats silent for a minute need no memory: bounded however many chats we see."""
        self._seen = {c: w for c, w in self._seen.items() if w and now - w[-1][0] < 60}
        self._notified = {c: t for c, t in self._notified.items() if now - t[0] < 60}


def event_from_payload(payload: dict[str, object]) -> IncomingEvent:
    data = dict(payload)
    data["kind"] = EventKind(str(data["kind"]))
    return IncomingEvent(**data)  # type: ignore[arg-type]
