"""The first durable step: an incoming event is committed here, deduplicated on
(platform, event_id), before the adapter may acknowledge it to its platform."""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import asdict, replace
from datetime import datetime
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from feedback_bot.ports import EventKind, IncomingEvent
from feedback_bot.privacy.vault import Vault
from feedback_bot.scheduling.clock import Clock
from feedback_bot.storage.database import upsert_insert
from feedback_bot.storage.models import InboxEvent, new_uid
from feedback_bot.storage.states import InboxStatus

log = logging.getLogger(__name__)

# Called when the database can't take an urgent event; sends crisis resources directly.
EmergencyReply = Callable[[IncomingEvent], Awaitable[None]]
RiskCheck = Callable[[str], bool]


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
        per_minute: int = 20,
    ) -> None:
        self._sessions = sessions
        self._vault = vault
        self._clock = clock
        self._is_risky = is_risky
        self._emergency_reply = emergency_reply
        self._on_new = on_new
        self._throttle = InboundThrottle(per_minute)

    async def receive(self, event: IncomingEvent) -> bool:
        """Commit the event; True if it was new. Raises if it could not be stored, so the
        adapter does not advance its cursor and the platform redelivers it."""
        # Screened before anything else: if storing fails, the person still gets help.
        risky = bool(event.text) and self._is_risky(event.text or "")
        if not risky:
            verdict = self._throttle.admit(
                self._vault.keyed_hash(event.platform, event.address),
                self._clock.now().timestamp(),
            )
            if verdict == "drop":
                return False
            if verdict == "notify" and event.kind is not EventKind.GROUP:
                # A group keeps its GROUP kind: it gets the refusal, never another text.
                # One kind notice per flood; the flooding text itself is not kept.
                event = replace(
                    event,
                    kind=EventKind.THROTTLED,
                    text=None,
                    command=None,
                    args="",
                    choice_id=None,
                )
        try:
            inserted = await self._store(event)
        except Exception:
            log.error("inbox: could not store event", extra={"platform": event.platform})
            if risky:
                await self._emergency_reply(event)
            raise
        if inserted:
            self._on_new()
        return inserted

    async def _store(self, event: IncomingEvent) -> bool:
        uid = new_uid()
        payload = {
            k: (v.value if isinstance(v, EventKind) else v) for k, v in asdict(event).items()
        }
        now: datetime = self._clock.now()
        async with self._sessions() as session, session.begin():
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
            result = await session.execute(stmt)
        return bool(result.rowcount)  # type: ignore[attr-defined]


class InboundThrottle:
    """A flood from one chat can neither slow the others down nor fill the disk: beyond
    ``per_minute`` events in a minute, one notice is stored and the rest are dropped.
    In memory on purpose: it guards the database, so it must not depend on it."""

    def __init__(self, per_minute: int) -> None:
        self._limit = per_minute
        self._seen: dict[str, deque[float]] = {}
        self._notified: dict[str, float] = {}

    def admit(self, chat: str, now: float) -> Literal["ok", "notify", "drop"]:
        if len(self._seen) > 10_000:
            self._forget_quiet(now)
        window = self._seen.setdefault(chat, deque())
        while window and now - window[0] >= 60:
            window.popleft()
        if len(window) < self._limit:
            window.append(now)
            return "ok"
        if now - self._notified.get(chat, float("-inf")) >= 60:
            self._notified[chat] = now
            return "notify"
        return "drop"

    def _forget_quiet(self, now: float) -> None:
        """Chats silent for a minute need no memory: bounded however many chats we see."""
        self._seen = {c: w for c, w in self._seen.items() if w and now - w[-1] < 60}
        self._notified = {c: t for c, t in self._notified.items() if now - t < 60}


def event_from_payload(payload: dict[str, object]) -> IncomingEvent:
    data = dict(payload)
    data["kind"] = EventKind(str(data["kind"]))
    return IncomingEvent(**data)  # type: ignore[arg-type]
