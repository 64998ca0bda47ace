"""What the console's pages list, always within one practice. Nothing here reads a
client's words: names, aliases, statuses, times and counts only."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from feedback_bot.people import directory
from feedback_bot.people.directory import ClientInfo, PractitionerInfo
from feedback_bot.privacy.audit import list_events
from feedback_bot.storage.models import (
    AuditEvent,
    Client,
    ConsoleAdmin,
    Identity,
    OutboxMessage,
    Practitioner,
)
from feedback_bot.storage.states import OutboxStatus


async def practitioners(session: AsyncSession, practice_id: int) -> list[PractitionerInfo]:
    """Active ones first, then by name."""
    found = await directory.list_practitioners(session, practice_id)
    return sorted(found, key=lambda p: (not p.active, p.name.casefold(), p.id))


async def clients(session: AsyncSession, practice_id: int) -> list[ClientInfo]:
    return await directory.list_clients(session, practice_id)


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


async def audit(session: AsyncSession, practice_id: int, limit: int = 200) -> list[AuditEvent]:
    """The practice's part of the audit log (ids and counts, never content)."""
    return await list_events(session, practice_id=practice_id, limit=limit)


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


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
