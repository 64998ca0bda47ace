"""Who did what, by id only: never content, never names typed by clients."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from feedback_bot.storage.models import AuditEvent, Client, ConsoleAdmin, Digest, Practitioner


async def record(
    session: AsyncSession,
    at: datetime,
    actor: str,
    action: str,
    subject_type: str | None = None,
    subject_id: int | None = None,
    *,
    practice_id: int | None = None,
    **details: int | str | bool | None,
) -> None:
    """``practice_id`` is found from the subject when not given; give it when the subject
    is gone already (an erasure), so the event still lists under its practice."""
    if practice_id is None:
        practice_id = await practice_of(session, subject_type, subject_id)
    session.add(
        AuditEvent(
            at=at,
            actor=actor,
            action=action,
            subject_type=subject_type,
            subject_id=subject_id,
            practice_id=practice_id,
            details=dict(details),
        )
    )


async def practice_of(
    session: AsyncSession, subject_type: str | None, subject_id: int | None
) -> int | None:
    """The practice an audit subject belongs to, or None (gone, or no practice's)."""
    if subject_id is None:
        return None
    practitioner_id: int | None = None
    if subject_type == "practice":
        return subject_id
    if subject_type == "console_admin":
        admin = await session.get(ConsoleAdmin, subject_id)
        return admin.practice_id if admin is not None else None
    if subject_type == "practitioner":
        practitioner_id = subject_id
    elif subject_type == "client":
        client = await session.get(Client, subject_id)
        practitioner_id = client.practitioner_id if client is not None else None
    elif subject_type == "digest":
        digest = await session.get(Digest, subject_id)
        practitioner_id = digest.practitioner_id if digest is not None else None
    if practitioner_id is None:
        return None
    practitioner = await session.get(Practitioner, practitioner_id)
    return practitioner.practice_id if practitioner is not None else None


async def list_events(
    session: AsyncSession,
    *,
    practice_id: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 200,
) -> list[AuditEvent]:
    """The newest events first: of one practice, from ``since`` (inclusive) to ``until``
    (exclusive)."""
    stmt = select(AuditEvent)
    if practice_id is not None:
        stmt = stmt.where(AuditEvent.practice_id == practice_id)
    if since is not None:
        stmt = stmt.where(AuditEvent.at >= since)
    if until is not None:
        stmt = stmt.where(AuditEvent.at < until)
    rows = await session.execute(
        stmt.order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).limit(limit)
    )
    return list(rows.scalars())
