"""Log in once, then reuse the same device so its end-to-end keys stay valid.

A new device on every start would leave clients unable to decrypt for the bot until they
re-query keys, and would strand the megolm sessions already shared with the old device.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from nio import AsyncClient, LoginResponse, WhoamiResponse

from .settings import MatrixSettings

log = logging.getLogger(__name__)

CREDENTIALS_FILE = "credentials.json"


class MatrixConfigError(ValueError):
    """The Matrix settings cannot work; names the variable, never its value."""


class LoginFailed(Exception):
    """The homeserver refused our credentials (not a network problem)."""


@dataclass(frozen=True)
class Credentials:
    homeserver: str
    user_id: str
    device_id: str
    access_token: str


def check_settings(settings: MatrixSettings) -> None:
    missing = []
    if not settings.homeserver:
        missing.append("FEEDBACK_BOT_MATRIX__HOMESERVER")
    if not settings.password and not settings.access_token:
        missing.append("FEEDBACK_BOT_MATRIX__PASSWORD or FEEDBACK_BOT_MATRIX__ACCESS_TOKEN")
    if settings.password and not settings.user_id:
        missing.append("FEEDBACK_BOT_MATRIX__USER_ID")
    if not settings.pickle_key or not settings.pickle_key.get_secret_value():
        # nio would silently fall back to a well-known default key for the key store.
        missing.append("FEEDBACK_BOT_MATRIX__PICKLE_KEY")
    if missing:
        raise MatrixConfigError("Matrix adapter needs: " + ", ".join(missing))


def prepare_store(store_path: Path) -> None:
    store_path.mkdir(parents=True, exist_ok=True)
    os.chmod(store_path, 0o700)


def load_credentials(store_path: Path) -> Credentials | None:
    path = store_path / CREDENTIALS_FILE
    try:
        data = json.loads(path.read_text())
        return Credentials(**{k: str(data[k]) for k in Credentials.__dataclass_fields__})
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError):
        log.warning("ignoring unreadable %s; logging in again", path)
        return None


def save_credentials(store_path: Path, creds: Credentials) -> None:
    path = store_path / CREDENTIALS_FILE
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(asdict(creds), fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


async def open_session(client: AsyncClient, settings: MatrixSettings) -> Credentials:
    """Restore the saved device, or log in and save it. Raises LoginFailed or network errors."""
    assert settings.homeserver
    store_path = settings.store_path
    saved = load_credentials(store_path)
    if saved and saved.homeserver == settings.homeserver and _same_account(saved, settings):
        client.restore_login(saved.user_id, saved.device_id, saved.access_token)
        check = await client.whoami()
        if isinstance(check, WhoamiResponse):
            return saved
        if check.status_code != "M_UNKNOWN_TOKEN":
            raise LoginFailed(f"whoami: {check.status_code}")
        log.warning("saved Matrix access token was rejected; logging in again")
        if not settings.password:
            raise LoginFailed("saved token rejected and no password configured")
        # Same device id: the homeserver keeps the device and its keys.
        client.access_token = ""
        return await _password_login(client, settings, device_id=saved.device_id)
    if settings.password:
        return await _password_login(client, settings, device_id=None)
    return await _token_login(client, settings)


def _same_account(saved: Credentials, settings: MatrixSettings) -> bool:
    return settings.user_id is None or settings.user_id == saved.user_id


async def _password_login(
    client: AsyncClient, settings: MatrixSettings, device_id: str | None
) -> Credentials:
    assert settings.password and settings.user_id and settings.homeserver
    client.user = settings.user_id
    client.device_id = device_id
    response = await client.login(
        settings.password.get_secret_value(), device_name=settings.device_name
    )
    if not isinstance(response, LoginResponse):
        raise LoginFailed(f"login: {response.status_code}")
    creds = Credentials(
        settings.homeserver, response.user_id, response.device_id, response.access_token
    )
    save_credentials(settings.store_path, creds)
    return creds


async def _token_login(client: AsyncClient, settings: MatrixSettings) -> Credentials:
    assert settings.access_token and settings.homeserver
    token = settings.access_token.get_secret_value()
    client.access_token = token
    who = await client.whoami()
    if not isinstance(who, WhoamiResponse) or not who.device_id:
        # Without a device id there is no stable e2e identity to keep.
        raise LoginFailed("whoami for the configured access token failed or has no device")
    client.restore_login(who.user_id, who.device_id, token)
    creds = Credentials(settings.homeserver, who.user_id, who.device_id, token)
    save_credentials(settings.store_path, creds)
    return creds
