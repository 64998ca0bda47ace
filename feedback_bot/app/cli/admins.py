"""``feedback-bot admin``: practice admins of the web console, and their sign-in links."""

from __future__ import annotations

from typing import Any

import typer

from feedback_bot.app.cli.common import admin_call, emit, fail, json_option

admin_app = typer.Typer(help="Practice admins of the web console.", no_args_is_help=True)


@admin_app.command("add")
def admin_add(
    practice: int = typer.Option(...),
    name: str = typer.Option(...),
    as_json: bool = json_option(),
) -> None:
    """An admin of one practice, with a one-time code that links their chat to the bot
    (they can then ask it for sign-in links)."""
    from feedback_bot.people.console_admins import add_admin

    async def go(bot: Any) -> tuple[int, str]:
        async with bot.sessions() as session, session.begin():
            return await add_admin(
                session, practice, name, bot.clock.now(), bot.settings.invite_valid_days
            )

    admin_id, code = admin_call(go, as_json)
    emit(
        {
            "admin_id": admin_id,
            "practice_id": practice,
            "link_code": code,
            "how": f"the admin sends '/start {code}' (Telegram) or '!start {code}' (Matrix), "
            "then 'console' for a sign-in link",
        },
        as_json,
        "Console admin added",
    )


@admin_app.command("login-link")
def admin_login_link(
    admin: int = typer.Option(..., "--admin"), as_json: bool = json_option()
) -> None:
    """A one-time sign-in link to the web console (valid for
    FEEDBACK_BOT_CONSOLE_LINK_MINUTES, 10 by default)."""
    from feedback_bot.app.bootstrap import console_links
    from feedback_bot.people.console_admins import issue_login_link, login_url

    async def go(bot: Any) -> tuple[str, int]:
        links = console_links(bot.settings)
        if links is None:
            raise fail(
                "the web console is off: set FEEDBACK_BOT_CONSOLE_ENABLED=true", as_json, "off"
            )
        async with bot.sessions() as session, session.begin():
            token = await issue_login_link(
                session, admin, bot.clock.now(), links.link_minutes, by="admin"
            )
        return login_url(links.base_url, token), links.link_minutes

    url, minutes = admin_call(go, as_json)
    emit({"admin_id": admin, "link": url, "valid_minutes": minutes}, as_json, "Sign-in link")
