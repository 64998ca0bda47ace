"""``feedback-bot practitioner``: practitioners."""

from __future__ import annotations

from typing import Any

import typer

from adapters.registry import platforms
from feedback_bot.app.cli.common import (
    admin_call,
    directory_call,
    emit,
    emit_rows,
    fail,
    json_option,
)
from feedback_bot.people import directory

practitioner_app = typer.Typer(help="Practitioners.", no_args_is_help=True)
PRACTITIONER = typer.Option(..., "--id", "--practitioner", help="the practitioner's id")
ACTOR = "admin"


@practitioner_app.command("add")
def practitioner_add(
    practice: int = typer.Option(...),
    name: str = typer.Option(...),
    timezone: str = typer.Option(None),
    feedback_contact: bool = typer.Option(False, "--feedback-contact"),
    platform_user: str = typer.Option(
        None,
        "--platform-user",
        metavar="PLATFORM:USER",
        help="e.g. matrix:@user:server, where the bot opens the DM itself",
    ),
    matrix_user: str = typer.Option(None, hidden=True, help="same as --platform-user matrix:…"),
    as_json: bool = json_option(),
) -> None:
    """A new practitioner; prints the one-time code they link their chat with."""
    if matrix_user:  # the older spelling, kept for existing scripts
        platform_user = f"matrix:{matrix_user}"
    user = _platform_user(platform_user, as_json) if platform_user else None
    pid, code = admin_call(
        lambda b: b.admin.add_practitioner(practice, name, timezone, feedback_contact, user),
        as_json,
    )
    emit(
        {
            "practitioner_id": pid,
            "link_code": code,
            "how": f"the practitioner sends '/start {code}' (Telegram) or '!start {code}' (Matrix)",
        },
        as_json,
        "Practitioner added",
    )


def _platform_user(value: str, as_json: bool) -> tuple[str, str]:
    platform, _, user_id = value.partition(":")
    known = [p.name for p in platforms()]
    if platform not in known or not user_id:
        raise fail(
            f"--platform-user takes PLATFORM:USER with PLATFORM one of {', '.join(known)}",
            as_json,
            "usage",
        )
    return platform, user_id


@practitioner_app.command("list")
def practitioner_list(
    practice: int = typer.Option(..., "--practice"), as_json: bool = json_option()
) -> None:
    """A practice's practitioners: linked chats, current clients, digest schedule."""
    rows = directory_call(lambda s, b: directory.list_practitioners(s, practice), as_json)
    emit_rows(
        "practitioners",
        [r.as_dict() for r in rows],
        ["id", "name", "active", "clients", "linked_chats", "feedback_contact", "timezone"],
        as_json,
        f"Practitioners of practice {practice}",
    )


@practitioner_app.command("show")
def practitioner_show(practitioner: int = PRACTITIONER, as_json: bool = json_option()) -> None:
    """One practitioner's settings and counts."""
    info = directory_call(lambda s, b: directory.show_practitioner(s, practitioner), as_json)
    emit(info.as_dict(), as_json, f"Practitioner {practitioner}")


@practitioner_app.command("set")
def practitioner_set(
    practitioner: int = PRACTITIONER,
    name: str = typer.Option(None),
    timezone: str = typer.Option(
        None, help="their own zone, e.g. Asia/Tokyo; an empty value goes back to the practice's"
    ),
    digest_day: str = typer.Option(None, help="monday … sunday"),
    digest_time: str = typer.Option(None, help="HH:MM in their zone"),
    pre_session_hours: int = typer.Option(None, help="the pre-session digest, hours before"),
    feedback_contact: bool = typer.Option(
        False, "--feedback-contact", help="make them the practice's feedback contact"
    ),
    as_json: bool = json_option(),
) -> None:
    """Change a practitioner's name, zone or digest schedule; schedules follow at once."""
    given = (name, timezone, digest_day, digest_time, pre_session_hours)
    if all(v is None for v in given) and not feedback_contact:
        raise fail("nothing to change: give at least one setting", as_json, "usage")

    async def go(session: Any, bot: Any) -> list[str]:
        return await directory.set_practitioner(
            session,
            practitioner,
            actor=ACTOR,
            now=bot.clock.now(),
            name=name,
            timezone=timezone,
            digest_day=digest_day,
            digest_time=digest_time,
            pre_session_hours=pre_session_hours,
            feedback_contact=feedback_contact,
        )

    changed = directory_call(go, as_json)
    emit({"practitioner_id": practitioner, "changed": changed}, as_json, "Practitioner changed")


@practitioner_app.command("deactivate")
def practitioner_deactivate(
    practitioner: int = PRACTITIONER, as_json: bool = json_option()
) -> None:
    """Deactivate a practitioner who has no current clients (move them first with
    `client move`); their chats are unlinked and their link codes stop working."""

    async def go(session: Any, bot: Any) -> None:
        await directory.deactivate_practitioner(
            session, practitioner, actor=ACTOR, now=bot.clock.now()
        )

    directory_call(go, as_json)
    emit(
        {"practitioner_id": practitioner, "deactivated": True}, as_json, "Practitioner deactivated"
    )


@practitioner_app.command("unlink")
def practitioner_unlink(
    practitioner: int = typer.Option(..., "--id"), as_json: bool = json_option()
) -> None:
    """Disconnect a practitioner's chats (lost phone, left the practice); prints a new code."""
    pid, code = admin_call(lambda b: b.admin.unlink_practitioner(practitioner), as_json)
    emit({"practitioner_id": pid, "new_link_code": code}, as_json, "Practitioner unlinked")
