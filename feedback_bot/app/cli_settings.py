"""``feedback-bot practice config export|import``: a practice's settings as YAML, checked
like everywhere else, with every problem reported at once (``file:line: path: message``)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer
import yaml

from feedback_bot.app.cli import common as base
from feedback_bot.people.settings_validation import SettingError, read_yaml, validate_document

config_app = typer.Typer(
    help="A practice's settings (languages, crisis resources, defaults, texts) as YAML.",
    no_args_is_help=True,
)


def report(errors: list[SettingError], source: str, as_json: bool) -> typer.Exit:
    """Every problem, one per line (or one JSON object); exit status 2."""
    summary = f"{len(errors)} problem(s) in {source}; nothing was changed"
    if as_json:
        sys.stdout.write(
            json.dumps(
                {"error": summary, "errors": [e.as_dict(source) for e in errors]},
                ensure_ascii=False,
            )
            + "\n"
        )
    else:
        for e in errors:
            typer.echo(e.format(source), err=True)
        typer.echo(summary, err=True)
    return typer.Exit(code=2)


@config_app.command("export")
def export(
    practice: int = typer.Option(..., "--practice", help="the practice's id"),
    file: Path = typer.Argument(..., help="where to write the YAML"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Write the practice's settings as YAML, to edit and import again."""
    from feedback_bot.people.admin import AdminError
    from feedback_bot.people.practice_settings import load_settings, settings_document
    from feedback_bot.storage.models import Practice, PracticeSettingsRecord

    async def go(bot: Any) -> tuple[dict[str, Any], int]:
        async with bot.sessions() as session:
            if await session.get(Practice, practice) is None:
                raise AdminError(f"no practice with id {practice}")
            settings = await load_settings(session, practice, defaults=bot.deps.deployment.config)
            row = await session.get(PracticeSettingsRecord, practice)
            return settings_document(settings), row.version if row is not None else 0

    doc, version = base.admin_call(go, as_json)
    header = (
        f"# Settings of practice {practice} (version {version}). After editing:\n"
        f"#   feedback-bot practice config import --practice {practice} {file.name}\n"
    )
    try:
        file.write_text(
            header + yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=88),
            encoding="utf-8",
        )
    except OSError as exc:
        raise base.fail(f"{file}: cannot write ({exc.strerror})", as_json) from None
    base.emit(
        {"practice_id": practice, "file": str(file), "version": version},
        as_json,
        "Settings exported",
    )


@config_app.command("import")
def import_(
    practice: int = typer.Option(..., "--practice", help="the practice's id"),
    file: Path = typer.Argument(..., help="the YAML to check and store"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Check the YAML and, only if it has no problem, make it the practice's settings
    (from the next message on; audited by setting path)."""
    from feedback_bot.people.admin import AdminError
    from feedback_bot.people.practice_settings import save_settings
    from feedback_bot.storage.models import Practice, PracticeSettingsRecord

    source = str(file)
    parsed = read_yaml(file)
    if parsed.document is None and parsed.errors:
        raise report(parsed.errors, source, as_json)
    errors = validate_document(parsed.document, marks=parsed.marks)
    if errors:  # before the database is opened
        raise report(errors, source, as_json)

    async def go(bot: Any) -> tuple[list[SettingError], int]:
        async with bot.sessions() as session, session.begin():
            if await session.get(Practice, practice) is None:
                raise AdminError(f"no practice with id {practice}")
            found = await save_settings(
                session,
                practice,
                parsed.document,
                actor="admin",
                now=bot.clock.now(),
                marks=parsed.marks,
            )
            row = await session.get(PracticeSettingsRecord, practice)
            return found, row.version if row is not None else 0

    errors, version = base.admin_call(go, as_json)
    if errors:
        raise report(errors, source, as_json)
    base.emit(
        {"practice_id": practice, "file": source, "version": version, "stored": True},
        as_json,
        "Settings imported",
    )


def validate_prompts(path: Path, as_json: bool) -> None:
    """``feedback-bot prompts validate``: the deployment's file, by the same rules."""
    parsed = read_yaml(path)
    errors = parsed.errors
    if parsed.document is not None or not errors:
        errors = validate_document(
            parsed.document if parsed.document is not None else {},
            marks=parsed.marks,
            deployment=True,
        )
    if errors:
        raise report(errors, str(path), as_json)
    from feedback_bot.people.practice_config import PracticeConfig

    cfg = PracticeConfig.model_validate(parsed.document)
    per_language = {
        lang: cfg.crisis_resources_for(lang).model_dump() for lang in cfg.offered_languages
    }
    if as_json:
        sys.stdout.write(
            json.dumps(
                {"file": str(path), "ok": True, "languages": cfg.offered_languages},
                ensure_ascii=False,
            )
            + "\n"
        )
        return
    counts = ", ".join(
        f"{lang} {len(res['emergency'])} emergency + {len(res['crisis_lines'])} crisis line(s)"
        for lang, res in per_language.items()
    )
    base.out.print(
        f"{path}: ok (languages {', '.join(cfg.languages)}; crisis resources: {counts})",
        highlight=False,
        soft_wrap=True,
    )
