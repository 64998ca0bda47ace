"""Matrix's entry in the platform registry (imports no nio until it builds the adapter)."""

from __future__ import annotations

from feedback_bot.app.platforms import Platform
from feedback_bot.ports import Adapter, CursorStore, RateLimit

from .settings import MatrixSettings


def build(settings: MatrixSettings, cursors: CursorStore) -> Adapter:
    from feedback_bot.app.bootstrap import StartupError

    from .adapter import MatrixAdapter
    from .session import MatrixConfigError

    try:
        return MatrixAdapter(settings, cursors)
    except MatrixConfigError as exc:  # names the missing variables, never values
        raise StartupError(str(exc)) from None


PLATFORM = Platform(
    name="matrix",
    settings_model=MatrixSettings,
    is_configured=lambda settings: bool(settings.homeserver),
    build=build,
    rate_limit=lambda s: RateLimit(s.per_room_per_second, s.overall_per_second),
    # nio logs event bodies at DEBUG; peewee (its key store) logs SQL with parameters.
    loggers=("nio", "peewee"),
    setup_hint="FEEDBACK_BOT_MATRIX__HOMESERVER",
    commands=lambda: __import__("adapters.matrix.cli", fromlist=["commands"]).commands(),
)
