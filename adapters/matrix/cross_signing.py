"""The bot account's cross-signing identity, so clients see its device as vouched for.

Today's Element (MSC4153, "exclude insecure devices") refuses to exchange keys with a device
its owner has not signed. nio 0.26 has no cross-signing, so this module does the minimum on
top of nio's HTTP session and ``cryptography``:

* first start: create master, self-signing and user-signing Ed25519 keys, save them
  encrypted (AES-256-GCM under a key derived with scrypt from the Matrix pickle key) *before*
  uploading them, upload them (password user-interactive auth if the server asks), then sign
  the bot's device with the self-signing key;
* later starts: compare the server's master key with ours; sign the device only if it is
  not signed yet; never upload the same identity again (Synapse answers 500 to that);
* an identity on the server that is not ours (someone set one up from Element on the bot
  account) is reported in one line that says what to do, and the bot carries on unsigned.

Signatures are over canonical JSON (sorted keys, no whitespace, UTF-8) without the
``signatures`` and ``unsigned`` members; key ids are ``ed25519:`` + unpadded base64.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import secrets
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
from nio import AsyncClient

from . import rawapi

log = logging.getLogger(__name__)

KEY_FILE = "cross-signing.json"
_FORMAT = 1
_SCRYPT_N = 2**15  # ~50 ms; once per start


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode().rstrip("=")


def unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4))


def canonical_json(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()


def _signable(obj: dict[str, Any]) -> bytes:
    return canonical_json({k: v for k, v in obj.items() if k not in ("signatures", "unsigned")})


def sign(obj: dict[str, Any], key: Ed25519PrivateKey) -> str:
    return b64(key.sign(_signable(obj)))


def verify(obj: dict[str, Any], user_id: str, key_id: str, public_key: str) -> bool:
    """True if ``obj`` carries a valid signature by ``user_id``'s ``ed25519:key_id``."""
    try:
        signature = obj["signatures"][user_id][f"ed25519:{key_id}"]
        Ed25519PublicKey.from_public_bytes(unb64(public_key)).verify(
            unb64(signature), _signable(obj)
        )
    except (KeyError, TypeError, ValueError, InvalidSignature):
        return False
    return True


def public_b64(key: Ed25519PrivateKey) -> str:
    return b64(key.public_key().public_bytes_raw())


def single_key(cross_signing_key: dict[str, Any] | None) -> str | None:
    """The one ed25519 public key of a cross-signing key object from /keys/query."""
    keys = (cross_signing_key or {}).get("keys") or {}
    values = [v for k, v in keys.items() if k.startswith("ed25519:") and isinstance(v, str)]
    return values[0] if len(values) == 1 else None


def fingerprint(master_public: str) -> str:
    """Grouped in fours the way Element shows a master key."""
    return " ".join(master_public[i : i + 4] for i in range(0, len(master_public), 4))


@dataclass(frozen=True)
class IdentityKeys:
    master: Ed25519PrivateKey
    self_signing: Ed25519PrivateKey
    user_signing: Ed25519PrivateKey

    @classmethod
    def generate(cls) -> IdentityKeys:
        return cls(
            Ed25519PrivateKey.generate(),
            Ed25519PrivateKey.generate(),
            Ed25519PrivateKey.generate(),
        )

    @property
    def master_public(self) -> str:
        return public_b64(self.master)

    @property
    def self_signing_public(self) -> str:
        return public_b64(self.self_signing)

    def seeds(self) -> dict[str, str]:
        return {
            name: b64(getattr(self, name).private_bytes_raw())
            for name in ("master", "self_signing", "user_signing")
        }

    @classmethod
    def from_seeds(cls, seeds: dict[str, str]) -> IdentityKeys:
        return cls(
            *(
                Ed25519PrivateKey.from_private_bytes(unb64(seeds[name]))
                for name in ("master", "self_signing", "user_signing")
            )
        )

    def upload_body(self, user_id: str) -> dict[str, Any]:
        def key(usage: str, private: Ed25519PrivateKey) -> dict[str, Any]:
            public = public_b64(private)
            return {"user_id": user_id, "usage": [usage], "keys": {f"ed25519:{public}": public}}

        master = key("master", self.master)
        body = {"master_key": master}
        for field, usage, private in (
            ("self_signing_key", "self_signing", self.self_signing),
            ("user_signing_key", "user_signing", self.user_signing),
        ):
            obj = key(usage, private)
            obj["signatures"] = {user_id: {f"ed25519:{self.master_public}": sign(obj, self.master)}}
            body[field] = obj
        return body


class KeyFileError(Exception):
    """The key file exists but cannot be opened (wrong pickle key, other account, damage)."""


