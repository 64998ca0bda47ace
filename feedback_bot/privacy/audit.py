"""Who did what, by id only: never content, never names typed by clients."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from feedback_bot.storage.models import AuditEvent


async def record(
    session: AsyncSession,
    at: datetime,
    actor: str,
    action: str,
    subject_type: str | None = None,
    subject_id: int | None = None,
    **details: int | str | bool | None,
) -> None:
    session.add(
        AuditEvent(
            at=at,
            actor=actor,
            action=action,
            subject_type=subject_type,
            subject_id=subject_id,
            details=dict(details),
        )
    )
