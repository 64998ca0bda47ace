"""``feedback-bot``: run the bot, try it in a terminal, and administer a practice."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Literal, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from adapters.registry import platforms
from feedback_bot.app.platforms import settings_class
from feedback_bot.app.settings import Settings, SettingsError, load_settings
from feedback_bot.people.practice_config import (
    ConfigError,
    CrisisResourcesByLanguage,
    load_crisis_resources,
    load_practice_config,
)
from feedback_bot.people.practice_settings import settings_document
from feedback_bot.safety.evaluate import app as safety_app

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Between-session feedback bot for therapy, counselling and coaching.",
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
prompts_app = typer.Typer(
    help="Practice configuration (config/prompts.yaml).", no_args_is_help=True
)
practice_app = typer.Typer(help="Practices.", no_args_is_help=True)
practitioner_app = typer.Typer(help="Practitioners.", no_args_is_help=True)
client_app = typer.Typer(help="Clients.", no_args_is_help=True)
keys_app = typer.Typer(help="Encryption keys.", no_args_is_help=True)
digest_app = typer.Typer(help="Practitioner digests.", no_args_is_help=True)
outbox_app = typer.Typer(help="Outgoing message queue.", invoke_without_command=True)
inbox_app = typer.Typer(help="Incoming message queue.", no_args_is_help=True)
for name, sub in (
    ("db", db_app),
    ("prompts", prompts_app),
    ("practice", practice_app),
    ("practitioner", practitioner_app),
    ("client", client_app),
    ("keys", keys_app),
    ("digest", digest_app),
    ("outbox", outbox_app),
    ("inbox", inbox_app),
    ("safety", safety_app),
):
    app.add_typer(sub, name=name)
for _platform in platforms():
    if _platform.commands is not None:
        app.add_typer(_platform.commands(), name=_platform.name)

out = Console()
err = Console(stderr=True)
T = TypeVar("T")


def fail(message: str, as_json: bool = False, **details: Any) -> typer.Exit:
    """One line on stderr (or a JSON object on stdout for ``--json``), exit status 2."""
    if as_json:
        sys.stdout.write(json.dumps({"error": message, **details}) + "\n")
    else:
        err.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code=2)


def settings_or_exit() -> Settings:
    try:
        return load_settings(settings_class(platforms()))
    except SettingsError as exc:
        raise fail(str(exc)) from None


def run(coro_fn: Callable[[], Awaitable[T]], as_json: bool = False) -> T:
    from feedback_bot.app.bootstrap import StartupError
    from feedback_bot.storage.migrate import MigrationNeedsKey, SchemaNotCurrent

    try:
        return asyncio.run(coro_fn())  # type: ignore[arg-type]
    except (StartupError, ConfigError, MigrationNeedsKey) as exc:
        raise fail(str(exc), as_json) from None
    except SchemaNotCurrent as exc:
        raise fail(
            str(exc), as_json, schema_current=exc.status.current, schema_head=exc.status.head
        ) from None


async def _app(settings: Settings) -> Any:
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


def emit(data: dict[str, Any], as_json: bool, title: str) -> None:
    if as_json:
        sys.stdout.write(json.dumps(data) + "\n")
        return
    table = Table(title=title, show_header=False)
    for k, v in data.items():
        table.add_row(k, str(v))
    out.print(table)


# -- running --------------------------------------------------------------------------
@app.command("run")
def run_bot() -> None:
    """Run the bot with the adapters configured in the environment."""
    from feedback_bot.app.logging_setup import configure
    from feedback_bot.app.runner import run_forever

    settings = settings_or_exit()
    configure(settings.log_level, platforms())
    run(lambda: run_forever(settings, platforms()))


@app.command()
def demo(
    out_dir: Path = typer.Option(Path("demo-output"), help="Where the digest is written"),
) -> None:
    """Play a short story on a simulated clock: no tokens, no configuration."""
    from feedback_bot.app.demo import run_demo
    from feedback_bot.app.logging_setup import quiet_platform_loggers

    quiet_platform_loggers(platforms())
    run(lambda: run_demo(out_dir))


@app.command()
def chat(
    as_: str = typer.Option("client", "--as", help="client or practitioner"),
    files: Path = typer.Option(
        Path("feedback-bot-files"), "--files", help="where attachments (exports, digests) are saved"
    ),
) -> None:
    """Talk to the bot in this terminal (console adapter, your configured database).
    Like `demo` it sets up whatever is missing, the database schema included."""
    from feedback_bot.app.console_chat import chat_session
    from feedback_bot.app.logging_setup import quiet_platform_loggers

    if as_ not in ("client", "practitioner"):
        raise fail("--as takes client or practitioner")
    settings = settings_or_exit()
    quiet_platform_loggers(platforms())
    run(lambda: chat_session(settings, as_, files))


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Bring the database schema up to date."""
    from feedback_bot.storage.database import create_engine
    from feedback_bot.storage.migrate import upgrade

    settings = settings_or_exit()

    async def go() -> None:
        from feedback_bot.app.bootstrap import make_vault

        # Sealing stored names and addresses (0008) needs the key; an empty database doesn't.
        vault = make_vault(settings) if settings.encryption_key is not None else None
        # Existing practices get the deployment file's settings (0012).
        defaults = load_practice_config(settings.prompts_file).practice_defaults()
        engine = create_engine(settings.database_url)
        try:
            await upgrade(engine, vault=vault, practice_defaults=settings_document(defaults))
        finally:
            await engine.dispose()

    run(go)
    out.print("database is up to date")


