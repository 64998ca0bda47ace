"""``feedback-bot run``: adapters from settings, health endpoints, clean shutdown."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Iterable
from typing import Any

from feedback_bot.app.bootstrap import AdapterFactory, App, StartupError, build_app, make_vault
from feedback_bot.app.http import start_http
from feedback_bot.app.platforms import Platform
from feedback_bot.app.settings import Settings
from feedback_bot.privacy.key_rotation import missing_keys

log = logging.getLogger(__name__)


def adapter_factories(
    settings: Settings, platforms: Iterable[Platform[Any]]
) -> list[AdapterFactory]:
    """One per configured platform; a platform's library is imported only when it is built,
    so the core runs without the libraries of the others."""
    platforms = tuple(platforms)
    factories = [p.adapter_factory(settings) for p in platforms if p.configured(settings)]
    if not factories:
        hints = " or ".join(p.setup_hint for p in platforms if p.setup_hint)
        raise StartupError(
            f"No chat platform is configured. Set {hints} (see config/example.env), "
            "or try `feedback-bot demo`."
        )
    return factories


async def refuse_unknown_keys(app: App) -> None:
    """No start while stored values need a key that is not configured (removed too early):
    they would be unreadable, and the operator should know before anyone writes."""
    missing = await missing_keys(app.sessions, app.vault.keys)
    if not missing:
        return
    kids = sorted({kid for per_key in missing.values() for kid in per_key})
    where = ", ".join(f"{name}: {sum(n.values())}" for name, n in sorted(missing.items()))
    raise StartupError(
        f"stored values are encrypted under key id(s) {', '.join(kids)}, which no configured "
        f"key has ({where}): put that key back in FEEDBACK_BOT_OLD_ENCRYPTION_KEYS and run "
        "`feedback-bot keys rotate` until it reports complete"
    )


async def run_forever(settings: Settings, platforms: Iterable[Platform[Any]] | None = None) -> None:
    if platforms is None:
        from adapters.registry import platforms as registered

        platforms = registered()
    platforms = tuple(platforms)
    make_vault(settings)  # no key, no start: checked before anything connects
    if settings.console_enabled and not settings.http_port:
        raise StartupError(
            "FEEDBACK_BOT_CONSOLE_ENABLED is set but FEEDBACK_BOT_HTTP_PORT is not: the web "
            "console is served on the HTTP port (for example 8080)."
        )
    app = await build_app(
        settings, adapters=adapter_factories(settings, platforms), platforms=platforms
    )
    try:
        await refuse_unknown_keys(app)
    except BaseException:
        await app.close()
        raise
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