def _derive(pickle_key: str, salt: bytes) -> bytes:
    return Scrypt(salt=salt, length=32, n=_SCRYPT_N, r=8, p=1).derive(pickle_key.encode())


def save_keys(store_path: Path, pickle_key: str, user_id: str, keys: IdentityKeys) -> None:
    """Private keys only ever touch the disk encrypted; public keys are stored alongside."""
    salt, nonce = secrets.token_bytes(16), secrets.token_bytes(12)
    aad = f"feedback-bot cross-signing v{_FORMAT} {user_id}".encode()
    sealed = AESGCM(_derive(pickle_key, salt)).encrypt(nonce, canonical_json(keys.seeds()), aad)
    record = {
        "format": _FORMAT,
        "user_id": user_id,
        "master_key": keys.master_public,
        "self_signing_key": keys.self_signing_public,
        "kdf": {"name": "scrypt", "n": _SCRYPT_N, "r": 8, "p": 1, "salt": b64(salt)},
        "cipher": "AES-256-GCM",
        "nonce": b64(nonce),
        "ciphertext": b64(sealed),
    }
    path = store_path / KEY_FILE
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(record, fh, indent=1)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    dir_fd = os.open(store_path, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def read_public(store_path: Path) -> dict[str, Any] | None:
    """The key file's plaintext part (no pickle key needed), or None if there is none."""
    try:
        record = json.loads((store_path / KEY_FILE).read_text())
    except FileNotFoundError:
        return None
    except ValueError as exc:
        raise KeyFileError(f"{store_path / KEY_FILE} is not valid JSON") from exc
    return record if isinstance(record, dict) else None


def load_keys(store_path: Path, pickle_key: str, user_id: str) -> IdentityKeys | None:
    record = read_public(store_path)
    if record is None:
        return None
    try:
        if record.get("format") != _FORMAT or record.get("user_id") != user_id:
            raise KeyFileError(f"{store_path / KEY_FILE} belongs to another account or format")
        kdf = record["kdf"]
        key = Scrypt(
            salt=unb64(kdf["salt"]), length=32, n=int(kdf["n"]), r=int(kdf["r"]), p=int(kdf["p"])
        ).derive(pickle_key.encode())
        aad = f"feedback-bot cross-signing v{_FORMAT} {user_id}".encode()
        plain = AESGCM(key).decrypt(unb64(record["nonce"]), unb64(record["ciphertext"]), aad)
        keys = IdentityKeys.from_seeds(json.loads(plain))
    except InvalidTag as exc:
        raise KeyFileError(
            f"{store_path / KEY_FILE} does not open with FEEDBACK_BOT_MATRIX__PICKLE_KEY"
        ) from exc
    except (KeyError, TypeError, ValueError) as exc:
        raise KeyFileError(f"{store_path / KEY_FILE} is damaged") from exc
    if keys.master_public != record.get("master_key"):
        raise KeyFileError(f"{store_path / KEY_FILE} is damaged")
    return keys


class Outcome(StrEnum):
    CREATED = "created"  # identity uploaded now, device signed
    SIGNED = "signed"  # identity known, this device newly signed
    ALREADY_SIGNED = "already_signed"  # nothing to do


class ForeignIdentity(Exception):
    """The account has a cross-signing identity whose private keys the bot does not hold."""


class NeedsAuth(Exception):
    """The homeserver wants interactive auth we cannot give (no password, or no password flow)."""


FOREIGN_IDENTITY_HELP = (
    "Matrix account {user} already has a cross-signing identity (master key {key}) that this "
    "bot does not hold (was the account used in Element?); Element users who exclude "
    "unverified devices cannot talk to the bot until you run `feedback-bot matrix identity "
    "--reset` once with FEEDBACK_BOT_MATRIX__PASSWORD set (it replaces that identity)"
)


@dataclass(frozen=True)
class OwnIdentityState:
    master: str | None
    self_signing: str | None
    device_keys: dict[str, Any] | None


async def query_own(client: AsyncClient) -> OwnIdentityState:
    assert client.user_id and client.device_id
    answer = await rawapi.keys_query(client, [client.user_id])
    user = client.user_id
    master = (answer.get("master_keys") or {}).get(user)
    ssk = (answer.get("self_signing_keys") or {}).get(user)
    device = ((answer.get("device_keys") or {}).get(user) or {}).get(client.device_id)
    master_public = single_key(master)
    ssk_public = single_key(ssk)
    if ssk_public and master_public and not verify(ssk or {}, user, master_public, master_public):
        ssk_public = None  # not vouched for by the master key: treat as absent
    return OwnIdentityState(master_public, ssk_public, device)


async def ensure_cross_signed(
    client: AsyncClient,
    store_path: Path,
    pickle_key: str,
    password: str | None,
    *,
    replace_foreign: bool = False,
) -> Outcome:
    """Make the bot's device cross-signed. Raises ForeignIdentity, NeedsAuth, KeyFileError,
    rawapi.MatrixHTTPError, or a network error (retry later).

    ``replace_foreign`` (the operator's explicit `identity --reset`) uploads a new identity
    over one the bot does not hold."""
    user_id, device_id = client.user_id, client.device_id
    assert user_id and device_id
    keys = load_keys(store_path, pickle_key, user_id)
    server = await query_own(client)
    if server.device_keys is None:
        raise rawapi.MatrixHTTPError("own device keys not on the server yet", 0, {})

    ours = (
        keys is not None
        and server.master == keys.master_public
        and server.self_signing == keys.self_signing_public
    )
    outcome = Outcome.SIGNED
    if server.master is None or (replace_foreign and not ours):
        if keys is None or server.master is not None:
            keys = IdentityKeys.generate()
            save_keys(store_path, pickle_key, user_id, keys)  # before the server ever sees it
        await _upload_identity(client, keys, password)
        outcome = Outcome.CREATED
        log.info("Matrix: uploaded the bot's cross-signing identity")
    elif not ours:
        raise ForeignIdentity(FOREIGN_IDENTITY_HELP.format(user=user_id, key=server.master))
    assert keys is not None
    ssk = keys.self_signing_public
    if outcome is Outcome.SIGNED and verify(server.device_keys, user_id, ssk, ssk):
        return Outcome.ALREADY_SIGNED

    await _sign_device(client, keys, server.device_keys)
    log.info("Matrix: cross-signed the bot's device %s", device_id)
    return outcome


async def _upload_identity(client: AsyncClient, keys: IdentityKeys, password: str | None) -> None:
    assert client.user_id
    body = keys.upload_body(client.user_id)
    if client.olm is not None:
        # The device vouches for the master key too, as Element does; optional for others.
        master = body["master_key"]
        signature = client.olm.sign_json(dict(master))
        master["signatures"] = {client.user_id: {f"ed25519:{client.device_id}": signature}}
    status, answer = await rawapi.call(client, "POST", "/keys/device_signing/upload", body)
    if status == 401 and "flows" in answer:
        flows = [flow.get("stages") or [] for flow in answer.get("flows") or []]
        if ["m.login.password"] not in flows:
            raise NeedsAuth(
                "the homeserver wants approval for uploading the bot's cross-signing keys "
                f"(flows {flows}); with Matrix Authentication Service, allow a crypto identity "
                "reset for the bot account in its account page, then restart the bot"
            )
        if not password:
            raise NeedsAuth(
                "uploading the bot's cross-signing keys needs the account password once: "
                "set FEEDBACK_BOT_MATRIX__PASSWORD and restart"
            )
        body["auth"] = {
            "type": "m.login.password",
            "identifier": {"type": "m.id.user", "user": client.user_id},
            "password": password,
            "session": answer.get("session"),
        }
        status, answer = await rawapi.call(client, "POST", "/keys/device_signing/upload", body)
    if status != 200:
        raise rawapi.MatrixHTTPError("keys/device_signing/upload", status, answer)


async def _sign_device(
    client: AsyncClient, keys: IdentityKeys, device_keys: dict[str, Any]
) -> None:
    assert client.user_id and client.device_id
    signed = {k: v for k, v in device_keys.items() if k != "unsigned"}
    signed["signatures"] = {
        client.user_id: {
            f"ed25519:{keys.self_signing_public}": sign(device_keys, keys.self_signing)
        }
    }
    answer = await rawapi.ok(
        client,
        "keys/signatures/upload",
        "POST",
        "/keys/signatures/upload",
        {client.user_id: {client.device_id: signed}},
    )
    failures = answer.get("failures") or {}
    if failures:
        codes = sorted(
            {str(f.get("errcode")) for per_user in failures.values() for f in per_user.values()}
        )
        raise rawapi.MatrixHTTPError(f"keys/signatures/upload failures {codes}", 200, {})


async def identity_report(client: AsyncClient, store_path: Path) -> dict[str, Any]:
    """What `feedback-bot matrix identity` prints: stored and published master keys."""
    stored = read_public(store_path) or {}
    server = await query_own(client)
    signed = bool(
        server.device_keys
        and server.self_signing
        and verify(
            server.device_keys, str(client.user_id), server.self_signing, server.self_signing
        )
    )
    return {
        "user_id": client.user_id,
        "device_id": client.device_id,
        "master_key": server.master,
        "fingerprint": fingerprint(server.master) if server.master else None,
        "stored_master_key": stored.get("master_key"),
        "matches_store": bool(server.master) and server.master == stored.get("master_key"),
        "device_cross_signed": signed,
    }
