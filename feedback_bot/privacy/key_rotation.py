"""Key rotation: re-encrypt every stored value under the current key.

Resumable by construction: each batch commits on its own, and values already under the
current key are skipped, so an interrupted run simply continues where it stopped.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from feedback_bot.privacy.audit import record
from feedback_bot.privacy.vault import Vault
from feedback_bot.storage.models import FeedbackItem, InboxEvent, OutboxMessage

# (model, text column attribute, table name, column name in the associated data)
TEXT_FIELDS: list[tuple[Any, str, str, str]] = [
    (FeedbackItem, "text_enc", "feedback_item", "text"),
    (InboxEvent, "payload_enc", "inbox", "payload"),
    (OutboxMessage, "payload_enc", "outbox", "payload"),
]
BYTES_FIELDS: list[tuple[Any, str, str, str]] = [
    (OutboxMessage, "attachments_enc", "outbox", "attachments"),
]


async def rotate_all(
    sessions: async_sessionmaker[AsyncSession],
    vault: Vault,
    batch: int = 200,
    progress: Callable[[int, int], None] = lambda done, total: None,
) -> int:
    keys = vault.keys
    total = 0
    async with sessions() as session:
        for model, attr, _, _ in TEXT_FIELDS + BYTES_FIELDS:
            col = getattr(model, attr)
            total += int(await session.scalar(select(func.count()).where(col.is_not(None))) or 0)
    done = rotated = 0
    for model, attr, table, column in TEXT_FIELDS + BYTES_FIELDS:
        is_bytes = (model, attr, table, column) in BYTES_FIELDS
        last_id = 0
        while True:
            async with sessions() as session, session.begin():
                col = getattr(model, attr)
                rows = list(
                    (
                        await session.execute(
                            select(model)
                            .where(model.id > last_id, col.is_not(None))
                            .order_by(model.id)
                            .limit(batch)
                            .with_for_update(skip_locked=True)
                        )
                    ).scalars()
                )
                if not rows:
                    break
                for row in rows:
                    value = getattr(row, attr)
                    stale = (
                        keys.needs_rotation_bytes(value) if is_bytes else keys.needs_rotation(value)
                    )
                    if stale:
                        if is_bytes:
                            plain_b = vault.open_bytes(table, column, row.uid, value)
                            setattr(row, attr, vault.seal_bytes(table, column, row.uid, plain_b))
                        else:
                            plain = vault.open(table, column, row.uid, value)
                            setattr(row, attr, vault.seal(table, column, row.uid, plain))
                        rotated += 1
                    last_id = row.id
                done += len(rows)
                progress(done, total)
    async with sessions() as session, session.begin():
        await record(
            session,
            datetime.now(UTC),
            "admin",
            "keys.rotated",
            None,
            None,
            values=rotated,
            key_id=keys.current_id,
        )
    return rotated
