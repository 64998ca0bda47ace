"""Logging that never carries message content.

Our own log calls pass ids and reason codes only. Platform libraries log request bodies
at DEBUG (PTB, httpx, nio, aiohttp), so they are held at WARNING whatever our level is,
and a filter drops any record that still looks like it carries a payload.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from feedback_bot.app.platforms import Platform

# The core's own libraries; each platform adds its own (Platform.loggers). The database
# drivers and SQLAlchemy log statements with their parameters (chat ids, aliases) below
# WARNING, so they stay at WARNING whatever level the bot runs at.
LIBRARY_LOGGERS = (
    "aiohttp",
    "apscheduler",
    "asyncio",
    "sqlalchemy",
    "aiosqlite",
    "asyncpg",
    "alembic",
)


class NoPayloadFilter(logging.Filter):
    """Last line of defence for third-party records that embed request or event bodies."""

    MARKERS = ('"text"', "'text'", "body", "formatted_body", "caption", "message=")

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.startswith("feedback_bot"):
            return True
        try:
            msg = record.getMessage()
        except Exception:
            return False
        return not any(m in msg for m in self.MARKERS)


def quiet_platform_loggers(platforms: Iterable[Platform[Any]]) -> None:
    """Hold library loggers at WARNING with the payload filter. The entry points call it
    (``run``, the CLI, the demo): building the app leaves global logging alone."""
    names = [*LIBRARY_LOGGERS, *(name for p in platforms for name in p.loggers)]
    for name in names:
        lg = logging.getLogger(name)
        lg.setLevel(max(lg.level, logging.WARNING) if lg.level else logging.WARNING)
        if not any(isinstance(f, NoPayloadFilter) for f in lg.filters):
            lg.addFilter(NoPayloadFilter())


def configure(level: str, platforms: Iterable[Platform[Any]]) -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, NoPayloadFilter) for f in handler.filters):
            handler.addFilter(NoPayloadFilter())
    quiet_platform_loggers(platforms)
