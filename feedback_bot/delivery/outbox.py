"""Writing outgoing messages. Always called inside the transaction of the change that
causes them, so a message exists if and only if its cause was committed."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any, NotRequired, TypedDict, Unpack, cast

from sqlalchemy import Table, insert
from sqlalchemy.ext.asyncio import AsyncSession

from feedback_bot.ports import AfterSend, Attachment, Choice, OutgoingMessage
from feedback_bot.privacy.vault import Vault
from feedback_bot.storage.models import OutboxMessage, new_uid
from feedback_bot.storage.states import Delivery, OutboxKind, OutboxStatus


class OutboxFields(TypedDict):
    """What a message is; :func:`outbox_values` has the defaults of the optional ones."""

    platform: str
    address: str
    text: str
    now: datetime
    identity_id: NotRequired[int | None]
    choices: NotRequired[tuple[Choice, ...]]
    attachments: NotRequired[tuple[Attachment, ...]]
    protect: NotRequired[bool]
    kind: NotRequired[OutboxKind]
    delivery: NotRequired[Delivery]
    then: NotRequired[AfterSend]
    digest_id: NotRequired[int | None]
    not_before: NotRequired[datetime | None]


def enqueue(session: AsyncSession, vault: Vault, **fields: Unpack[OutboxFields]) -> OutboxMessage:
    """One message, as an ORM row (callers may read its id after a flush)."""
    row = OutboxMessage(**outbox_values(vault, **fields))
    session.add(row)
    return row


async def enqueue_many(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Rows made by :func:`outbox_values`, written in one executemany: a weekly burst
    queues thousands at once, and an ORM object (and a round trip) per row was most of
    its cost. Nothing reads them back in this transaction."""
    if rows:
        conn = await session.connection()
        await conn.execute(insert(cast(Table, OutboxMessage.__table__)), list(rows))


def outbox_values(
    vault: Vault,
    *,
    platform: str,
    address: str,
    text: str,
    now: datetime,
    identity_id: int | None = None,
    choices: tuple[Choice, ...] = (),
    attachments: tuple[Attachment, ...] = (),
    protect: bool = False,
    kind: OutboxKind = OutboxKind.REPLY,
    delivery: Delivery = Delivery.AT_LEAST_ONCE,
    then: AfterSend = AfterSend.NOTHING,
    digest_id: int | None = None,
    not_before: datetime | None = None,
) -> dict[str, Any]:
    """One outbox row's columns, its content sealed."""
    uid = new_uid()
    payload = {
        "address": address,
        "text": text,
        "choices": [[c.id, c.label] for c in choices],
        "protect": protect,
    }
    blob = None
    if attachments:
        packed = json.dumps(
            [
                [a.filename, a.mime_type, a.is_image, base64.b64encode(a.data).decode()]
                for a in attachments
            ]
        ).encode()
        blob = vault.seal_bytes("outbox", "attachments", uid, packed)
    return {
        "uid": uid,
        "platform": platform,
        # The real address lives in the encrypted payload; this column only groups a
        # chat's messages for ordering and rate limits.
        "address": vault.keyed_hash(platform, address),
        "identity_id": identity_id,
        "kind": kind,
        "delivery": delivery,
        "after_send": then.value,
        "payload_enc": vault.seal_json("outbox", "payload", uid, payload),
        "attachments_enc": blob,
        "status": OutboxStatus.PENDING,
        "attempts": 0,
        "next_attempt_at": not_before or now,
        "digest_id": digest_id,
        "created_at": now,
    }


def to_message(vault: Vault, row: OutboxMessage) -> OutgoingMessage:
    payload = vault.open_json("outbox", "payload", row.uid, row.payload_enc)
    attachments: tuple[Attachment, ...] = ()
    if row.attachments_enc:
        packed = json.loads(vault.open_bytes("outbox", "attachments", row.uid, row.attachments_enc))
        attachments = tuple(
            Attachment(filename=f, mime_type=m, is_image=bool(img), data=base64.b64decode(d))
            for f, m, img, d in packed
        )
    return OutgoingMessage(
        outbox_id=row.id,
        platform=row.platform,
        address=payload["address"],
        text=payload["text"],
        choices=tuple(Choice(id=i, label=label) for i, label in payload["choices"]),
        attachments=attachments,
        protect=bool(payload["protect"]),
        attempt=row.attempts,
        then=AfterSend(row.after_send),
    )
