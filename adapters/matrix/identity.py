"""`feedback-bot matrix identity`: show (or, with --reset, take over) the bot's identity.

Runs beside a running bot: it reuses the saved device's access token without opening nio's
key store, and only reads the homeserver unless ``reset`` is given.
"""

from __future__ import annotations

from typing import Any

from nio import AsyncClient, AsyncClientConfig

from adapters.matrix.settings import MatrixSettings

from .cross_signing import ensure_cross_signed, identity_report
from .session import MatrixConfigError, check_settings, load_credentials


async def matrix_identity(settings: MatrixSettings, *, reset: bool = False) -> dict[str, Any]:
    """The published master key, its fingerprint, and whether it is the one the bot holds.

    ``reset`` replaces an identity the bot does not hold (set up from another client) with a
    new one of its own; it needs FEEDBACK_BOT_MATRIX__PASSWORD for the homeserver's consent.
    Raises MatrixConfigError, cross_signing.NeedsAuth/KeyFileError, rawapi.MatrixHTTPError.
    """
    check_settings(settings)
    creds = load_credentials(settings.store_path)
    if creds is None or creds.homeserver != settings.homeserver:
        raise MatrixConfigError(
            f"no Matrix device in {settings.store_path} yet: run `feedback-bot run` once first"
        )
    client = AsyncClient(
        creds.homeserver,
        creds.user_id,
        config=AsyncClientConfig(encryption_enabled=False, store_sync_tokens=False),
    )
    client.user_id, client.device_id, client.access_token = (
        creds.user_id,
        creds.device_id,
        creds.access_token,
    )
    try:
        report: dict[str, Any] = {}
        if reset:
            assert settings.pickle_key
            password = settings.password.get_secret_value() if settings.password else None
            outcome = await ensure_cross_signed(
                client,
                settings.store_path,
                settings.pickle_key.get_secret_value(),
                password,
                replace_foreign=True,
            )
            report["reset"] = outcome.value
        report.update(await identity_report(client, settings.store_path))
        return report
    finally:
        await client.close()
