"""Sealing and opening encrypted columns, bound to (table, column, row uid)."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from feedback_bot.privacy.crypto import KeyRing, aad


class Vault:
    def __init__(self, keys: KeyRing, current_secret: bytes) -> None:
        self.keys = keys
        # Hashes (invite codes, chat addresses) are keyed so a stolen database alone
        # can't be matched against guesses.
        self._hash_key = hashlib.sha256(b"feedback-bot hash key" + current_secret).digest()

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
        return hmac.new(self._hash_key, "\x1f".join(parts).encode(), hashlib.sha256).hexdigest()


def code_hash(code: str) -> str:
    # Invite codes carry ≥128 bits of randomness, so a plain hash is enough and stays
    # valid across key rotations (a keyed hash would orphan unused codes).
    return hashlib.sha256(code.encode()).hexdigest()
