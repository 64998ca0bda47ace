"""PTB exceptions → the core's send errors, so the dispatcher needs no Telegram knowledge."""

from __future__ import annotations

import warnings
from datetime import timedelta

from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
)
from telegram.warnings import PTBDeprecationWarning

from feedback_bot.ports import (
    AddressMigrated,
    RecipientUnavailable,
    SendError,
    TransientSendError,
)

# Telegram's descriptions for a chat that no longer exists for us (400, not 403).
_GONE = ("chat not found", "user not found", "peer_id_invalid", "have no rights to send")


def retry_after_seconds(exc: RetryAfter) -> float:
    """PTB 22 returns an int (deprecated) or, with ``PTB_TIMEDELTA``, a timedelta."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value: int | float | timedelta = exc.retry_after
    if isinstance(value, timedelta):
        return value.total_seconds()
    return float(value)


def to_send_error(exc: TelegramError) -> SendError:
    """Telegram's descriptions never echo message text, so they are safe to keep as reasons."""
    if isinstance(exc, RetryAfter):
        return TransientSendError("rate_limited", retry_after_seconds(exc))
    if isinstance(exc, ChatMigrated):
        return AddressMigrated(str(exc.new_chat_id))
    if isinstance(exc, Forbidden):
        description = exc.message.lower()
        return RecipientUnavailable("deactivated" if "deactivated" in description else "blocked")
    # BadRequest subclasses NetworkError in PTB, so it must be told apart first: retrying a
    # request Telegram rejected can only fail again.
    if isinstance(exc, BadRequest):
        description = exc.message.lower()
        for gone in _GONE:
            if gone in description:
                return RecipientUnavailable(gone)
        return SendError(f"rejected by Telegram: {exc.message}")
    if isinstance(exc, NetworkError):  # includes TimedOut
        return TransientSendError("network")
    if isinstance(exc, InvalidToken):
        # Fixable by the operator without losing the message: keep it queued.
        return TransientSendError("invalid_token")
    return TransientSendError("telegram_error")
