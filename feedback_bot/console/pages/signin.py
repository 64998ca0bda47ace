"""Signing in with a one-time link, and out. Opening the link shows a button; only the
button's POST uses the link, so a chat app fetching a preview of it cannot."""

from __future__ import annotations

import secrets
from pathlib import Path

from aiohttp import web

from feedback_bot.console import csrf
from feedback_bot.console.auth import (
    PRE_COOKIE,
    SESSION_COOKIE,
    Page,
    admin_page,
    client_address,
    see_other,
    set_cookie,
)
from feedback_bot.console.context import console_of
from feedback_bot.people.console_admins import redeem_login_link, sign_out, signed_in

CSS = (Path(__file__).parent.parent / "console.css").read_text(encoding="utf-8")
PRE_SECONDS = 15 * 60
USED_OR_EXPIRED = "This sign-in link has expired or was used already."


async def index(request: web.Request) -> web.StreamResponse:
    console = console_of(request)
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        async with console.app.sessions() as session, session.begin():
            who = await signed_in(session, cookie, console.app.clock.now())
        if who is not None:
            raise see_other(f"/console/{who.practice_id}/settings")
    return console.html("signed_out.html")


async def stylesheet(_request: web.Request) -> web.Response:
    return web.Response(text=CSS, content_type="text/css", headers={"Cache-Control": "no-cache"})


async def signin_form(request: web.Request) -> web.StreamResponse:
    console = console_of(request)
    pre = secrets.token_urlsafe(32)
    response = console.html(
        "signin.html", csrf=csrf.token_for(pre), action=request.path, problem=None
    )
    set_cookie(response, request, PRE_COOKIE, pre, PRE_SECONDS)
    return response


async def signin(request: web.Request) -> web.StreamResponse:
    console = console_of(request)
    if not console.limiter.allow(client_address(request)):
        return console.html(
            "error.html",
            status=429,
            title="Too many sign-in attempts",
            message="Please wait a minute and try again.",
        )
    form = await request.post()
    if not csrf.valid(request.cookies.get(PRE_COOKIE), form.get(csrf.FIELD)):
        return console.html(
            "error.html",
            status=403,
            title="Not allowed",
            message="The sign-in form had expired. Open the link again.",
        )
    app = console.app
    async with app.sessions() as session, session.begin():
        opened = await redeem_login_link(
            session,
            request.match_info["token"],
            app.clock.now(),
            app.settings.console_session_hours,
        )
    if opened is None:
        return console.html("signin.html", status=403, problem=USED_OR_EXPIRED, csrf="")
    who, cookie = opened
    response = web.HTTPSeeOther(f"/console/{who.practice_id}/settings")
    set_cookie(response, request, SESSION_COOKIE, cookie, app.settings.console_session_hours * 3600)
    response.del_cookie(PRE_COOKIE, path="/console")
    raise response


@admin_page
async def signout(request: web.Request, page: Page) -> web.StreamResponse:
    app = page.console.app
    async with app.sessions() as session, session.begin():
        await sign_out(session, page.who.session_id, page.who.admin_id, app.clock.now())
    response = web.HTTPSeeOther("/console/")
    response.del_cookie(SESSION_COOKIE, path="/console")
    raise response
