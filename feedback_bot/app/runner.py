"""``feedback-bot run``: adapters from settings, health endpoints, clean shutdown."""

from __future__ import annotations

import asyncio
import logging
import signal
from typing import Any

from feedback_bot.app.bootstrap import AdapterFactory, StartupError, build_app, make_vault
from feedback_bot.app.http import start_http
from feedback_bot.app.settings import Settings
from feedback_bot.ports import CursorStore

log = logging.getLogger(__name__)


def adapter_factories(settings: Settings) -> list[AdapterFactory]:
    """Adapters are imported only when configured, so the core runs without their libraries."""
    factories: list[AdapterFactory] = []
    if settings.telegram.token is not None:
        from adapters.telegram import TelegramAdapter

        factories.append(lambda cursors: TelegramAdapter(settings.telegram, cursors))
    if settings.matrix.homeserver:
        from adapters.matrix import MatrixAdapter, MatrixConfigError

        def matrix(cursors: CursorStore) -> Any:
            try:
                return MatrixAdapter(settings.matrix, cursors)
            except MatrixConfigError as exc:  # names the missing variables, never values
                raise StartupError(str(exc)) from None

        factories.append(matrix)
    if not factories:
        raise StartupError(
            "No chat platform is configured. Set FEEDBACK_BOT_TELEGRAM__TOKEN or "
            "FEEDBACK_BOT_MATRIX__HOMESERVER (see config/example.env), or try `feedback-bot demo`."
        )
    return factories


async def run_forever(settings: Settings) -> None:
    make_vault(settings)  # no key, no start: checked before anything connects
    app = await build_app(settings, adapters=adapter_factories(settings))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    http = (
        await start_http(app, settings.http_host, settings.http_port)
        if settings.http_port
        else None
    )
    await app.start()
    log.info("feedback bot running with %s", ", ".join(sorted(app.adapters)))
    try:
        await stop.wait()
    finally:
        log.info("shutting down")
        if http is not None:
            await http.cleanup()
        await app.close()
