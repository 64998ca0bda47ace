"""``feedback-bot outbox`` and ``inbox``: the message queues, dead letters and rows set
aside because they cannot be decrypted."""

from __future__ import annotations

from typing import Literal

import typer
from rich.table import Table

from feedback_bot.app.cli.common import admin_call, err, fail, json_option, out, write_json

outbox_app = typer.Typer(help="Outgoing message queue.", invoke_without_command=True)
inbox_app = typer.Typer(help="Incoming message queue.", no_args_is_help=True)


@outbox_app.callback()
def outbox_show(ctx: typer.Context, as_json: bool = json_option()) -> None:
    """Queue depth and dead letters."""
    if ctx.invoked_subcommand is not None:
        return
    from feedback_bot.delivery.outbox_admin import summary

    rows = admin_call(lambda b: summary(b.sessions), as_json)
    if as_json:
        write_json(
            {
                "by_status": [
                    {"status": s, "count": n, "oldest": oldest}
                    for s, n, oldest in rows["by_status"]
                ],
                "dead": [
                    dict(zip(("id", "platform", "kind", "attempts", "last_error"), d, strict=True))
                    for d in rows["dead"]
                ],
            }
        )
        return
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
def outbox_retry(
    message_id: int = typer.Argument(..., metavar="ID"), as_json: bool = json_option()
) -> None:
    """Put a dead or failed message back in the queue."""
    from feedback_bot.delivery.outbox_admin import retry

    ok = admin_call(lambda b: retry(b.sessions, b.clock, message_id), as_json)
    if not ok:
        raise fail(
            f"no dead, failed or unavailable message with id {message_id}", as_json, "not_found"
        )
    if as_json:
        write_json({"message_id": message_id, "queued": True})
    else:
        out.print(f"message {message_id} queued again")


def _show_quarantined(queue: Literal["inbox", "outbox"], as_json: bool) -> None:
    from feedback_bot.delivery.quarantine import quarantined

    rows = admin_call(lambda b: quarantined(b.sessions, b.vault, queue), as_json)
    if as_json:
        write_json({"quarantined": rows})
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
        raise fail("give the row ids to release, or --all", as_json, "usage")
    result = admin_call(
        lambda b: retry(b.sessions, b.vault, b.clock, queue, None if all_ else ids), as_json
    )
    if as_json:
        write_json(result)
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
def outbox_quarantined(as_json: bool = json_option()) -> None:
    """Outgoing messages set aside because they cannot be decrypted (a key is missing)."""
    _show_quarantined("outbox", as_json)


@outbox_app.command("release")
def outbox_release(
    ids: list[int] = typer.Argument(None, metavar="[ID]..."),
    all_: bool = typer.Option(False, "--all", help="every quarantined row"),
    as_json: bool = json_option(),
) -> None:
    """Queue quarantined messages again once their key is configured again."""
    _release("outbox", ids or [], all_, as_json)


@inbox_app.command("quarantined")
def inbox_quarantined(as_json: bool = json_option()) -> None:
    """Incoming events set aside because they cannot be decrypted (a key is missing)."""
    _show_quarantined("inbox", as_json)


@inbox_app.command("release")
def inbox_release(
    ids: list[int] = typer.Argument(None, metavar="[ID]..."),
    all_: bool = typer.Option(False, "--all", help="every quarantined row"),
    as_json: bool = json_option(),
) -> None:
    """Process quarantined events again once their key is configured again."""
    _release("inbox", ids or [], all_, as_json)
