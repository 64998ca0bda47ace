"""The key of every keyed hash (chat addresses, platform user ids, aliases, inbox chats).

It lives in the database, sealed by the encryption key (table ``key_material``), never in
the settings: a key rotation re-seals it like any other value, so the hashes stay the same
and lookups keep working while and after values are re-encrypted, and the old encryption
key can be retired. A fresh database gets a random key on first start; a database
upgraded by migration 0008 keeps the key its hashes were made with (``vault.seed``).
"""

from __future__ import annotations

import base64
import logging
import os
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from feedback_bot.privacy.crypto import DecryptionError
from feedback_bot.privacy.vault import Vault
from feedback_bot.storage.database import upsert_insert
from feedback_bot.storage.models import KeyMaterial, new_uid

log = logging.getLogger(__name__)

NAME = "hash"  # key_material.name
TABLE, COLUMN = "key_material", "value"  # what the sealed value is bound to


def seal_key(vault: Vault, uid: str, key: bytes) -> str:
    return vault.seal(TABLE, COLUMN, uid, base64.b64encode(key).decode())


def open_key(vault: Vault, uid: str, token: str) -> bytes:
    return base64.b64decode(vault.open(TABLE, COLUMN, uid, token))


async def load_hash_key(sessions: async_sessionmaker[AsyncSession], vault: Vault) -> bool:
    """Give ``vault`` the stored hash key, storing a new random one if there is none.
    False when it is sealed under a key that is not configured: ``run`` then refuses to
    start (``key_rotation.missing_keys`` names the key), admin commands say so."""
    async with sessions() as session, session.begin():
        row = await session.scalar(select(KeyMaterial).where(KeyMaterial.name == NAME))
        if row is None:
            uid = new_uid()
            insert = upsert_insert(session)
            await session.execute(
                insert(KeyMaterial)
                .values(
                    name=NAME,
                    uid=uid,
                    value_enc=seal_key(vault, uid, os.urandom(32)),
                    created_at=datetime.now(UTC),
                )
                .on_conflict_do_nothing()  # another worker started at the same moment
            )
            row = await session.scalar(select(KeyMaterial).where(KeyMaterial.name == NAME))
            assert row is not None
        uid, token = row.uid, row.value_enc
    try:
        vault.use_hash_key(open_key(vault, uid, token))
    except DecryptionError:
        # Not an error line of its own: `run` says which keys are missing, and how to fix it.
        log.debug("the stored hash key is sealed under an encryption key that is not configured")
        return False
    return True
