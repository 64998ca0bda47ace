"""Telegram adapter (python-telegram-bot v22): see :class:`TelegramAdapter`."""

from adapters.telegram.adapter import TelegramAdapter, TelegramConfigError
from adapters.telegram.polling import CURSOR, Backoff

__all__ = ["CURSOR", "Backoff", "TelegramAdapter", "TelegramConfigError"]
