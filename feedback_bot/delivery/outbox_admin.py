"""``feedback-bot outbox``: what is waiting, what died, and putting it back."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from feedback_bot.scheduling.clock import Clock
from feedback_bot.storage.models import OutboxMessage
from feedback_bot.storage.states import OutboxStatus


async def summary(sessions: async_sessionmaker[AsyncSession]) -> dict[str, Any]:
    async with sessions() as session:
        by_status = (
            await session.execute(
                select(OutboxMessage.status, func.count(), func.min(OutboxMessage.created_at))
                .group_by(OutboxMessage.status)
                .order_by(OutboxMessage.status)
            )
        ).all()
        dead = (
            await session.execute(
                select(
                    OutboxMessage.id,
                    OutboxMessage.platform,
                    OutboxMessage.kind,
                    OutboxMessage.attempts,
                    OutboxMessage.last_error,
                )
                .where(OutboxMessage.status == OutboxStatus.DEAD)
                .order_by(OutboxMessage.id)
                .limit(100)
            )
        ).all()
    return {
        "by_status": [(s, n, oldest.isoformat() if oldest else None) for s, n, oldest in by_status],
        "dead": [tuple(row) for row in dead],
    }


async def retry(sessions: async_sessionmaker[AsyncSession], clock: Clock, message_id: int) -> bool:
    async with sessions() as session, session.begin():
        row = await session.get(OutboxMessage, message_id)
        if row is None or row.status not in (
            OutboxStatus.DEAD,
            OutboxStatus.FAILED,
            OutboxStatus.UNAVAILABLE,
            OutboxStatus.UNKNOWN,
        ):
            return False
        row.status = OutboxStatus.PENDING
        row.attempts = 0
        row.next_attempt_at = clock.now()
        row.last_error = None
        return True
