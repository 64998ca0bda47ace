"""A practice admin's own chat: they ask for a one-time sign-in link to the web console,
and it goes out through the outbox like every other word the bot says."""

from __future__ import annotations

from feedback_bot.conversation.turn import Turn
from feedback_bot.people.console_admins import actor, issue_login_link, login_url
from feedback_bot.ports import EventKind
from feedback_bot.storage.models import ConsoleAdmin, Practice

LINK_COMMANDS = ("console", "login")


async def welcome(turn: Turn, admin_id: int) -> None:
    admin = await turn.session.get(ConsoleAdmin, admin_id)
    practice = await turn.session.get(Practice, admin.practice_id) if admin else None
    if admin is None or practice is None:
        turn.say(turn.t("unlinked"))
        return
    turn.say(turn.t("console_admin.welcome", name=admin.name, practice=practice.name))


async def handle(turn: Turn, admin_id: int) -> None:
    event = turn.event
    wants_link = (event.kind is EventKind.COMMAND and event.command in LINK_COMMANDS) or (
        event.kind is EventKind.TEXT and (event.text or "").strip().lower() in LINK_COMMANDS
    )
    if not wants_link:
        turn.say(turn.t("console_admin.help"))
        return
    console = turn.deps.console
    if console is None:
        turn.say(turn.t("console_admin.disabled"))
        return
    admin = await turn.session.get(ConsoleAdmin, admin_id)
    if admin is None or not admin.active:
        turn.say(turn.t("unlinked"))
        return
    token = await issue_login_link(
        turn.session, admin_id, turn.now, console.link_minutes, by=actor(admin_id)
    )
    turn.say(
        turn.t(
            "console_admin.link",
            minutes=console.link_minutes,
            link=login_url(console.base_url, token),
        )
    )
