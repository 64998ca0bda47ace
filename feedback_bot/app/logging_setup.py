"""Logging that never carries message content.

Our own log calls pass ids and reason codes only. Platform libraries log request bodies
at DEBUG (PTB, httpx, nio, aiohttp), so they are held at WARNING whatever our level is,
and a filter drops any record that still looks like it carries a payload.
"""

from __future__ import annotations

import logging

PLATFORM_LOGGERS = (
    "telegram",
    "httpx",
    "httpcore",
    "nio",
    "aiohttp",
    "apscheduler",
    "peewee",
    "asyncio",
    "sqlalchemy.engine",
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


def quiet_platform_loggers() -> None:
    for name in PLATFORM_LOGGERS:
        lg = logging.getLogger(name)
        lg.setLevel(max(lg.level, logging.WARNING) if lg.level else logging.WARNING)
        if not any(isinstance(f, NoPayloadFilter) for f in lg.filters):
            lg.addFilter(NoPayloadFilter())


def configure(level: str) -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, NoPayloadFilter) for f in handler.filters):
            handler.addFilter(NoPayloadFilter())
    quiet_platform_loggers()
