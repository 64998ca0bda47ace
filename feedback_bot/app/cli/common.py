"""What every command shares: output for people and for scripts (``--json``: one JSON
object on stdout, errors too, as ``{"error": {"code": …, "message": …}}``, with a
non-zero exit), settings, and opening the app for an admin command."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncSession
from typer._click.exceptions import ClickException, UsageError  # typer's own click
from typer.core import TyperGroup

from adapters.registry import platforms
from feedback_bot.app.platforms import settings_class
from feedback_bot.app.settings import Settings, SettingsError, load_settings
from feedback_bot.people.practice_config import ConfigError

out = Console()
err = Console(stderr=True)
T = TypeVar("T")

JSON_HELP = "print one JSON object (errors too, with a non-zero exit)"


def json_option() -> Any:
    return typer.Option(False, "--json", help=JSON_HELP)


def write_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False) + "\n")


def fail(message: str, as_json: bool = False, code: str = "invalid", **details: Any) -> typer.Exit:
    """One line on stderr (or the error object on stdout for ``--json``), exit status 2."""
    if as_json:
        write_json({"error": {"code": code, "message": message, **details}})
    else:
        err.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True, markup=True)
    return typer.Exit(code=2)


def settings_from_environment() -> Settings:
    """The deployment's settings, as every command reads them (picklable: other processes
    call it to read their own)."""
    return load_settings(settings_class(platforms()))


def settings_or_exit(as_json: bool = False) -> Settings:
    try:
        return settings_from_environment()
    except SettingsError as exc:
        raise fail(str(exc), as_json, "settings") from None


def run(coro_fn: Callable[[], Awaitable[T]], as_json: bool = False) -> T:
    from feedback_bot.app.bootstrap import StartupError
    from feedback_bot.storage.migrate import MigrationNeedsKey, SchemaNotCurrent

    try:
        return asyncio.run(coro_fn())  # type: ignore[arg-type]
    except (StartupError, MigrationNeedsKey) as exc:
        raise fail(str(exc), as_json, "startup") from None
    except ConfigError as exc:
        raise fail(str(exc), as_json, "config") from None
    except SchemaNotCurrent as exc:
        raise fail(
            str(exc),
            as_json,
            "schema",
            schema_current=exc.status.current,
            schema_head=exc.status.head,
        ) from None


async def open_app(settings: Settings) -> Any:
    """The app for an admin command: the schema is checked, never changed (`db upgrade`)."""
    from feedback_bot.app.bootstrap import build_app
    from feedback_bot.app.logging_setup import quiet_platform_loggers
    from feedback_bot.storage.migrate import require_current

    quiet_platform_loggers(platforms())
    bot = await build_app(settings, migrate=False)
    try:
        await require_current(bot.engine)
    except BaseException:
        await bot.close()
        raise
    return bot


def admin_call(fn: Callable[[Any], Awaitable[T]], as_json: bool = False) -> T:
    """Run ``fn(app)``; the admin's mistakes (unknown ids, refusals) become one clear line,
    or the error object."""
    from feedback_bot.people.admin import AdminError
    from feedback_bot.people.directory import DirectoryError

    settings = settings_or_exit(as_json)

    async def go() -> T:
        bot = await open_app(settings)
        try:
            return await fn(bot)
        finally:
            await bot.close()

    try:
        return run(go, as_json)
    except (AdminError, DirectoryError) as exc:
        raise fail(exc.message, as_json, exc.code) from None
    except LookupError as exc:
        raise fail(str(exc), as_json, "not_found") from None


def directory_call(fn: Callable[[AsyncSession, Any], Awaitable[T]], as_json: bool = False) -> T:
    """Run ``fn(session, app)`` in one transaction: all of it happens, or nothing."""

    async def go(bot: Any) -> T:
        async with bot.sessions() as session, session.begin():
            return await fn(session, bot)

    return admin_call(go, as_json)


def emit(data: dict[str, Any], as_json: bool, title: str) -> None:
    if as_json:
        write_json(data)
        return
    table = Table(title=title, show_header=False)
    for k, v in data.items():
        table.add_row(k, "" if v is None else str(v))
    out.print(table)


def emit_rows(
    key: str, rows: Sequence[dict[str, Any]], columns: Sequence[str], as_json: bool, title: str
) -> None:
    """A listing: ``{key: [...]}`` for scripts, a table with these columns for people."""
    if as_json:
        write_json({key: list(rows)})
        return
    if not rows:
        out.print(f"{title}: none")
        return
    table = Table(*columns, title=title)
    for row in rows:
        table.add_row(*("" if row.get(c) is None else str(row.get(c)) for c in columns))
    out.print(table)


class JsonErrorsGroup(TyperGroup):
    """With ``--json`` anywhere on the line, even a mistyped option or a missing argument
    is reported as the error object, so a script only ever has to read JSON."""

    def main(  # type: ignore[override]
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        argv = list(sys.argv[1:] if args is None else args)
        if "--json" not in argv or not standalone_mode:
            return super().main(argv, prog_name, complete_var, standalone_mode, **extra)
        try:
            rv = super().main(argv, prog_name, complete_var, False, **extra)
        except UsageError as exc:
            write_json({"error": {"code": "usage", "message": exc.format_message()}})
            sys.exit(2)
        except ClickException as exc:
            write_json({"error": {"code": "usage", "message": exc.format_message()}})
            sys.exit(exc.exit_code or 2)
        except typer.Abort:
            write_json({"error": {"code": "aborted", "message": "aborted"}})
            sys.exit(1)
        sys.exit(rv if isinstance(rv, int) else 0)
