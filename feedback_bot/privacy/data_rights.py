"""Export (GDPR Art. 20) and erasure (Art. 17) of everything held about one client."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from feedback_bot.privacy.access import read_own_text
from feedback_bot.privacy.vault import Vault
from feedback_bot.storage.models import (
    AllianceScore,
    Appointment,
    ChatPace,
    Checkin,
    Client,
    ConsentRecord,
    Conversation,
    FeedbackItem,
    Identity,
    InboxEvent,
    InviteCode,
    OutboxMessage,
    PractitionerMessage,
    SafetyEvent,
)
from feedback_bot.storage.states import OutboxStatus


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


async def export_client(session: AsyncSession, vault: Vault, client_id: int) -> dict[str, Any]:
    client = await session.get(Client, client_id)
    assert client is not None

    async def rows(model: Any, *where: Any) -> list[Any]:
        return list((await session.execute(select(model).where(*where))).scalars())

    items = await rows(FeedbackItem, FeedbackItem.client_id == client_id)
    return {
        "exported_at": None,
        "client": {
            "alias": client.alias,
            "status": client.status,
            "language": client.language,
            "timezone": client.timezone,
            "checkins": client.checkin_cadence,
            "quiet_hours": [client.quiet_start, client.quiet_end],
            "practitioner_may_be_alerted_on_risk": client.risk_alerts,
            "read_notices": client.loop_notices,
            "created_at": _iso(client.created_at),
        },
        "consent": [
            {
                "version": c.version,
                "given_at": _iso(c.given_at),
                "withdrawn_at": _iso(c.withdrawn_at),
            }
            for c in await rows(ConsentRecord, ConsentRecord.client_id == client_id)
        ],
        "chats": [
            {"platform": i.platform, "address": i.address, "linked_at": _iso(i.created_at)}
            for i in await rows(Identity, Identity.client_id == client_id)
        ],
        "feedback": [
            {
                "created_at": _iso(i.created_at),
                "submitted_at": _iso(i.submitted_at),
                "what": i.valence,
                "your_words": read_own_text(vault, client_id, i),
                "where_it_went": i.routing,
                "status": i.status,
                "seen_by_practitioner": i.digest_id is not None,
                "edited_at": _iso(i.edited_at),
                "withdrawn_at": _iso(i.withdrawn_at),
            }
            for i in items
        ],
        "checkins": [
            {
                "slot": _iso(c.slot_at),
                "kind": c.kind,
                "status": c.status,
                "answer": c.response,
                "sent_at": _iso(c.sent_at),
                "answered_at": _iso(c.answered_at),
            }
            for c in await rows(Checkin, Checkin.client_id == client_id)
        ],
        "alliance_scores": [
            {"item": s.item_key, "score": s.score, "at": _iso(s.at)}
            for s in await rows(AllianceScore, AllianceScore.client_id == client_id)
        ],
        "sessions": [
            {"starts_at": _iso(a.starts_at), "weekly": a.weekly, "minutes": a.duration_minutes}
            for a in await rows(Appointment, Appointment.client_id == client_id)
        ],
        # What you were told on your practitioner's behalf, and their own words to you.
        "from_your_practitioner": [
            {
                "at": _iso(m.created_at),
                "kind": m.kind,
                "their_words": None
                if m.text_enc is None
                else vault.open("practitioner_message", "text", m.uid, m.text_enc),
            }
            for m in await rows(PractitionerMessage, PractitionerMessage.client_id == client_id)
        ],
        "safety_notices": [
            {"at": _iso(s.at), "practitioner_alerted": s.alerted}
            for s in await rows(SafetyEvent, SafetyEvent.client_id == client_id)
        ],
    }


def export_json(data: dict[str, Any], now: datetime) -> bytes:
    data = {**data, "exported_at": now.isoformat()}
    return json.dumps(data, indent=2, ensure_ascii=False).encode("utf-8")


async def erase_client(session: AsyncSession, vault: Vault, client_id: int) -> dict[str, int]:
    """Delete every row linked to the client. Returns counts (for the audit record)."""
    identities = list(
        (await session.execute(select(Identity).where(Identity.client_id == client_id))).scalars()
    )
    chat_hashes = [vault.keyed_hash(i.platform, i.address) for i in identities]
    counts: dict[str, int] = {}

    async def wipe(name: str, stmt: Any) -> None:
        result = await session.execute(stmt)
        counts[name] = int(result.rowcount or 0)  # type: ignore[attr-defined]

    ident_ids = [i.id for i in identities]
    await _unqueue_digests_with(session, client_id, counts)
    if chat_hashes:
        await wipe("inbox", delete(InboxEvent).where(InboxEvent.chat_hash.in_(chat_hashes)))
        await wipe("chat_pace", delete(ChatPace).where(ChatPace.chat_hash.in_(chat_hashes)))
    if ident_ids:
        await wipe("outbox", delete(OutboxMessage).where(OutboxMessage.identity_id.in_(ident_ids)))
        await wipe(
            "conversation", delete(Conversation).where(Conversation.identity_id.in_(ident_ids))
        )
    for name, model in (
        ("practitioner_message", PractitionerMessage),
        ("alliance_score", AllianceScore),
        ("feedback_item", FeedbackItem),
        ("checkin", Checkin),
        ("safety_event", SafetyEvent),
        ("appointment", Appointment),
        ("consent_record", ConsentRecord),
        ("invite_code", InviteCode),
        ("identity", Identity),
    ):
        await wipe(name, delete(model).where(model.client_id == client_id))
    await wipe("client", delete(Client).where(Client.id == client_id))
    return counts


async def _unqueue_digests_with(
    session: AsyncSession, client_id: int, counts: dict[str, int]
) -> None:
    """A digest carrying the client's words that has not been delivered (waiting for a
    retry, dead, or of unknown fate) would deliver or keep them after the erasure. It is
    removed, whoever it is addressed to; the other clients' items in it go back to waiting
    for the next digest, since nobody has read them."""
    digest_ids = select(FeedbackItem.digest_id).where(
        FeedbackItem.client_id == client_id, FeedbackItem.digest_id.is_not(None)
    )
    undelivered = (
        (
            await session.execute(
                select(OutboxMessage.digest_id).where(
                    OutboxMessage.digest_id.in_(digest_ids),
                    OutboxMessage.status != OutboxStatus.SENT,
                )
            )
        )
        .scalars()
        .all()
    )
    stale = sorted({d for d in undelivered if d is not None})
    if not stale:
        counts["queued_digest"] = 0
        return
    result = await session.execute(
        delete(OutboxMessage).where(
            OutboxMessage.digest_id.in_(stale), OutboxMessage.status != OutboxStatus.SENT
        )
    )
    counts["queued_digest"] = int(result.rowcount or 0)  # type: ignore[attr-defined]
    partly_delivered = select(OutboxMessage.digest_id).where(
        OutboxMessage.digest_id.in_(stale), OutboxMessage.status == OutboxStatus.SENT
    )
    await session.execute(
        update(FeedbackItem)
        .where(
            FeedbackItem.digest_id.in_(stale),
            FeedbackItem.digest_id.not_in(partly_delivered),
            FeedbackItem.client_id != client_id,
        )
        .values(digest_id=None)
    )
