"""The daily purge: nothing is kept longer than the retention period."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from feedback_bot.privacy.audit import record
from feedback_bot.storage.models import (
    AllianceScore,
    Checkin,
    Digest,
    FeedbackItem,
    InboxEvent,
    OutboxMessage,
    PractitionerMessage,
    SafetyEvent,
)
from feedback_bot.storage.states import InboxStatus, OutboxStatus

PROCESSED_INBOX_DAYS = 30  # long enough to drop any platform redelivery as a duplicate


async def purge_expired(
    sessions: async_sessionmaker[AsyncSession], now: datetime, retention_days: int
) -> dict[str, int]:
    cutoff = now - timedelta(days=retention_days)
    counts: dict[str, int] = {}
    async with sessions() as session, session.begin():
        # Conversations may point at items about to go; unlink them first.
        await session.execute(
            update(FeedbackItem).where(FeedbackItem.created_at < cutoff).values(checkin_id=None)
        )
        for name, stmt in (
            (
                "practitioner_message",
                delete(PractitionerMessage).where(PractitionerMessage.created_at < cutoff),
            ),
            ("feedback_item", delete(FeedbackItem).where(FeedbackItem.created_at < cutoff)),
            ("alliance_score", delete(AllianceScore).where(AllianceScore.at < cutoff)),
            ("checkin", delete(Checkin).where(Checkin.slot_at < cutoff)),
            ("safety_event", delete(SafetyEvent).where(SafetyEvent.at < cutoff)),
            ("digest", delete(Digest).where(Digest.created_at < cutoff)),
            (
                "outbox",
                delete(OutboxMessage).where(
                    OutboxMessage.created_at < cutoff,
                    OutboxMessage.status.notin_(
                        [OutboxStatus.PENDING, OutboxStatus.FAILED, OutboxStatus.SENDING]
                    ),
                ),
            ),
            (
                "inbox",
                delete(InboxEvent).where(
                    InboxEvent.received_at < now - timedelta(days=PROCESSED_INBOX_DAYS),
                    InboxEvent.status != InboxStatus.PENDING,
                ),
            ),
        ):
            result = await session.execute(stmt)
            counts[name] = int(result.rowcount or 0)  # type: ignore[attr-defined]
        await record(
            session,
            now,
            "system",
            "retention.purge",
            None,
            None,
            **{f"rows_{k}": v for k, v in counts.items()},
        )
    return counts
