"""The guard every console page passes: a live server-side session, the admin's own
practice in the URL (another practice's gets 403), and on every POST the session's CSRF
token (missing or wrong gets 403). Cookies are HttpOnly, SameSite=Strict, and Secure
behind TLS."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import wraps
from ipaddress import ip_address
from typing import Any

from aiohttp import web
from multidict import MultiDictProxy

from feedback_bot.console import csrf
from feedback_bot.console.context import Console, console_of
from feedback_bot.people.console_admins import SignedIn, signed_in
from feedback_bot.storage.models import Practice

SESSION_COOKIE = "fb_console"
PRE_COOKIE = "fb_console_pre"  # before sign-in: what the sign-in form's CSRF token is bound to


@dataclass
class Page:
    """A signed-in request: who, their CSRF token, and the posted form (if any)."""

    console: Console
    who: SignedIn
    practice_name: str
    csrf: str
    form: MultiDictProxy[Any] | None

    @property
    def practice_id(self) -> int:
        return self.who.practice_id

    def field(self, name: str) -> str:
        value = self.form.get(name) if self.form is not None else None
        return value.strip() if isinstance(value, str) else ""

    def html(self, template: str, status: int = 200, **values: object) -> web.Response:
        return self.console.html(
            template,
            status=status,
            who=self.who,
            practice_name=self.practice_name,
            base=f"/console/{self.practice_id}",
            csrf=self.csrf,
            **values,
        )


Handler = Callable[[web.Request, Page], Awaitable[web.StreamResponse]]


def _trusted(console: Console, request: web.Request) -> bool:
    peer = request.remote
    return bool(peer) and peer in console.app.settings.console_trusted_proxies


def client_address(request: web.Request) -> str:
    """The browser's address: the peer, or what a trusted proxy says it forwarded."""
    console = console_of(request)
    if _trusted(console, request):
        forwarded = request.headers.get("X-Forwarded-For", "").split(",")[-1].strip()
        try:
            return str(ip_address(forwarded))
        except ValueError:
            pass
    return request.remote or "unknown"


def is_tls(request: web.Request) -> bool:
    console = console_of(request)
    if console.app.settings.console_secure_cookies or request.secure:
        return True
    proto = request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower()
    return _trusted(console, request) and proto == "https"


def set_cookie(
    response: web.StreamResponse, request: web.Request, name: str, value: str, max_age: int
) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/console",
        httponly=True,
        samesite="Strict",
        secure=is_tls(request),
    )


def forbidden(console: Console, message: str) -> web.Response:
    return console.html("error.html", status=403, title="Not allowed", message=message)


def not_found(console: Console) -> web.Response:
    return console.html(
        "error.html", status=404, title="Not found", message="There is nothing here."
    )


def admin_page(handler: Handler) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    @wraps(handler)
    async def guarded(request: web.Request) -> web.StreamResponse:
        console = console_of(request)
        app = console.app
        cookie = request.cookies.get(SESSION_COOKIE)
        who, practice_name = None, ""
        if cookie:
            async with app.sessions() as session, session.begin():
                who = await signed_in(session, cookie, app.clock.now())
                practice_row = await session.get(Practice, who.practice_id) if who else None
                practice_name = practice_row.name if practice_row else ""
        if who is None or cookie is None:
            return console.html("signed_out.html", status=401)
        try:
            practice = int(request.match_info.get("practice", ""))
        except ValueError:
            return not_found(console)
        if practice != who.practice_id:
            return forbidden(console, "This page belongs to another practice.")
        form = None
        if request.method == "POST":
            form = await request.post()
            if not csrf.valid(cookie, form.get(csrf.FIELD)):
                return forbidden(console, "The form had expired. Go back, reload and try again.")
        return await handler(
            request, Page(console, who, practice_name, csrf.token_for(cookie), form)
        )

    return guarded


def see_other(location: str) -> web.HTTPSeeOther:
    return web.HTTPSeeOther(location)
