"""Telegram adapter (python-telegram-bot v22): see :class:`TelegramAdapter`.

Its settings and registry entry (``settings``, ``platform``) import without PTB; the
adapter itself is loaded on first use.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from adapters.telegram.adapter import TelegramAdapter, TelegramConfigError
    from adapters.telegram.polling import CURSOR, Backoff

__all__ = ["CURSOR", "Backoff", "TelegramAdapter", "TelegramConfigError"]

_HOME = {
    "TelegramAdapter": "adapters.telegram.adapter",
    "TelegramConfigError": "adapters.telegram.adapter",
    "CURSOR": "adapters.telegram.polling",
    "Backoff": "adapters.telegram.polling",
}


def __getattr__(name: str) -> Any:
    if name in _HOME:
        return getattr(import_module(_HOME[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