@db_app.command("status")
def db_status(as_json: bool = typer.Option(False, "--json")) -> None:
    """Show the database's schema revision and the one this version needs (exit 1: behind)."""
    from feedback_bot.storage.database import create_engine
    from feedback_bot.storage.migrate import SchemaStatus, schema_status

    settings = settings_or_exit()

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


@prompts_app.command("validate")
def prompts_validate(
    path: Path = typer.Argument(None, help="defaults to FEEDBACK_BOT_PROMPTS_FILE"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Check the deployment's settings file (the defaults for new practices) by the rules
    every practice's settings follow; every problem at once, file:line: path: message."""
    from feedback_bot.app.cli_settings import validate_prompts

    validate_prompts(path or settings_or_exit().prompts_file, as_json)


# -- admin ----------------------------------------------------------------------------
def _admin_call(fn: Callable[[Any], Awaitable[T]], as_json: bool = False) -> T:
    from feedback_bot.people.admin import AdminError

    settings = settings_or_exit()

    async def go() -> T:
        bot = await _app(settings)
        try:
            return await fn(bot)
        finally:
            await bot.close()

    try:
        return run(go, as_json)
    except (AdminError, LookupError) as exc:
        raise fail(str(exc), as_json) from None


@practice_app.command("add")
def practice_add(
    name: str = typer.Option(...),
    timezone: str = typer.Option(...),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    pid = _admin_call(lambda b: b.admin.create_practice(name, timezone), as_json)
    emit({"practice_id": pid, "name": name, "timezone": timezone}, as_json, "Practice added")


@practice_app.command("crisis-resources")
def practice_crisis_resources(
    practice: int = typer.Option(..., "--practice", help="the practice's id"),
    file: Path = typer.Argument(
        None,
        help="YAML per language, as crisis_resources in config/prompts.yaml "
        "(de: {emergency: [{name: …, contact: …}], crisis_lines: […]}, …); "
        "without it, show what the practice's clients are shown",
    ),
    clear: bool = typer.Option(False, "--clear", help="go back to the deployment's resources"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """A practice's own crisis resources: every language offered needs an emergency number
    and a crisis line."""
    if file is not None and clear:
        raise fail("give a FILE or --clear, not both", as_json)

    async def go(bot: Any) -> tuple[str, CrisisResourcesByLanguage]:
        if file is not None or clear:
            resources: CrisisResourcesByLanguage | None = None
            if file is not None:  # every language this practice offers
                languages = list(await bot.admin.languages(practice))
                resources = load_crisis_resources(file, languages)
            await bot.admin.set_crisis_resources(practice, resources)
        result: tuple[str, CrisisResourcesByLanguage] = await bot.admin.crisis_resources(practice)
        return result

    source, shown = _admin_call(go, as_json)
    data = {
        "practice_id": practice,
        "source": source,
        "stored": file is not None or clear,
        "crisis_resources": {lang: res.model_dump() for lang, res in shown.items()},
    }
    if as_json:
        sys.stdout.write(json.dumps(data, ensure_ascii=False) + "\n")
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
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    if matrix_user:  # the older spelling, kept for existing scripts
        platform_user = f"matrix:{matrix_user}"
    user = _platform_user(platform_user) if platform_user else None
    pid, code = _admin_call(
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


def _platform_user(value: str) -> tuple[str, str]:
    platform, _, user_id = value.partition(":")
    known = [p.name for p in platforms()]
    if platform not in known or not user_id:
        raise fail(f"--platform-user takes PLATFORM:USER with PLATFORM one of {', '.join(known)}")
    return platform, user_id


@practitioner_app.command("unlink")
def practitioner_unlink(
    practitioner: int = typer.Option(..., "--id"), as_json: bool = typer.Option(False, "--json")
) -> None:
    """Disconnect a practitioner's chats (lost phone, left the practice); prints a new code."""
    pid, code = _admin_call(lambda b: b.admin.unlink_practitioner(practitioner), as_json)
    emit({"practitioner_id": pid, "new_link_code": code}, as_json, "Practitioner unlinked")


@client_app.command("invite")
def client_invite(
    practitioner: int = typer.Option(...),
    alias: str = typer.Option(None),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    invite = _admin_call(lambda b: b.admin.invite_client(practitioner, alias), as_json)
    data: dict[str, Any] = {
        "client_id": invite.client_id,
        "alias": invite.alias,
        "invite_code": invite.code,
    }
    settings = settings_or_exit()
    for platform in platforms():
        if template := platform.invite_link_for(settings):
            data[f"{platform.name}_link"] = template.format(code=invite.code)
    data.update({f"{p}_link": link for p, link in invite.links.items()})
    emit(data, as_json, "Client invited")


@app.command("audit")
def audit(limit: int = typer.Option(100), as_json: bool = typer.Option(False, "--json")) -> None:
    """Who did what (ids only; no content is ever recorded)."""
    rows = _admin_call(lambda b: b.admin.audit_log(limit), as_json)
    data = [
        {
            "at": r.at.isoformat(),
            "actor": r.actor,
            "action": r.action,
            "subject": f"{r.subject_type}:{r.subject_id}" if r.subject_type else "",
            "details": r.details,
        }
        for r in rows
    ]
    if as_json:
        sys.stdout.write(json.dumps(data) + "\n")
        return
    table = Table("at", "actor", "action", "subject", "details", title="Audit log")
    for d in data:
        table.add_row(d["at"], d["actor"], d["action"], d["subject"], json.dumps(d["details"]))
    out.print(table)


@keys_app.command("generate")
def keys_generate() -> None:
    """Print a new 256-bit key for FEEDBACK_BOT_ENCRYPTION_KEY."""
    from feedback_bot.privacy.crypto import generate_key

    sys.stdout.write(generate_key() + "\n")


@keys_app.command("rotate")
def keys_rotate(
    batch: int = typer.Option(200, help="rows per transaction"),
    wait: float = typer.Option(
        30.0, help="seconds to keep retrying rows another transaction holds locked"
    ),
) -> None:
    """Re-encrypt every row under the current key (old keys in FEEDBACK_BOT_OLD_ENCRYPTION_KEYS).
    Safe to interrupt and run again: rows already under the new key are skipped. Exits 1,
    saying what is left per table and column, unless every value is under the current key:
    keep the old keys configured until it succeeds."""
    from rich.progress import Progress

    from feedback_bot.privacy.key_rotation import RotationResult, rotate_all

    settings = settings_or_exit()

    async def go() -> RotationResult:
        bot = await _app(settings)
        try:
            with Progress(console=err) as progress:
                task = progress.add_task("re-encrypting", total=None)

                def tick(done: int, total: int) -> None:
                    progress.update(task, completed=done, total=total)

                return await rotate_all(bot.sessions, bot.vault, batch, tick, wait=wait)
        finally:
            await bot.close()

    result = run(go)
    out.print(f"re-encrypted {result.rotated} value(s) under the current key")
    if result.complete:
        out.print("rotation complete: every value is under the current key")
        return
    for name, n in sorted(result.left.items()):
        err.print(
            f"not done: {n} value(s) in {name} still under an old key (held by another "
            "transaction); run `feedback-bot keys rotate` again",
            highlight=False,
        )
    for name, n in sorted(result.unreadable.items()):
        err.print(
            f"not done: {n} value(s) in {name} cannot be decrypted with the configured keys",
            highlight=False,
        )
    err.print("rotation incomplete: keep the old key(s) configured", highlight=False)
    raise typer.Exit(code=1)


@digest_app.command("send")
def digest_send(practitioner: int = typer.Option(...)) -> None:
    """Send a digest to a practitioner now (queued for the running bot to deliver)."""
    sent = _admin_call(lambda b: b.digests.send_now(practitioner))
    out.print("digest queued" if sent else "nothing to send (no linked chat)")


@digest_app.command("render")
def digest_render(
    practitioner: int = typer.Option(...), out_dir: Path = typer.Option(..., "--out")
) -> None:
    """Write the digest as files (Markdown, HTML, chart) without marking anything as seen.
    The files hold clients' own words: the reading is recorded in the audit log."""
    paths = _admin_call(lambda b: b.digests.render_files(practitioner, out_dir))
    err.print(
        "These files hold clients' own words, readable only by you. Share them only with "
        "the practitioner, and delete them when done. This was recorded in the audit log."
    )
    for p in paths:
        out.print(str(p))


@outbox_app.callback()
def outbox_show(ctx: typer.Context) -> None:
    """Queue depth and dead letters."""
    if ctx.invoked_subcommand is not None:
        return
    from feedback_bot.delivery.outbox_admin import summary

    rows = _admin_call(lambda b: summary(b.sessions))
    table = Table("status", "count", "oldest", title="Outbox")
    for status, count, oldest in rows["by_status"]:
        table.add_row(status, str(count), oldest or "")
    out.print(table)
    if rows["dead"]:
        dead = Table("id", "platform", "kind", "attempts", "last error", title="Dead letters")
        for d in rows["dead"]:
            dead.add_row(*(str(x) for x in d))
        out.print(dead)


@outbox_app.command("retry")
def outbox_retry(message_id: int = typer.Argument(..., metavar="ID")) -> None:
    """Put a dead or failed message back in the queue."""
    from feedback_bot.delivery.outbox_admin import retry

    ok = _admin_call(lambda b: retry(b.sessions, b.clock, message_id))
    if not ok:
        raise fail(f"no dead, failed or unavailable message with id {message_id}")
    out.print(f"message {message_id} queued again")


def _show_quarantined(queue: Literal["inbox", "outbox"], as_json: bool) -> None:
    from feedback_bot.delivery.quarantine import quarantined

    rows = _admin_call(lambda b: quarantined(b.sessions, b.vault, queue), as_json)
    if as_json:
        sys.stdout.write(json.dumps({"quarantined": rows}) + "\n")
        return
    if not rows:
        out.print(f"no quarantined {queue} rows")
        return
    table = Table("id", "at", "platform", "key id", "reason", title=f"Quarantined {queue} rows")
    for r in rows:
        table.add_row(str(r["id"]), r["at"], r["platform"], r["key_id"], r["reason"])
    out.print(table)
    out.print(
        "Put the key they name back in FEEDBACK_BOT_OLD_ENCRYPTION_KEYS, then run "
        f"`feedback-bot {queue} release --all`."
    )


def _release(queue: Literal["inbox", "outbox"], ids: list[int], all_: bool, as_json: bool) -> None:
    from feedback_bot.delivery.quarantine import retry

    if bool(ids) == all_:
        raise fail("give the row ids to release, or --all", as_json)
    result = _admin_call(
        lambda b: retry(b.sessions, b.vault, b.clock, queue, None if all_ else ids), as_json
    )
    if as_json:
        sys.stdout.write(json.dumps(result) + "\n")
    else:
        out.print(f"{len(result['requeued'])} {queue} row(s) queued again")
        if result["unreadable"]:
            err.print(
                f"still unreadable with the configured keys: {result['unreadable']}",
                highlight=False,
            )
        if result["not_quarantined"]:
            err.print(f"not quarantined: {result['not_quarantined']}", highlight=False)
    if result["unreadable"] or result["not_quarantined"]:
        raise typer.Exit(code=1)


@outbox_app.command("quarantined")
def outbox_quarantined(as_json: bool = typer.Option(False, "--json")) -> None:
    """Outgoing messages set aside because they cannot be decrypted (a key is missing)."""
    _show_quarantined("outbox", as_json)


@outbox_app.command("release")
def outbox_release(
    ids: list[int] = typer.Argument(None, metavar="[ID]..."),
    all_: bool = typer.Option(False, "--all", help="every quarantined row"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Queue quarantined messages again once their key is configured again."""
    _release("outbox", ids or [], all_, as_json)


@inbox_app.command("quarantined")
def inbox_quarantined(as_json: bool = typer.Option(False, "--json")) -> None:
    """Incoming events set aside because they cannot be decrypted (a key is missing)."""
    _show_quarantined("inbox", as_json)


@inbox_app.command("release")
def inbox_release(
    ids: list[int] = typer.Argument(None, metavar="[ID]..."),
    all_: bool = typer.Option(False, "--all", help="every quarantined row"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Process quarantined events again once their key is configured again."""
    _release("inbox", ids or [], all_, as_json)


def main() -> None:
    app()


# The settings commands use the helpers above: registered once they exist.
from feedback_bot.app.cli_settings import config_app  # noqa: E402

practice_app.add_typer(config_app, name="config")
