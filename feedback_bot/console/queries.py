"""What the console's pages list, always within one practice. Nothing here reads a
client's words: names, aliases, statuses, times and counts only."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from feedback_bot.storage.models import (
    AuditEvent,
    Checkin,
    Client,
    ConsoleAdmin,
    FeedbackItem,
    Identity,
    OutboxMessage,
    Practice,
    Practitioner,
)
from feedback_bot.storage.states import OutboxStatus

AUDIT_SCAN = 2000  # newest events looked at for one practice's page


@dataclass(frozen=True)
class PractitionerRow:
    id: int
    name: str
    active: bool
    linked: bool
    contact: bool
    clients: int


@dataclass(frozen=True)
class ClientRow:
    id: int
    alias: str
    practitioner_id: int
    practitioner: str
    status: str
    last_activity: datetime | None


async def practitioners(session: AsyncSession, practice_id: int) -> list[PractitionerRow]:
    practice = await session.get(Practice, practice_id)
    contact = practice.feedback_contact_id if practice else None
    linked = set(
        (
            await session.execute(
                select(Identity.practitioner_id)
                .join(Practitioner, Practitioner.id == Identity.practitioner_id)
                .where(Practitioner.practice_id == practice_id)
            )
        ).scalars()
    )
    counts = dict(
        (
            await session.execute(
                select(Client.practitioner_id, func.count())
                .join(Practitioner, Practitioner.id == Client.practitioner_id)
                .where(Practitioner.practice_id == practice_id)
                .group_by(Client.practitioner_id)
            )
        ).all()
    )
    people = (
        await session.execute(select(Practitioner).where(Practitioner.practice_id == practice_id))
    ).scalars()
    rows = [
        PractitionerRow(
            p.id, p.name, p.active, p.id in linked, p.id == contact, counts.get(p.id, 0)
        )
        for p in people
    ]
    return sorted(rows, key=lambda r: (not r.active, r.name.casefold(), r.id))


async def practitioner_in(
    session: AsyncSession, practice_id: int, practitioner_id: int
) -> Practitioner | None:
    pr = await session.get(Practitioner, practitioner_id)
    return pr if pr is not None and pr.practice_id == practice_id else None


async def client_in(session: AsyncSession, practice_id: int, client_id: int) -> Client | None:
    client = await session.get(Client, client_id)
    if client is None:
        return None
    return client if await practitioner_in(session, practice_id, client.practitioner_id) else None


async def clients(session: AsyncSession, practice_id: int) -> list[ClientRow]:
    """Every client of the practice with their last activity: when they last submitted
    words, answered a check-in or changed status (times only)."""
    in_practice = (
        select(Client.id)
        .join(Practitioner, Practitioner.id == Client.practitioner_id)
        .where(Practitioner.practice_id == practice_id)
    )
    latest: dict[int, datetime] = {}
    for stmt in (
        select(FeedbackItem.client_id, func.max(FeedbackItem.submitted_at))
        .where(FeedbackItem.client_id.in_(in_practice))
        .group_by(FeedbackItem.client_id),
        select(Checkin.client_id, func.max(Checkin.answered_at))
        .where(Checkin.client_id.in_(in_practice))
        .group_by(Checkin.client_id),
    ):
        for client_id, at in (await session.execute(stmt)).all():
            if at is not None:
                at = _aware(at)
                latest[client_id] = max(at, latest.get(client_id, at))
    names = {
        p.id: p.name
        for p in (
            await session.execute(
                select(Practitioner).where(Practitioner.practice_id == practice_id)
            )
        ).scalars()
    }
    rows = []
    for c in (await session.execute(select(Client).where(Client.id.in_(in_practice)))).scalars():
        times = [t for t in (latest.get(c.id), c.status_changed_at, c.consented_at) if t]
        rows.append(
            ClientRow(
                c.id,
                c.alias,
                c.practitioner_id,
                names.get(c.practitioner_id, "?"),
                str(c.status),
                max(times) if times else None,
            )
        )
    return sorted(rows, key=lambda r: (r.practitioner.casefold(), r.alias.casefold(), r.id))


def _aware(at: datetime) -> datetime:
    from datetime import UTC

    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


async def audit(session: AsyncSession, practice_id: int, limit: int = 200) -> list[AuditEvent]:
    """The practice's part of the audit log: events about it, its practitioners, its
    clients and its admins (by id, as recorded; never content)."""
    practitioners_ = set(
        (
            await session.execute(
                select(Practitioner.id).where(Practitioner.practice_id == practice_id)
            )
        ).scalars()
    )
    clients_ = set(
        (
            await session.execute(
                select(Client.id).where(
                    Client.practitioner_id.in_(
                        select(Practitioner.id).where(Practitioner.practice_id == practice_id)
                    )
                )
            )
        ).scalars()
    )
    admins = set(
        (
            await session.execute(
                select(ConsoleAdmin.id).where(ConsoleAdmin.practice_id == practice_id)
            )
        ).scalars()
    )
    subjects: dict[str, set[int]] = {
        "practice": {practice_id},
        "practitioner": practitioners_,
        "client": clients_,
        "console_admin": admins,
    }
    events = (
        await session.execute(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(AUDIT_SCAN))
    ).scalars()
    mine = []
    for e in events:
        details: dict[str, Any] = e.details or {}
        if (
            e.subject_id is not None and e.subject_id in subjects.get(e.subject_type or "", set())
        ) or details.get("practice") == practice_id:
            mine.append(e)
            if len(mine) >= limit:
                break
    return mine


@dataclass(frozen=True)
class DeadLetter:
    id: int
    status: str
    platform: str
    kind: str
    attempts: int
    reason: str | None
    created_at: datetime
    to: str  # "client", "practitioner" or "admin": never who


async def dead_letters(session: AsyncSession, practice_id: int) -> list[DeadLetter]:
    """Messages to the practice's people that could not be delivered: status, time,
    platform and reason code. Their words stay sealed in the outbox."""
    practitioner_ids = select(Practitioner.id).where(Practitioner.practice_id == practice_id)
    client_ids = select(Client.id).where(Client.practitioner_id.in_(practitioner_ids))
    admin_ids = select(ConsoleAdmin.id).where(ConsoleAdmin.practice_id == practice_id)
    rows = (
        await session.execute(
            select(
                OutboxMessage.id,
                OutboxMessage.status,
                OutboxMessage.platform,
                OutboxMessage.kind,
                OutboxMessage.attempts,
                OutboxMessage.last_error,
                OutboxMessage.created_at,
                Identity.client_id,
                Identity.practitioner_id,
            )
            .join(Identity, Identity.id == OutboxMessage.identity_id)
            .where(
                OutboxMessage.status.in_(
                    [OutboxStatus.DEAD, OutboxStatus.UNAVAILABLE, OutboxStatus.UNKNOWN]
                ),
                or_(
                    Identity.client_id.in_(client_ids),
                    Identity.practitioner_id.in_(practitioner_ids),
                    Identity.admin_id.in_(admin_ids),
                ),
            )
            .order_by(OutboxMessage.id.desc())
            .limit(200)
        )
    ).all()
    return [
        DeadLetter(
            id_,
            str(status),
            platform,
            str(kind),
            attempts,
            reason,
            _aware(created),
            "client" if client_id else "practitioner" if pr_id else "admin",
        )
        for id_, status, platform, kind, attempts, reason, created, client_id, pr_id in rows
    ]


async def dead_letter_in(session: AsyncSession, practice_id: int, message_id: int) -> bool:
    return any(d.id == message_id for d in await dead_letters(session, practice_id))
