"""Telegram's settings: ``FEEDBACK_BOT_TELEGRAM__*``."""

from __future__ import annotations

from pydantic import BaseModel, Field, SecretStr


class TelegramSettings(BaseModel):
    token: SecretStr | None = None
    base_url: str = "https://api.telegram.org/bot"
    base_file_url: str = "https://api.telegram.org/file/bot"
    bot_username: str | None = None  # filled from getMe when absent; used for deep links
    mode: str = Field(default="polling", pattern="^(polling|webhook)$")
    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None
    webhook_listen: str = "127.0.0.1"
    webhook_port: int = 8443
    poll_timeout: int = 30
    per_chat_per_second: float = 1.0
    overall_per_second: float = 30.0
