"""``feedback-bot inbox|outbox quarantined``: rows set aside because they could not be
decrypted, and putting them back once their key is configured again.

What is shown is about the row, never its content: id, time, the key id the ciphertext
names (read from the stored value, nothing is decrypted for it), and why it cannot be
read with the keys configured now.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from feedback_bot.privacy.crypto import DecryptionError, blob_key_id, token_key_id
from feedback_bot.privacy.vault import Vault
from feedback_bot.scheduling.clock import Clock
from feedback_bot.storage.models import InboxEvent, OutboxMessage
from feedback_bot.storage.states import InboxStatus, OutboxStatus

Queue = Literal["inbox", "outbox"]
READABLE = "readable now: retry"


def _problem(vault: Vault, queue: Queue, row: Any) -> str:
    """Why the row can't be read with today's keys; READABLE when it can."""
    try:
        if queue == "inbox":
            vault.open_json("inbox", "payload", row.uid, row.payload_enc or "")
        else:
            vault.open_json("outbox", "payload", row.uid, row.payload_enc)
            if row.attachments_enc:
                vault.open_bytes("outbox", "attachments", row.uid, row.attachments_enc)
    except DecryptionError as exc:
        return str(exc)
    except Exception as exc:  # decrypts, but is not what we wrote
        return f"unreadable ({type(exc).__name__})"
    return READABLE


def _describe(vault: Vault, queue: Queue, row: Any) -> dict[str, Any]:
    at: datetime = row.received_at if queue == "inbox" else row.created_at
    key_ids = {token_key_id(row.payload_enc)}
    if queue == "outbox" and row.attachments_enc:
        key_ids.add(blob_key_id(row.attachments_enc))
    return {
        "id": row.id,
        "at": at.isoformat(),
        "platform": row.platform,
        "key_id": ",".join(sorted(k or "none" for k in key_ids)),
        "key_configured": all(vault.keys.has_key(k) for k in key_ids),
        "reason": _problem(vault, queue, row),
    }


async def _rows(session: AsyncSession, queue: Queue, ids: list[int] | None) -> list[Any]:
    model: Any = InboxEvent if queue == "inbox" else OutboxMessage
    status = InboxStatus.QUARANTINED if queue == "inbox" else OutboxStatus.QUARANTINED
    stmt = select(model).where(model.status == status)
    if ids is not None:
        stmt = stmt.where(model.id.in_(ids))
    return list((await session.execute(stmt.order_by(model.id))).scalars())


async def quarantined(
    sessions: async_sessionmaker[AsyncSession], vault: Vault, queue: Queue
) -> list[dict[str, Any]]:
    async with sessions() as session:
        return [_describe(vault, queue, row) for row in await _rows(session, queue, None)]


async def retry(
    sessions: async_sessionmaker[AsyncSession],
    vault: Vault,
    clock: Clock,
    queue: Queue,
    ids: list[int] | None,
) -> dict[str, list[int]]:
    """Put quarantined rows that can be read now back in their queue (``ids`` None: all).
    Rows still unreadable stay where they are: they would only be set aside again."""
    requeued: list[int] = []
    unreadable: list[int] = []
    async with sessions() as session, session.begin():
        for row in await _rows(session, queue, ids):
            if _problem(vault, queue, row) != READABLE:
                unreadable.append(row.id)
                continue
            if isinstance(row, InboxEvent):
                row.status = InboxStatus.PENDING
            else:
                row.status = OutboxStatus.PENDING
                row.next_attempt_at = clock.now()
                row.last_error = None
                row.claimed_by = None
            requeued.append(row.id)
    found = set(requeued) | set(unreadable)
    missing = [i for i in ids or [] if i not in found]
    return {"requeued": requeued, "unreadable": unreadable, "not_quarantined": missing}
