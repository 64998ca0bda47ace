"""Practitioners: add one (a one-time link code for their chat), deactivate, and choose
the practice's feedback contact."""

from __future__ import annotations

from aiohttp import web

from feedback_bot.console import queries
from feedback_bot.console.auth import Page, admin_page, not_found, see_other
from feedback_bot.people.admin import AdminError
from feedback_bot.people.console_admins import actor
from feedback_bot.scheduling.wallclock import is_valid_zone


async def _render(page: Page, status: int = 200, **values: object) -> web.Response:
    async with page.console.app.sessions() as session:
        people = await queries.practitioners(session, page.practice_id)
    values.setdefault("errors", {})
    values.setdefault("entered", {})
    return page.html(
        "practitioners.html",
        status=status,
        title="Practitioners",
        section="practitioners",
        people=people,
        **values,
    )


@admin_page
async def show(request: web.Request, page: Page) -> web.StreamResponse:
    return await _render(page, done=request.query.get("done"))


@admin_page
async def add(request: web.Request, page: Page) -> web.StreamResponse:
    name, zone = page.field("name"), page.field("timezone")
    errors = {}
    if not name:
        errors["name"] = "Enter the practitioner's name."
    elif len(name) > 200:
        errors["name"] = "Keep the name under 200 characters."
    if zone and not is_valid_zone(zone):
        errors["timezone"] = "Unknown time zone: use a name like Europe/Berlin, or leave it empty."
    if errors:
        entered = {"name": name, "timezone": zone}
        return await _render(page, status=400, errors=errors, entered=entered)
    try:
        pid, code = await page.console.app.admin.add_practitioner(
            page.practice_id,
            name,
            zone or None,
            page.field("feedback_contact") == "on",
            actor=actor(page.who.admin_id),
        )
    except AdminError as exc:
        return await _render(page, status=400, errors={"name": str(exc)})
    return await _render(page, added={"id": pid, "name": name, "code": code})


@admin_page
async def set_contact(request: web.Request, page: Page) -> web.StreamResponse:
    pid = int(request.match_info["id"])
    async with page.console.app.sessions() as session:
        pr = await queries.practitioner_in(session, page.practice_id, pid)
    if pr is None or not pr.active:
        return not_found(page.console)
    await page.console.app.admin.set_feedback_contact(
        page.practice_id, pid, actor=actor(page.who.admin_id)
    )
    raise see_other(f"/console/{page.practice_id}/practitioners?done=contact")


@admin_page
async def deactivate(request: web.Request, page: Page) -> web.StreamResponse:
    from feedback_bot.console.directory_adapter import deactivate_practitioner

    pid = int(request.match_info["id"])
    async with page.console.app.sessions() as session:
        pr = await queries.practitioner_in(session, page.practice_id, pid)
    if pr is None:
        return not_found(page.console)
    problem = await deactivate_practitioner(
        page.console.app, page.practice_id, pid, actor(page.who.admin_id)
    )
    if problem:
        return await _render(page, status=400, row_error={"id": pid, "message": problem})
    raise see_other(f"/console/{page.practice_id}/practitioners?done=deactivated")
