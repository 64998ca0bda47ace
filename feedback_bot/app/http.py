"""``/healthz`` and ``/metrics`` on a local port, for container orchestration and Prometheus,
and the practice admins' web console under ``/console/`` when it is enabled."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from feedback_bot.metrics import REGISTRY

if TYPE_CHECKING:
    from feedback_bot.app.bootstrap import App


def make_http_app(app: App) -> web.Application:
    async def healthz(_request: web.Request) -> web.Response:
        db_ok = True
        try:
            async with app.sessions() as session:
                await session.execute(text("SELECT 1"))
        except Exception:
            db_ok = False
        adapters = {name: a.is_connected() for name, a in app.adapters.items()}
        ready = db_ok and all(adapters.values())
        return web.json_response(
            {"ready": ready, "database": db_ok, "adapters": adapters}, status=200 if ready else 503
        )

    async def metrics(_request: web.Request) -> web.Response:
        await app.dispatcher.update_gauges()
        return web.Response(
            body=generate_latest(REGISTRY), headers={"Content-Type": CONTENT_TYPE_LATEST}
        )

    web_app = web.Application()
    web_app.router.add_get("/healthz", healthz)
    web_app.router.add_get("/metrics", metrics)
    if app.settings.console_enabled:
        from feedback_bot.console.routes import add_console

        add_console(web_app, app)
    return web_app


async def start_http(app: App, host: str, port: int) -> web.AppRunner:
    runner = web.AppRunner(make_http_app(app), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner
