"""The daily purge: nothing is kept longer than the retention period.

``RULES`` says, for every table, what it keeps and for how long; docs/retention.md is the
same list for people, and tests/test_retention.py fails when a table has no rule."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, delete, exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from feedback_bot.delivery.shared_pacing import forget_chats
from feedback_bot.privacy.audit import practice_of, record
from feedback_bot.privacy.data_rights import erase_client
from feedback_bot.privacy.vault import Vault
from feedback_bot.storage.models import (
    AllianceScore,
    Appointment,
    AuditEvent,
    Checkin,
    Client,
    ConsoleLoginLink,
    ConsoleSession,
    Digest,
    FeedbackItem,
    InboxEvent,
    InviteCode,
    OutboxMessage,
    PractitionerMessage,
    SafetyEvent,
)
from feedback_bot.storage.states import ClientStatus, InboxStatus, OutboxStatus

PROCESSED_INBOX_DAYS = 30  # long enough to drop any platform redelivery as a duplicate

# "R" below is FEEDBACK_BOT_RETENTION_DAYS; "A" is FEEDBACK_BOT_AUDIT_RETENTION_DAYS.
RULES: dict[str, str] = {
    "practice": "configuration: kept while the practice uses the bot",
    "practice_settings": "configuration (no personal data): goes with its practice",
    "practitioner": "configuration: kept while the practice keeps them",
    "client": "until R days after the client stopped (or after an invitation nobody took up)",
    "identity": "a practitioner's chat while linked; a client's goes with the client",
    "conversation": "ids and option keys only; goes with its chat",
    "invite_code": "a hash of the code; R days after it was issued, or with its client",
    "consent_record": "proof of consent while the client is there; goes with the client",
    "feedback_item": "R days after it was written, or with the client",
    "practitioner_message": "told for their practitioner: R days, or with the client",
    "appointment": "a one-off session R days after it, a weekly series with the client",
    "checkin": "R days after its slot, or with the client",
    "alliance_score": "R days after it was given, or with the client",
    "safety_event": "R days after it, or with the client",
    "digest": "no content; R days after it was made",
    "inbox": f"processed rows {PROCESSED_INBOX_DAYS} days, or with the client's chat",
    "outbox": "finished rows R days (sent ones hold no words); a client's go with them",
    "audit_event": "ids and counts only; A days, as the practice's law requires",
    "cursor": "the platform's position (no personal data): kept",
    "key_material": "the sealed lookup-hash key (no personal data): kept for the deployment's life",
    "platform_pace": "a platform's send tokens (no personal data): kept",
    "chat_pace": "a chat's keyed hash and when it may next be sent to: a day after that time",
    "console_admin": "configuration: kept while the practice keeps them",
    "console_login_link": "a hash of the token; goes once it has expired (minutes)",
    "console_session": "a hash of the cookie's token; goes once it has expired (hours)",
}


async def purge_expired(
    sessions: async_sessionmaker[AsyncSession],
    vault: Vault,
    now: datetime,
    retention_days: int,
    audit_retention_days: int,
) -> dict[str, int]:
    cutoff = now - timedelta(days=retention_days)
    counts: dict[str, int] = {}
    async with sessions() as session, session.begin():
        counts["client"] = await _expired_clients(session, vault, now, cutoff)
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
                "appointment",
                delete(Appointment).where(
                    Appointment.weekly.is_(False), Appointment.starts_at < cutoff
                ),
            ),
            (
                "invite_code",
                delete(InviteCode).where(
                    InviteCode.created_at < cutoff, InviteCode.expires_at < now
                ),
            ),
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
            (
                "console_login_link",
                delete(ConsoleLoginLink).where(ConsoleLoginLink.expires_at < now),
            ),
            ("console_session", delete(ConsoleSession).where(ConsoleSession.expires_at < now)),
            (
                "audit_event",
                delete(AuditEvent).where(
                    AuditEvent.at < now - timedelta(days=audit_retention_days)
                ),
            ),
        ):
            result = await session.execute(stmt)
            counts[name] = int(result.rowcount or 0)  # type: ignore[attr-defined]
        counts["chat_pace"] = await forget_chats(session, now)
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


async def _expired_clients(
    session: AsyncSession, vault: Vault, now: datetime, cutoff: datetime
) -> int:
    """Clients who stopped more than the retention period ago, and invitations nobody took
    up within it, go entirely: every row linked to them, as on the client's own "delete".
    The audit keeps that it happened, by id."""
    live_code = exists().where(InviteCode.client_id == Client.id, InviteCode.expires_at >= now)
    expired = (
        (
            await session.execute(
                select(Client.id).where(
                    and_(
                        Client.status == ClientStatus.STOPPED,
                        func.coalesce(Client.status_changed_at, Client.created_at) < cutoff,
                    )
                    | and_(
                        Client.status == ClientStatus.INVITED,
                        Client.created_at < cutoff,
                        ~live_code,
                    )
                )
            )
        )
        .scalars()
        .all()
    )
    for client_id in expired:
        practice_id = await practice_of(session, "client", client_id)
        rows = await erase_client(session, vault, client_id)
        await record(
            session,
            now,
            "system",
            "client.expired",
            "client",
            client_id,
            practice_id=practice_id,
            **{f"rows_{k}": v for k, v in rows.items()},
        )
    return len(expired)
