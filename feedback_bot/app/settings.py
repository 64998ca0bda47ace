"""Settings from the environment (prefix ``FEEDBACK_BOT_``, nested with ``__``) and ``.env``."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "FEEDBACK_BOT_"


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


class MatrixSettings(BaseModel):
    homeserver: str | None = None
    user_id: str | None = None
    password: SecretStr | None = None
    access_token: SecretStr | None = None
    device_name: str = "feedback-bot"
    store_path: Path = Path("data/matrix-store")
    pickle_key: SecretStr | None = None
    # Room keys also to devices of users without cross-signing (servers whose clients don't
    # cross-sign); by default only devices their owner signed get them, as in today's Element.
    allow_unsigned_devices: bool = False
    per_room_per_second: float = 1.0
    overall_per_second: float = 10.0


class SchedulingSettings(BaseModel):
    tick_seconds: int = 30
    dispatch_seconds: float = 1.0
    misfire_grace_seconds: int = 60
    missed_slot_grace_minutes: int = 120  # a check-in missed by less than this is still sent once
    jitter_seconds: int = 300
    max_send_attempts: int = 8
    backoff_base_seconds: float = 2.0
    backoff_max_seconds: float = 900.0
    sending_stale_seconds: int = 300


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
    )

    database_url: str = "sqlite+aiosqlite:///data/feedback-bot.sqlite3"
    encryption_key: SecretStr | None = None
    old_encryption_keys: list[SecretStr] = Field(default_factory=list)
    prompts_file: Path = Path("config/prompts.yaml")
    log_level: str = Field(default="INFO", pattern="^(DEBUG|INFO|WARNING|ERROR|CRITICAL)$")
    retention_days: int = Field(default=365, ge=1)
    invite_valid_days: int = Field(default=7, ge=1, le=90)
    http_host: str = "127.0.0.1"
    http_port: int = 0  # 0 = /healthz and /metrics off
    max_text_chars: int = 20_000
    inbound_per_minute: int = 20  # per chat; a flood from one chat cannot starve others
    telegram: TelegramSettings = Field(default_factory=TelegramSettings)
    matrix: MatrixSettings = Field(default_factory=MatrixSettings)
    scheduling: SchedulingSettings = Field(default_factory=SchedulingSettings)


class SettingsError(Exception):
    """One readable line per problem, naming the environment variable."""


def describe_validation_error(exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        var = ENV_PREFIX + "__".join(str(p).upper() for p in err["loc"])
        # The input value is deliberately not echoed: it may be a secret.
        lines.append(f"{var}: {err['msg']}")
    return "\n".join(lines)


def load_settings(**overrides: object) -> Settings:
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise SettingsError(describe_validation_error(exc)) from None
