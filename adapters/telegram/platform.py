"""Telegram's entry in the platform registry (imports no PTB until it builds the adapter)."""

from __future__ import annotations

from adapters.telegram.settings import TelegramSettings
from feedback_bot.app.platforms import Platform
from feedback_bot.ports import Adapter, CursorStore, RateLimit


def build(settings: TelegramSettings, cursors: CursorStore) -> Adapter:
    from adapters.telegram.adapter import TelegramAdapter

    return TelegramAdapter(settings, cursors)


def invite_link(settings: TelegramSettings) -> str | None:
    """The deep link as far as settings know it (the adapter asks Telegram at start)."""
    if not settings.bot_username:
        return None
    return f"https://t.me/{settings.bot_username}?start={{code}}"


PLATFORM = Platform(
    name="telegram",
    settings_model=TelegramSettings,
    is_configured=lambda settings: settings.token is not None,
    build=build,
    rate_limit=lambda s: RateLimit(s.per_chat_per_second, s.overall_per_second),
    # PTB logs request parameters at DEBUG; httpx logs URLs, and the token is in them.
    loggers=("telegram", "httpx", "httpcore"),
    invite_link=invite_link,
    setup_hint="FEEDBACK_BOT_TELEGRAM__TOKEN",
)
