"""Takes committed inbox rows one by one; each is handled in one transaction together
with the state changes and outbox rows it causes."""

from __future__ import annotations

import contextlib
import logging
import traceback
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased

from feedback_bot.conversation.router import Router
from feedback_bot.conversation.turn import Turn, load_people
from feedback_bot.delivery.inbox import event_from_payload
from feedback_bot.delivery.outbox import enqueue
from feedback_bot.metrics import MESSAGES_IN
from feedback_bot.ports import IncomingEvent
from feedback_bot.privacy.crypto import DecryptionError, token_key_id
from feedback_bot.scheduling.clock import Clock
from feedback_bot.services import Services
from feedback_bot.storage.models import InboxEvent
from feedback_bot.storage.states import Delivery, InboxStatus, OutboxKind

log = logging.getLogger(__name__)


class Processor:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        deps: Services,
        clock: Clock,
        router: Router,
        gate: AbstractAsyncContextManager[Any] | None = None,
        on_committed: Callable[[], None] = lambda: None,
    ) -> None:
        self._sessions = sessions
        # Told after each event's transaction commits (the delivery loop is woken by it):
        # what the turn queued goes out now, not after the inbox has been asked again.
        self._on_committed = on_committed
        # SQLite: shared with the inbox (storage.database.write_gate), held per turn.
        self._gate = gate or contextlib.nullcontext()
        self._deps = deps
        self._clock = clock
        self.router = router

    async def process_pending(self, limit: int = 500) -> int:
        done = 0
        while done < limit:
            if not await self._process_next():
                break
            done += 1
            self._on_committed()
        return done

    async def _process_next(self) -> bool:
        async with self._gate, self._sessions() as session:
            try:
                async with session.begin():
                    return await self._claim_and_handle(session)
            except _HandlerFailed as failed:
                # The handler's half-done work went with the rollback; the row is marked
                # failed, and the person told, in a transaction of its own.
                async with session.begin():
                    await self._mark_failed(session, failed.row_id, failed.event)
                return True

    async def _claim_and_handle(self, session: AsyncSession) -> bool:
        earlier = aliased(InboxEvent)
        stmt = (
            select(InboxEvent)
            .where(
                InboxEvent.status == InboxStatus.PENDING,
                # Only a chat's oldest pending event: while another worker holds it,
                # this chat's later events wait, so one conversation stays in order.
                ~exists().where(
                    earlier.chat_hash == InboxEvent.chat_hash,
                    earlier.status == InboxStatus.PENDING,
                    earlier.id < InboxEvent.id,
                ),
            )
            .order_by(InboxEvent.id)
            .limit(1)
            .with_for_update(skip_locked=True)
        )
        row = (await session.execute(stmt)).scalar_one_or_none()
        if row is None:
            return False
        row_id, uid = row.id, row.uid
        try:
            payload = self._deps.vault.open_json("inbox", "payload", uid, row.payload_enc or "")
            event = event_from_payload(payload)
        except Exception as exc:
            # A row nobody can read (its key removed too early, a partial rotation)
            # is set aside, so everyone behind it, crisis texts included, is served.
            row.status = InboxStatus.QUARANTINED
            log.error(
                "engine: inbox row %s quarantined: %s (key id %s); "
                "see `feedback-bot inbox quarantined`",
                row_id,
                exc if isinstance(exc, DecryptionError) else type(exc).__name__,
                token_key_id(row.payload_enc) or "none",
            )
            return True
        risky = self._risky(event)
        if risky:
            status = await self._handle_risky(session, row, event)
        else:
            # A plain turn needs no savepoint: if it fails, all of it is rolled back and
            # the row is marked failed afterwards (_HandlerFailed), one statement fewer
            # each way on the common path.
            try:
                await self._handle(session, event, None, risky=False)
            except Exception as exc:
                _log_failure(exc, row_id)
                raise _HandlerFailed(row_id, event) from exc
            status = InboxStatus.DONE
        self._done(row, event, status)
        return True

    async def _handle_risky(
        self, session: AsyncSession, row: InboxEvent, event: IncomingEvent
    ) -> InboxStatus:
        """A crisis text: its reply is queued in a savepoint of its own before the rest of
        the turn, which runs in another, so whatever fails later the reply stays queued."""
        # pysqlite opens a transaction only at the first write. Without one, the
        # SAVEPOINT below would open it, and releasing the savepoint would COMMIT the
        # handler's work before this row is marked done: a crash in between replays
        # the event on top of its own effects. Writing first keeps it one transaction.
        row.processed_at = self._clock.now()
        await session.flush()
        try:
            turn = await self._answer_crisis(session, event)
            async with session.begin_nested():
                await self._handle(session, event, turn, risky=True)
            return InboxStatus.DONE
        except Exception as exc:  # one bad event must not block the rest
            _log_failure(exc, row.id)
            self._apologise(session, event)
            return InboxStatus.FAILED

    def _done(self, row: InboxEvent, event: IncomingEvent, status: InboxStatus) -> None:
        row.status = status
        row.processed_at = self._clock.now()
        row.payload_enc = None  # the content has done its job; keep only the dedup key
        MESSAGES_IN.labels(platform=event.platform, kind=event.kind.value).inc()

    async def _mark_failed(self, session: AsyncSession, row_id: int, event: IncomingEvent) -> None:
        row = await session.get(InboxEvent, row_id, with_for_update=True, populate_existing=True)
        if row is None or row.status != InboxStatus.PENDING:
            return  # another worker took it over meanwhile (PostgreSQL)
        self._apologise(session, event)
        self._done(row, event, InboxStatus.FAILED)

    async def _answer_crisis(self, session: AsyncSession, event: IncomingEvent) -> Turn | None:
        """The crisis reply, in a savepoint of its own. If even this fails, the reply
        with the deployment's resources is queued instead. The turn loaded here, or None
        when this failed."""
        try:
            async with session.begin_nested():
                turn = Turn(session=session, deps=self._deps, event=event, now=self._clock.now())
                await load_people(turn)
                self.router.crisis_reply(turn)
            return turn
        except Exception as exc:
            log.error("engine: crisis turn failed (%s); plain crisis reply", type(exc).__name__)
        if event.event_id not in self.router.already_warned:
            enqueue(
                session,
                self._deps.vault,
                platform=event.platform,
                address=event.address,
                text=self._deps.crisis_reply(self._deps.config.language),
                kind=OutboxKind.SAFETY,
                delivery=Delivery.URGENT,
                now=self._clock.now(),
            )
        self.router.already_warned.discard(event.event_id)
        return None

    async def _handle(
        self, session: AsyncSession, event: IncomingEvent, turn: Turn | None, *, risky: bool
    ) -> None:
        if turn is None:
            turn = Turn(session=session, deps=self._deps, event=event, now=self._clock.now())
            await load_people(turn)
        await self.router.handle(turn, risky=risky, answered=risky)

    def _risky(self, event: IncomingEvent) -> bool:
        return bool(event.text) and self._deps.detector.check(event.text or "") is not None

    def _apologise(self, session: AsyncSession, event: IncomingEvent) -> None:
        now: datetime = self._clock.now()
        text = self._deps.catalog.t("common.something_wrong", self._deps.config.language)
        enqueue(
            session,
            self._deps.vault,
            platform=event.platform,
            address=event.address,
            text=text,
            kind=OutboxKind.EPHEMERAL,
            delivery=Delivery.EPHEMERAL,
            now=now,
        )


class _HandlerFailed(Exception):
    def __init__(self, row_id: int, event: IncomingEvent) -> None:
        super().__init__(row_id)
        self.row_id = row_id
        self.event = event


def _log_failure(exc: BaseException, row_id: int) -> None:
    # Where it failed, but not the exception's message: that may quote content.
    where = " < ".join(
        f"{Path(f.filename).name}:{f.lineno}"
        for f in reversed(traceback.extract_tb(exc.__traceback__)[-4:])
    )
    log.error("engine: event failed (%s at %s) on inbox row %s", type(exc).__name__, where, row_id)
