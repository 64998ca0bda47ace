"""The HTTP endpoint Telegram POSTs updates to in webhook mode.

A request is answered 200 only after the update is committed; any other answer makes
Telegram deliver it again, which the inbox's de-duplication absorbs.
"""

from __future__ import annotations

import hmac
import logging
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
SECRET_SHAPE = re.compile(r"^[A-Za-z0-9_-]{1,256}$")  # what setWebhook accepts
SECRET_MIN_LENGTH = 32
SECRET_MIN_DISTINCT = 12  # "a" * 32 or "0123456789" * 4 is not a secret
MAKE_A_SECRET = 'python -c "import secrets; print(secrets.token_urlsafe(32))"'

# Requests without the right secret: this many a minute are answered 403, the rest 429
# at once (nothing of theirs is read), and one log line a minute says how many there were.
REFUSALS_PER_MINUTE = 20
_WINDOW = 60.0

UpdateHandler = Callable[[dict[str, Any]], Awaitable[None]]


def _now() -> float:
    return time.monotonic()


def secret_problem(secret: str) -> str | None:
    """Why ``secret`` will not do as the webhook secret, or None when it will."""
    if not SECRET_SHAPE.match(secret):
        return "may only use A-Z a-z 0-9 _ - (at most 256 characters)"
    if len(secret) < SECRET_MIN_LENGTH or len(set(secret)) < SECRET_MIN_DISTINCT:
        return (
            f"must be at least {SECRET_MIN_LENGTH} random characters; make one with: "
            + MAKE_A_SECRET
        )
    return None


class _RefusalLimiter:
    """Counts refused requests per minute: how many may be answered, when to log."""

    def __init__(self) -> None:
        self._window_start: float | None = None
        self._in_window = 0
        self._unlogged = 0
        self._logged_at: float | None = None

    def refuse(self) -> bool:
        """Record one refusal; False when this minute's budget is spent (answer 429)."""
        now = _now()
        if self._window_start is None or now - self._window_start >= _WINDOW:
            self._window_start = now
            self._in_window = 0
        self._in_window += 1
        self._unlogged += 1
        if self._logged_at is None or now - self._logged_at >= _WINDOW:
            log.warning(
                "Telegram webhook: %d request(s) without the right secret token refused "
                "in the last minute (at most %d a minute are answered, the rest get 429)",
                self._unlogged,
                REFUSALS_PER_MINUTE,
            )
            self._logged_at = now
            self._unlogged = 0
        return self._in_window <= REFUSALS_PER_MINUTE


class WebhookServer:
    def __init__(
        self,
        *,
        host: str,
        port: int,
        path: str,
        secret: str,
        handle: UpdateHandler,
    ) -> None:
        problem = secret_problem(secret)
        if problem is not None:
            raise ValueError(f"the webhook secret {problem}")
        self._host = host
        self._port = port
        self._path = path or "/"
        self._secret = secret.encode()
        self._handle = handle
        self._refusals = _RefusalLimiter()
        self._runner: web.AppRunner | None = None

    @property
    def port(self) -> int:
        """The bound port (useful when configured as 0)."""
        if self._runner is None:
            raise RuntimeError("webhook server is not running")
        return int(self._runner.addresses[0][1])

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post(self._path, self._receive)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, self._host, self._port).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _receive(self, request: web.Request) -> web.Response:
        offered = request.headers.get(SECRET_HEADER, "").encode()
        if not hmac.compare_digest(offered, self._secret):
            return web.Response(status=403 if self._refusals.refuse() else 429)
        try:
            data = await request.json()
        except ValueError:
            return web.Response(status=400)
        if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
            return web.Response(status=400)
        try:
            await self._handle(data)
        except Exception as exc:
            # Only the type: a database error's text can quote the values it was given.
            log.error(
                "Telegram update %s not committed (%s); Telegram will deliver it again",
                data["update_id"],
                type(exc).__name__,
            )
            return web.Response(status=500)
        return web.Response(status=200)
