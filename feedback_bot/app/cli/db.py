"""``feedback-bot db``: the database schema."""

from __future__ import annotations

import typer

from feedback_bot.app.cli.common import emit, json_option, out, run, settings_or_exit, write_json

db_app = typer.Typer(help="Database schema.", no_args_is_help=True)


@db_app.command("upgrade")
def db_upgrade(as_json: bool = json_option()) -> None:
    """Bring the database schema up to date."""
    from feedback_bot.storage.database import create_engine
    from feedback_bot.storage.migrate import schema_status, upgrade

    settings = settings_or_exit(as_json)

    async def go() -> str | None:
        from feedback_bot.app.bootstrap import make_vault
        from feedback_bot.people.practice_config import load_practice_config
        from feedback_bot.people.practice_settings import settings_document

        # Sealing stored names and addresses (0008) needs the key; an empty database doesn't.
        vault = make_vault(settings) if settings.encryption_key is not None else None
        # Existing practices get the deployment file's settings (0012).
        defaults = load_practice_config(settings.prompts_file).practice_defaults()
        engine = create_engine(settings.database_url)
        try:
            await upgrade(engine, vault=vault, practice_defaults=settings_document(defaults))
            return (await schema_status(engine)).current
        finally:
            await engine.dispose()

    current = run(go, as_json)
    if as_json:
        write_json({"up_to_date": True, "current": current})
    else:
        out.print("database is up to date")


@db_app.command("status")
def db_status(as_json: bool = json_option()) -> None:
    """Show the database's schema revision and the one this version needs (exit 1: behind)."""
    from feedback_bot.storage.database import create_engine
    from feedback_bot.storage.migrate import SchemaStatus, schema_status

    settings = settings_or_exit(as_json)

    async def go() -> SchemaStatus:
        engine = create_engine(settings.database_url)
        try:
            return await schema_status(engine)
        finally:
            await engine.dispose()

    status = run(go, as_json)
    problem = status.problem()
    emit(
        {
            "current": status.current if as_json else status.current or "none (empty database)",
            "head": status.head,
            "up_to_date": status.up_to_date,
            **({"problem": problem} if problem else {}),
        },
        as_json,
        "Database schema",
    )
    if problem:
        raise typer.Exit(code=1)
