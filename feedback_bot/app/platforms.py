"""What a chat platform registers, once, so the app can run it without naming it.

Each platform package under ``adapters/`` has one :class:`Platform` entry, listed in
``adapters/registry.py``. Settings, the runner, rate limits, logging and the CLI iterate
these entries; nothing in ``feedback_bot`` names a platform or imports its library.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, Field, create_model

from feedback_bot.app.settings import Settings
from feedback_bot.ports import Adapter, CursorStore, RateLimit

S = TypeVar("S", bound=BaseModel)

DEFAULT_RATE_LIMIT = RateLimit(50.0, 500.0)


def _no_link(settings: Any) -> str | None:
    return None


@dataclass(frozen=True)
class Platform(Generic[S]):
    """One chat platform. Its settings are the ``FEEDBACK_BOT_<NAME>__*`` variables."""

    name: str  # Adapter.platform; also the settings section
    settings_model: type[S]
    is_configured: Callable[[S], bool]  # `run` starts it only then
    # Imports the platform library (only here); raises StartupError for bad settings.
    build: Callable[[S, CursorStore], Adapter]
    rate_limit: Callable[[S], RateLimit] = lambda settings: DEFAULT_RATE_LIMIT
    loggers: tuple[str, ...] = ()  # library loggers held at WARNING, content filtered
    # The invite link template known from settings alone (the CLI starts no adapter).
    invite_link: Callable[[S], str | None] = _no_link
    setup_hint: str = ""  # the variable(s) that configure it, for "nothing configured"
    # Its own admin commands, as a Typer app mounted at `feedback-bot <name> …` (built lazily).
    commands: Callable[[], Any] | None = None

    def settings_of(self, settings: Settings) -> S:
        """This platform's section of ``settings`` (its defaults if settings lack it)."""
        value = settings.__dict__.get(self.name)
        return value if isinstance(value, self.settings_model) else self.settings_model()

    def configured(self, settings: Settings) -> bool:
        return self.is_configured(self.settings_of(settings))

    def adapter_factory(self, settings: Settings) -> Callable[[CursorStore], Adapter]:
        section = self.settings_of(settings)
        return lambda cursors: self.build(section, cursors)

    def rate_limit_for(self, settings: Settings) -> RateLimit:
        return self.rate_limit(self.settings_of(settings))

    def invite_link_for(self, settings: Settings) -> str | None:
        return self.invite_link(self.settings_of(settings))


Platforms = tuple[Platform[Any], ...]


@cache
def settings_class(platforms: Platforms) -> type[Settings]:
    """:class:`Settings` with one section per platform, parsed by the platform's model
    (``FEEDBACK_BOT_TELEGRAM__TOKEN`` → ``settings.telegram.token``)."""
    if not platforms:
        return Settings
    sections: dict[str, Any] = {
        p.name: (p.settings_model, Field(default_factory=p.settings_model)) for p in platforms
    }
    composed: type[Settings] = create_model("Settings", __base__=Settings, **sections)
    return composed


def rate_limit_for(platforms: Iterable[Platform[Any]], settings: Settings, name: str) -> RateLimit:
    for platform in platforms:
        if platform.name == name:
            return platform.rate_limit_for(settings)
    return DEFAULT_RATE_LIMIT
