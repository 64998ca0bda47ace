"""Settings from the environment (prefix ``FEEDBACK_BOT_``, nested with ``__``) and ``.env``.

Each chat platform owns its section (``FEEDBACK_BOT_TELEGRAM__*``) and model, in its
package under ``adapters/``; :func:`feedback_bot.app.platforms.settings_class` adds the
registered platforms' sections to :class:`Settings`.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from feedback_bot.scheduling.settings import SchedulingSettings

ENV_PREFIX = "FEEDBACK_BOT_"


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
    # The audit log holds ids and counts only, kept as long as the practice's law requires
    # records of who did what (six years by default; set it to yours).
    audit_retention_days: int = Field(default=6 * 365, ge=1)
    invite_valid_days: int = Field(default=7, ge=1, le=90)
    http_host: str = "127.0.0.1"
    http_port: int = 0  # 0 = /healthz and /metrics off
    max_text_chars: int = 20_000
    inbound_per_minute: int = 20  # per chat; a flood from one chat cannot starve others
    # per chat: crisis texts are always answered, but beyond this many a minute they are
    # coalesced into one notice (no new rows, no new replies)
    inbound_crisis_per_minute: int = 5
    # The risk model behind the crisis patterns (feedback_bot/safety/model.py, about 150 MB
    # of memory). On: it finds crisis wording the lists miss (docs/safety.md has the
    # figures on sets nobody tuned for). Off leaves the lists alone, to save the memory.
    safety_model: bool = True
    # Stable across restarts (default: the host name), so a restarted worker knows the
    # messages its previous life left claimed. Give each worker on one host its own name.
    worker_name: str | None = Field(default=None, max_length=40)
    # The web console for practice admins (feedback_bot/console/), served on the HTTP port
    # above: off unless enabled. Sign-in links point at the public URL (default: the port).
    console_enabled: bool = False
    console_public_url: str | None = Field(default=None, pattern=r"^https?://[^\s]+$")
    console_link_minutes: int = Field(default=10, ge=1, le=60)
    console_session_hours: int = Field(default=8, ge=1, le=72)
    # Cookies are Secure when this is set, when the request came over TLS, or when a proxy
    # listed in console_trusted_proxies says so (X-Forwarded-Proto: https). Only those
    # proxies' X-Forwarded-For is believed for the sign-in rate limit.
    console_secure_cookies: bool = False
    console_trusted_proxies: list[str] = Field(default_factory=list)
    console_signins_per_minute: int = Field(default=10, ge=1)  # per IP address
    console_signins_per_minute_total: int = Field(default=60, ge=1)
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


def load_settings(model: type[Settings] = Settings, **overrides: object) -> Settings:
    """``model`` is :class:`Settings` with the platforms' sections (``settings_class``)."""
    try:
        return model(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise SettingsError(describe_validation_error(exc)) from None
