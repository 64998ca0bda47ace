"""The HTTP endpoint Telegram POSTs updates to in webhook mode.

A request is answered 200 only after the update is committed; any other answer makes
Telegram deliver it again, which the inbox's de-duplication absorbs.
"""

from __future__ import annotations

import hmac
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
SECRET_SHAPE = re.compile(r"^[A-Za-z0-9_-]{1,256}$")  # what setWebhook accepts

UpdateHandler = Callable[[dict[str, Any]], Awaitable[None]]


class WebhookServer:
    def __init__(
        self, *, host: str, port: int, path: str, secret: str, handle: UpdateHandler
    ) -> None:
        if not SECRET_SHAPE.match(secret):
            raise ValueError("the webhook secret must be 1-256 characters of A-Z a-z 0-9 _ -")
        self._host = host
        self._port = port
        self._path = path or "/"
        self._secret = secret.encode()
        self._handle = handle
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
            log.warning("Telegram webhook: request without the right secret token refused")
            return web.Response(status=403)
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
