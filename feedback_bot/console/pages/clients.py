"""Clients: alias, practitioner, status and last activity (never their words); invite
one (a code, the Telegram deep link and a QR code), move one to another practitioner."""

from __future__ import annotations

from aiohttp import web

from feedback_bot.console import queries
from feedback_bot.console.auth import Page, admin_page, not_found, see_other
from feedback_bot.console.directory_adapter import invite_qr_svg, move_client
from feedback_bot.people.admin import AdminError
from feedback_bot.people.console_admins import actor
from feedback_bot.people.invite_qr import invite_payload


async def _render(page: Page, status: int = 200, **values: object) -> web.Response:
    async with page.console.app.sessions() as session:
        people = await queries.practitioners(session, page.practice_id)
        rows = await queries.clients(session, page.practice_id)
    values.setdefault("errors", {})
    values.setdefault("entered", {})
    return page.html(
        "clients.html",
        status=status,
        title="Clients",
        section="clients",
        clients=rows,
        practitioners=[p for p in people if p.active],
        **values,
    )


@admin_page
async def show(request: web.Request, page: Page) -> web.StreamResponse:
    return await _render(page, done=request.query.get("done"))


def _int(value: str) -> int | None:
    return int(value) if value.isdigit() else None


@admin_page
async def invite(request: web.Request, page: Page) -> web.StreamResponse:
    app = page.console.app
    pid, alias = _int(page.field("practitioner")), page.field("alias")
    entered = {"practitioner": pid, "alias": alias}
    async with app.sessions() as session:
        pr = await queries.practitioner_in(session, page.practice_id, pid) if pid else None
    if pr is None or not pr.active:
        errors = {"practitioner": "Choose the client's practitioner."}
        return await _render(page, status=400, errors=errors, entered=entered)
    if len(alias) > 64:
        errors = {"alias": "Keep the alias under 64 characters."}
        return await _render(page, status=400, errors=errors, entered=entered)
    try:
        made = await app.admin.invite_client(pr.id, alias or None, actor=actor(page.who.admin_id))
    except AdminError:
        errors = {"alias": f"{pr.name} already has a client called {alias!r}: choose another."}
        return await _render(page, status=400, errors=errors, entered=entered)
    # A platform's deep link if the deployment has one (the core names no platform).
    link = invite_payload(made.code, made.links)
    telegram = link if link != made.code else None
    return page.html(
        "invite.html",
        title="Invitation",
        section="clients",
        invite=made,
        practitioner=pr.name,
        telegram=telegram,
        qr=invite_qr_svg(link),
        days=app.settings.invite_valid_days,
    )


@admin_page
async def move(request: web.Request, page: Page) -> web.StreamResponse:
    app = page.console.app
    client_id, to = int(request.match_info["id"]), _int(page.field("to"))
    async with app.sessions() as session:
        client = await queries.client_in(session, page.practice_id, client_id)
        target = await queries.practitioner_in(session, page.practice_id, to) if to else None
    if client is None:
        return not_found(page.console)
    if target is None:
        return await _render(
            page, status=400, row_error={"id": client_id, "message": "Choose a practitioner."}
        )
    problem = await move_client(
        app, page.practice_id, client_id, target.id, actor(page.who.admin_id)
    )
    if problem:
        return await _render(page, status=400, row_error={"id": client_id, "message": problem})
    raise see_other(f"/console/{page.practice_id}/clients?done=moved")
