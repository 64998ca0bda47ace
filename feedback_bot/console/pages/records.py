"""The practice's audit log and its undelivered messages: ids, actions, times, platforms
and reason codes. Neither shows what a message said."""

from __future__ import annotations

from aiohttp import web

from feedback_bot.console import queries
from feedback_bot.console.auth import Page, admin_page, not_found, see_other
from feedback_bot.delivery.outbox_admin import retry
from feedback_bot.privacy.audit import record


@admin_page
async def audit(request: web.Request, page: Page) -> web.StreamResponse:
    async with page.console.app.sessions() as session:
        events = await queries.audit(session, page.practice_id)
    return page.html("audit.html", title="Audit log", section="audit", events=events)


@admin_page
async def dead_letters(request: web.Request, page: Page) -> web.StreamResponse:
    async with page.console.app.sessions() as session:
        rows = await queries.dead_letters(session, page.practice_id)
    return page.html(
        "dead_letters.html",
        title="Undelivered messages",
        section="dead-letters",
        rows=rows,
        done=request.query.get("done"),
    )


@admin_page
async def retry_one(request: web.Request, page: Page) -> web.StreamResponse:
    app = page.console.app
    message_id = int(request.match_info["id"])
    async with app.sessions() as session:
        mine = await queries.dead_letter_in(session, page.practice_id, message_id)
    if not mine or not await retry(app.sessions, app.clock, message_id):
        return not_found(page.console)
    async with app.sessions() as session, session.begin():
        await record(
            session,
            app.clock.now(),
            f"console-admin:{page.who.admin_id}",
            "outbox.retried",
            "outbox",
            message_id,
            practice_id=page.practice_id,
        )
    app.wake()
    raise see_other(f"/console/{page.practice_id}/dead-letters?done=retried")
