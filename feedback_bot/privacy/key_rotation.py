"""Key rotation: re-encrypt every stored value under the current key.

Resumable by construction: each batch commits on its own, and values already under the
current key are skipped, so an interrupted run simply continues where it stopped.

Complete or says what is left: rows another transaction holds locked are skipped on a
pass (nobody waits on a busy worker) and taken on a later one, for up to ``wait`` seconds;
whatever is still under an old key after that (or under a key that is not configured at
all) is counted per table and column in the result, so the old key is never removed while
something still needs it. ``missing_keys`` is the check ``run`` makes before it starts.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from feedback_bot.privacy.audit import record
from feedback_bot.privacy.crypto import DecryptionError, KeyRing
from feedback_bot.privacy.vault import Vault
from feedback_bot.storage.models import (
    Client,
    ConsoleAdmin,
    FeedbackItem,
    Identity,
    InboxEvent,
    KeyMaterial,
    OutboxMessage,
    Practitioner,
    PractitionerMessage,
)
from feedback_bot.storage.states import InboxStatus, OutboxStatus

# (model, text column attribute, table name, column name in the associated data)
TEXT_FIELDS: list[tuple[Any, str, str, str]] = [
    (FeedbackItem, "text_enc", "feedback_item", "text"),
    (PractitionerMessage, "text_enc", "practitioner_message", "text"),
    (InboxEvent, "payload_enc", "inbox", "payload"),
    (OutboxMessage, "payload_enc", "outbox", "payload"),
    # Who someone is (storage.sealed); their keyed hashes need nothing: the hash key is
    # itself one of these values (key_material), re-sealed, never changed.
    (Practitioner, "name_enc", "practitioner", "name"),
    (Practitioner, "platform_user_id_enc", "practitioner", "platform_user_id"),
    (Client, "alias_enc", "client", "alias"),
    (ConsoleAdmin, "name_enc", "console_admin", "name"),
    (Identity, "address_enc", "identity", "address"),
    (Identity, "platform_user_enc", "identity", "platform_user"),
    (KeyMaterial, "value_enc", "key_material", "value"),
]
BYTES_FIELDS: list[tuple[Any, str, str, str]] = [
    (OutboxMessage, "attachments_enc", "outbox", "attachments"),
]
KEY_ID_CHARS = 8  # crypto.key_id


@dataclass
class RotationResult:
    rotated: int = 0
    # "table.column" -> rows still under an old (configured) key: locked the whole time
    left: dict[str, int] = field(default_factory=dict)
    # "table.column" -> rows under a key that is not configured, or that don't decrypt
    unreadable: dict[str, int] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        return not self.left and not self.unreadable


def _stale_rows(model: Any, attr: str, is_bytes: bool, keys: KeyRing) -> Any:
    col = getattr(model, attr)
    stmt = select(model).where(col.is_not(None))
    if not is_bytes:
        stmt = stmt.where(~col.startswith(f"v1.{keys.current_id}.", autoescape=True))
    return stmt


async def rotate_all(
    sessions: async_sessionmaker[AsyncSession],
    vault: Vault,
    batch: int = 200,
    progress: Callable[[int, int], None] = lambda done, total: None,
    wait: float = 30.0,
) -> RotationResult:
    keys = vault.keys
    total = 0
    async with sessions() as session:
        for model, attr, _, _ in TEXT_FIELDS + BYTES_FIELDS:
            col = getattr(model, attr)
            total += int(await session.scalar(select(func.count()).where(col.is_not(None))) or 0)
    result = RotationResult()
    done = 0
    deadline = time.monotonic() + wait
    unreadable: dict[str, set[int]] = {}
    while True:
        skipped = await _one_pass(sessions, vault, batch, result, unreadable, progress, total, done)
        done = total
        if not skipped or time.monotonic() >= deadline:
            break
        await asyncio.sleep(min(0.5, max(0.0, deadline - time.monotonic())))
    result.unreadable = {k: len(v) for k, v in unreadable.items() if v}
    result.left = await _left_under_old_keys(sessions, keys, unreadable)
    async with sessions() as session, session.begin():
        await record(
            session,
            datetime.now(UTC),
            "admin",
            "keys.rotated",
            None,
            None,
            values=result.rotated,
            key_id=keys.current_id,
            left=sum(result.left.values()) + sum(result.unreadable.values()),
        )
    return result


async def _one_pass(
    sessions: async_sessionmaker[AsyncSession],
    vault: Vault,
    batch: int,
    result: RotationResult,
    unreadable: dict[str, set[int]],
    progress: Callable[[int, int], None],
    total: int,
    done: int,
) -> bool:
    """Re-encrypt what this pass can lock; True when some stale row was skipped (locked)."""
    keys = vault.keys
    skipped = False
    for model, attr, table, column in TEXT_FIELDS + BYTES_FIELDS:
        is_bytes = (model, attr, table, column) in BYTES_FIELDS
        name = f"{table}.{column}"
        bad = unreadable.setdefault(name, set())
        last_id = 0
        while True:
            async with sessions() as session, session.begin():
                base = _stale_rows(model, attr, is_bytes, keys).where(model.id > last_id)
                ids = list(
                    (
                        await session.execute(
                            base.with_only_columns(model.id).order_by(model.id).limit(batch)
                        )
                    ).scalars()
                )
                if not ids:
                    break
                rows = list(
                    (
                        await session.execute(
                            select(model)
                            .where(model.id.in_(ids))
                            .order_by(model.id)
                            .with_for_update(skip_locked=True)
                        )
                    ).scalars()
                )
                if len(rows) < len(ids):
                    skipped = True
                for row in rows:
                    value = getattr(row, attr)
                    stale = (
                        keys.needs_rotation_bytes(value) if is_bytes else keys.needs_rotation(value)
                    )
                    if not stale:
                        continue
                    try:
                        if is_bytes:
                            plain_b = vault.open_bytes(table, column, row.uid, value)
                            setattr(row, attr, vault.seal_bytes(table, column, row.uid, plain_b))
                        else:
                            plain = vault.open(table, column, row.uid, value)
                            setattr(row, attr, vault.seal(table, column, row.uid, plain))
                    except DecryptionError:
                        bad.add(row.id)
                        continue
                    bad.discard(row.id)
                    result.rotated += 1
                last_id = ids[-1]
                done += len(rows)
                progress(min(done, total), total)
    return skipped


async def _left_under_old_keys(
    sessions: async_sessionmaker[AsyncSession],
    keys: KeyRing,
    unreadable: dict[str, set[int]],
) -> dict[str, int]:
    left: dict[str, int] = {}
    async with sessions() as session:
        for model, attr, table, column in TEXT_FIELDS + BYTES_FIELDS:
            is_bytes = (model, attr, table, column) in BYTES_FIELDS
            name = f"{table}.{column}"
            stmt = _stale_rows(model, attr, is_bytes, keys).with_only_columns(
                model.id, getattr(model, attr)
            )
            n = 0
            for row_id, value in (await session.execute(stmt)).all():
                stale = keys.needs_rotation_bytes(value) if is_bytes else keys.needs_rotation(value)
                if stale and row_id not in unreadable.get(name, set()):
                    n += 1
            if n:
                left[name] = n
    return left


async def missing_keys(
    sessions: async_sessionmaker[AsyncSession], keys: KeyRing
) -> dict[str, dict[str, int]]:
    """Values stored under a key id that is not configured: {"table.column": {key id: n}}.
    Rows already quarantined (``feedback-bot inbox|outbox quarantined``) are known and
    left out; everything else would be unreadable."""
    found: dict[str, dict[str, int]] = {}
    async with sessions() as session:
        for model, attr, table, column in TEXT_FIELDS + BYTES_FIELDS:
            is_bytes = (model, attr, table, column) in BYTES_FIELDS
            col = getattr(model, attr)
            kid = func.substr(col, 1 if is_bytes else 4, KEY_ID_CHARS)
            stmt = select(kid, func.count()).where(col.is_not(None)).group_by(kid)
            if model is InboxEvent:
                stmt = stmt.where(model.status != InboxStatus.QUARANTINED)
            elif model is OutboxMessage:
                stmt = stmt.where(model.status != OutboxStatus.QUARANTINED)
            for raw, n in (await session.execute(stmt)).all():
                kid_text = raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw)
                if not keys.has_key(kid_text):
                    found.setdefault(f"{table}.{column}", {})[kid_text] = int(n)
    return found
