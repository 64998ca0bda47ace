"""``feedback-bot practice``: practices."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from feedback_bot.app.cli.common import (
    admin_call,
    directory_call,
    emit,
    emit_rows,
    fail,
    json_option,
    out,
    write_json,
)
from feedback_bot.people import directory
from feedback_bot.people.practice_config import (
    CrisisResourcesByLanguage,
    load_crisis_resources,
)

practice_app = typer.Typer(help="Practices.", no_args_is_help=True)
PRACTICE = typer.Option(..., "--practice", "--id", help="the practice's id")
ACTOR = "admin"


@practice_app.command("add")
def practice_add(
    name: str = typer.Option(...),
    timezone: str = typer.Option(...),
    as_json: bool = json_option(),
) -> None:
    """A new practice; its settings start from the deployment's (config/prompts.yaml)."""
    pid = admin_call(lambda b: b.admin.create_practice(name, timezone), as_json)
    emit({"practice_id": pid, "name": name, "timezone": timezone}, as_json, "Practice added")


@practice_app.command("list")
def practice_list(as_json: bool = json_option()) -> None:
    """Every practice, with how many active practitioners and current clients it has."""
    rows = directory_call(lambda s, b: directory.list_practices(s), as_json)
    emit_rows(
        "practices",
        [r.as_dict() for r in rows],
        ["id", "name", "timezone", "active", "practitioners", "clients"],
        as_json,
        "Practices",
    )


@practice_app.command("show")
def practice_show(practice: int = PRACTICE, as_json: bool = json_option()) -> None:
    """One practice's settings and counts."""
    info = directory_call(lambda s, b: directory.show_practice(s, practice), as_json)
    emit(info.as_dict(), as_json, f"Practice {practice}")


@practice_app.command("set")
def practice_set(
    practice: int = PRACTICE,
    name: str = typer.Option(None),
    timezone: str = typer.Option(None, help="e.g. Europe/Berlin; schedules follow at once"),
    as_json: bool = json_option(),
) -> None:
    """Change a practice's name or time zone (audited by setting, never by value)."""

    async def go(session: Any, bot: Any) -> list[str]:
        return await directory.set_practice(
            session, practice, actor=ACTOR, now=bot.clock.now(), name=name, timezone=timezone
        )

    if name is None and timezone is None:
        raise fail("nothing to change: give --name or --timezone", as_json, "usage")
    changed = directory_call(go, as_json)
    emit({"practice_id": practice, "changed": changed}, as_json, "Practice changed")


@practice_app.command("deactivate")
def practice_deactivate(practice: int = PRACTICE, as_json: bool = json_option()) -> None:
    """Stop everything the practice schedules: its clients' lines are ended (each is told
    kindly, in their language), its practitioners deactivated. Data stays for the clients'
    own export and erasure until retention removes it."""

    async def go(session: Any, bot: Any) -> int:
        return await directory.deactivate_practice(
            session, practice, actor=ACTOR, deps=bot.deps, now=bot.clock.now()
        )

    ended = directory_call(go, as_json)
    emit(
        {"practice_id": practice, "deactivated": True, "clients_ended": ended},
        as_json,
        "Practice deactivated",
    )


@practice_app.command("crisis-resources")
def practice_crisis_resources(
    practice: int = PRACTICE,
    file: Path = typer.Argument(
        None,
        help="YAML per language, as crisis_resources in config/prompts.yaml "
        "(de: {emergency: [{name: …, contact: …}], crisis_lines: […]}, …); "
        "without it, show what the practice's clients are shown",
    ),
    clear: bool = typer.Option(False, "--clear", help="go back to the deployment's resources"),
    as_json: bool = json_option(),
) -> None:
    """A practice's own crisis resources: every language offered needs an emergency number
    and a crisis line."""
    if file is not None and clear:
        raise fail("give a FILE or --clear, not both", as_json, "usage")

    async def go(bot: Any) -> tuple[str, CrisisResourcesByLanguage]:
        if file is not None or clear:
            resources: CrisisResourcesByLanguage | None = None
            if file is not None:  # every language this practice offers
                languages = list(await bot.admin.languages(practice))
                resources = load_crisis_resources(file, languages)
            await bot.admin.set_crisis_resources(practice, resources)
        result: tuple[str, CrisisResourcesByLanguage] = await bot.admin.crisis_resources(practice)
        return result

    source, shown = admin_call(go, as_json)
    data = {
        "practice_id": practice,
        "source": source,
        "stored": file is not None or clear,
        "crisis_resources": {lang: res.model_dump() for lang, res in shown.items()},
    }
    if as_json:
        write_json(data)
        return
    whose = "its own" if source == "practice" else "the deployment's (prompts file)"
    table = Table(
        "language", "kind", "name", "contact", title=f"Crisis resources of practice {practice}"
    )
    for lang, res in shown.items():
        for kind, entries in (("emergency", res.emergency), ("crisis line", res.crisis_lines)):
            for r in entries:
                table.add_row(lang, kind, r.name, r.contact)
    out.print(table)
    out.print(f"{'stored; ' if data['stored'] else ''}practice {practice} shows {whose}")
