"""Every console route, in one list. Each page under ``/console/{practice}/`` passes the
guard in ``auth.py``; tests/test_console_isolation.py tries every route across practices."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from aiohttp import web

from feedback_bot.console.context import CONSOLE, Console
from feedback_bot.console.pages import clients, practitioners, records, settings, signin

if TYPE_CHECKING:
    from feedback_bot.app.bootstrap import App

P = "/console/{practice:\\d+}"
# Pages anyone may open: they show no practice's data.
PUBLIC = ("/console/", "/console/console.css", "/console/signin/{token}")


def add_console(web_app: web.Application, app: App) -> None:
    web_app[CONSOLE] = Console.for_app(app)
    web_app.middlewares.append(security_headers)
    r = web_app.router
    r.add_get("/console", to_index)
    r.add_get("/console/", signin.index)
    r.add_get("/console/console.css", signin.stylesheet)
    r.add_get("/console/signin/{token}", signin.signin_form)
    r.add_post("/console/signin/{token}", signin.signin)
    r.add_post(f"{P}/signout", signin.signout)
    r.add_get(f"{P}/settings", settings.show)
    r.add_post(f"{P}/settings/{{section}}", settings.save)
    r.add_get(f"{P}/practitioners", practitioners.show)
    r.add_post(f"{P}/practitioners", practitioners.add)
    r.add_post(f"{P}/practitioners/{{id:\\d+}}/contact", practitioners.set_contact)
    r.add_post(f"{P}/practitioners/{{id:\\d+}}/deactivate", practitioners.deactivate)
    r.add_get(f"{P}/clients", clients.show)
    r.add_post(f"{P}/clients", clients.invite)
    r.add_post(f"{P}/clients/{{id:\\d+}}/move", clients.move)
    r.add_get(f"{P}/audit", records.audit)
    r.add_get(f"{P}/dead-letters", records.dead_letters)
    r.add_post(f"{P}/dead-letters/{{id:\\d+}}/retry", records.retry_one)


async def to_index(_request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound("/console/")


CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)


@web.middleware
async def security_headers(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    try:
        response: web.StreamResponse = await handler(request)
    except web.HTTPException as exc:
        response = exc
        if not request.path.startswith("/console"):
            raise
        _harden(response)
        raise
    if request.path.startswith("/console"):
        _harden(response)
    return response


def _harden(response: web.StreamResponse) -> None:
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    # The sign-in link is in the URL: never pass it on to another site.
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
