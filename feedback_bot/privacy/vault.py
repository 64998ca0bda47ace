"""Sealing and opening encrypted columns, bound to (table, column, row uid)."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from feedback_bot.privacy.crypto import KeyRing, aad

HASH_CACHE_SIZE = 50_000  # keyed hashes remembered per process (about 10 MB at most)


class HashKeyNotLoaded(RuntimeError):
    """keyed_hash before the stored hash key was loaded (``privacy.hash_key``)."""


def seed_hash_key(encryption_key: bytes) -> bytes:
    """The hash key every deployment used before the key was stored in its database
    (derived from its encryption key at the time); migration 0008 keeps it for the hashes
    already stored, and stores it sealed so it no longer depends on that key."""
    return hashlib.sha256(b"feedback-bot hash key" + encryption_key).digest()


class Vault:
    def __init__(
        self, keys: KeyRing, hash_key: bytes | None = None, *, seed: bytes | None = None
    ) -> None:
        self.keys = keys
        # Hashes (chat addresses, user ids, aliases) are keyed so a stolen database alone
        # can't be matched against guesses. The key is stored in the database, sealed by
        # the encryption key, so it stays the same across key rotations: lookups by hash
        # keep working while, and after, values are re-encrypted.
        self._hash_key = hash_key
        self.seed = seed  # see seed_hash_key; used only by migration 0008
        # The same chat's hash is asked for on every message (the flood throttle, the
        # inbox row, the identity lookup, the reply's outbox row): kept per process, so
        # an HMAC is computed once per chat rather than four times per message. Bounded.
        self._hashes: dict[tuple[str, ...], str] = {}

    def use_hash_key(self, key: bytes) -> None:
        self._hash_key = key
        self._hashes.clear()

    @property
    def has_hash_key(self) -> bool:
        return self._hash_key is not None

    def seal(self, table: str, column: str, uid: str, text: str) -> str:
        return self.keys.encrypt(text, aad(table, column, uid))

    def open(self, table: str, column: str, uid: str, token: str) -> str:
        return self.keys.decrypt(token, aad(table, column, uid))

    def seal_json(self, table: str, column: str, uid: str, value: Any) -> str:
        return self.seal(table, column, uid, json.dumps(value, separators=(",", ":")))

    def open_json(self, table: str, column: str, uid: str, token: str) -> Any:
        return json.loads(self.open(table, column, uid, token))

    def seal_bytes(self, table: str, column: str, uid: str, data: bytes) -> bytes:
        return self.keys.encrypt_bytes(data, aad(table, column, uid))

    def open_bytes(self, table: str, column: str, uid: str, blob: bytes) -> bytes:
        return self.keys.decrypt_bytes(blob, aad(table, column, uid))

    def keyed_hash(self, *parts: str) -> str:
        cached = self._hashes.get(parts)
        if cached is not None:
            return cached
        if self._hash_key is None:
            raise HashKeyNotLoaded(
                "the keyed-hash key is not loaded: is FEEDBACK_BOT_ENCRYPTION_KEY (or an old "
                "key that sealed it) configured?"
            )
        digest = hmac.new(self._hash_key, "\x1f".join(parts).encode(), hashlib.sha256).hexdigest()
        if len(self._hashes) >= HASH_CACHE_SIZE:
            self._hashes.clear()  # simpler than LRU, and a refill costs one HMAC per chat
        self._hashes[parts] = digest
        return digest


def code_hash(code: str) -> str:
    # Invite codes carry ≥128 bits of randomness, so a plain hash is enough and stays
    # valid across key rotations (a keyed hash would orphan unused codes).
    return hashlib.sha256(code.encode()).hexdigest()
