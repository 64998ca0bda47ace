"""Field-level encryption at rest: AES-256-GCM, a random 96-bit nonce per value.

The associated data binds each ciphertext to its table, column and row, so a value
copied into another row or column fails to decrypt instead of silently moving.
Stored format (text, so it fits any column): ``v1.<key id>.<base64url(nonce|ciphertext)>``.
Keys come only from settings, never from the database.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Iterable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_PREFIX = "v1"


class InvalidKey(Exception):
    """A configured key is malformed (message never contains the key)."""


class DecryptionError(Exception):
    pass


def generate_key() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("=")


def _decode_key(text: str) -> bytes:
    padded = text.strip() + "=" * (-len(text.strip()) % 4)
    try:
        raw = base64.urlsafe_b64decode(padded)
    except ValueError:
        raise InvalidKey("encryption key is not valid base64url") from None
    if len(raw) != 32:
        raise InvalidKey("encryption key must be 32 bytes (256 bits) of base64url")
    return raw


def key_id(raw: bytes) -> str:
    # A short fingerprint, so rows say which key encrypted them without revealing it.
    return hashlib.sha256(b"feedback-bot key id" + raw).hexdigest()[:8]


def token_key_id(token: str | None) -> str | None:
    """The key id a stored text value names (read from the value; nothing is decrypted)."""
    parts = (token or "").split(".", 2)
    return parts[1] if len(parts) == 3 and parts[0] == _PREFIX else None


def blob_key_id(blob: bytes | None) -> str | None:
    kid, dot, _ = (blob or b"").partition(b".")
    return kid.decode(errors="replace") if dot else None


def aad(table: str, column: str, row_id: int | str) -> bytes:
    return f"{table}.{column}.{row_id}".encode()


class KeyRing:
    def __init__(self, current: str, old: Iterable[str] = ()) -> None:
        cur = _decode_key(current)
        self.current_id = key_id(cur)
        self._keys: dict[str, AESGCM] = {self.current_id: AESGCM(cur)}
        for text in old:
            raw = _decode_key(text)
            self._keys.setdefault(key_id(raw), AESGCM(raw))

    def has_key(self, kid: str | None) -> bool:
        return kid is not None and kid in self._keys

    def encrypt(self, plaintext: str, associated: bytes) -> str:
        nonce = os.urandom(12)
        ct = self._keys[self.current_id].encrypt(nonce, plaintext.encode("utf-8"), associated)
        body = base64.urlsafe_b64encode(nonce + ct).decode().rstrip("=")
        return f"{_PREFIX}.{self.current_id}.{body}"

    def encrypt_bytes(self, data: bytes, associated: bytes) -> bytes:
        nonce = os.urandom(12)
        ct = self._keys[self.current_id].encrypt(nonce, data, associated)
        return self.current_id.encode() + b"." + nonce + ct

    def decrypt_bytes(self, blob: bytes, associated: bytes) -> bytes:
        kid, _, rest = blob.partition(b".")
        aes = self._keys.get(kid.decode(errors="replace"))
        if aes is None:
            raise DecryptionError("no configured key matches this value")
        try:
            return aes.decrypt(rest[:12], rest[12:], associated)
        except InvalidTag:
            raise DecryptionError("value does not authenticate for this row") from None

    def decrypt(self, token: str, associated: bytes) -> str:
        try:
            prefix, kid, body = token.split(".", 2)
        except ValueError:
            raise DecryptionError("value is not an encrypted token") from None
        if prefix != _PREFIX:
            raise DecryptionError("unknown token version")
        aes = self._keys.get(kid)
        if aes is None:
            raise DecryptionError("no configured key matches this value")
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        try:
            return aes.decrypt(raw[:12], raw[12:], associated).decode("utf-8")
        except InvalidTag:
            raise DecryptionError("value does not authenticate for this row") from None

    def needs_rotation(self, token: str) -> bool:
        return not token.startswith(f"{_PREFIX}.{self.current_id}.")

    def needs_rotation_bytes(self, blob: bytes) -> bool:
        return not blob.startswith(self.current_id.encode() + b".")
