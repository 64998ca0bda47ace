"""``feedback-bot digest``: practitioner digests, now."""

from __future__ import annotations

from pathlib import Path

import typer

from feedback_bot.app.cli.common import admin_call, err, json_option, out, write_json

digest_app = typer.Typer(help="Practitioner digests.", no_args_is_help=True)


@digest_app.command("send")
def digest_send(practitioner: int = typer.Option(...), as_json: bool = json_option()) -> None:
    """Send a digest to a practitioner now (queued for the running bot to deliver)."""
    sent = admin_call(lambda b: b.digests.send_now(practitioner), as_json)
    if as_json:
        write_json({"practitioner_id": practitioner, "queued": bool(sent)})
    else:
        out.print("digest queued" if sent else "nothing to send (no linked chat)")


@digest_app.command("render")
def digest_render(
    practitioner: int = typer.Option(...),
    out_dir: Path = typer.Option(..., "--out"),
    as_json: bool = json_option(),
) -> None:
    """Write the digest as files (Markdown, HTML, chart) without marking anything as seen.
    The files hold clients' own words: the reading is recorded in the audit log."""
    paths = admin_call(lambda b: b.digests.render_files(practitioner, out_dir), as_json)
    err.print(
        "These files hold clients' own words, readable only by you. Share them only with "
        "the practitioner, and delete them when done. This was recorded in the audit log."
    )
    if as_json:
        write_json({"practitioner_id": practitioner, "files": [str(p) for p in paths]})
        return
    for p in paths:
        out.print(str(p))
