"""nio error responses and exceptions → the port's send errors (never message content)."""

from __future__ import annotations

import asyncio

import aiohttp
from nio import ErrorResponse

from feedback_bot.ports import RecipientUnavailable, SendError, TransientSendError

# The homeserver refuses because of who we are in that room, not because of load.
_UNAVAILABLE = frozenset({"M_FORBIDDEN", "M_NOT_FOUND"})

NETWORK_ERRORS: tuple[type[BaseException], ...] = (
    aiohttp.ClientError,
    asyncio.TimeoutError,
    TimeoutError,
    ConnectionError,
)


def http_status(response: ErrorResponse) -> int | None:
    transport = response.transport_response
    return transport.status if transport is not None else None


def is_rate_limited(response: ErrorResponse) -> bool:
    return response.status_code == "M_LIMIT_EXCEEDED" or http_status(response) == 429


def retry_after_seconds(response: ErrorResponse) -> float | None:
    if response.retry_after_ms is not None:
        return float(response.retry_after_ms) / 1000
    transport = response.transport_response
    header = transport.headers.get("Retry-After") if transport is not None else None
    try:
        return float(header) if header else None
    except ValueError:
        return None


def send_error(response: ErrorResponse) -> SendError:
    if is_rate_limited(response):
        return TransientSendError("rate_limited", retry_after_seconds(response))
    if response.status_code in _UNAVAILABLE:
        return RecipientUnavailable(response.status_code.lower())
    status = http_status(response)
    return TransientSendError(f"homeserver:{response.status_code or status or 'unknown'}")
