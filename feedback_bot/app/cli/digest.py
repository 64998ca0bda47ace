"""``feedback-bot digest``: practitioner digests, now."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer

from feedback_bot.app.cli.common import (
    admin_call,
    err,
    fail,
    json_option,
    out,
    settings_or_exit,
    write_json,
)

digest_app = typer.Typer(help="Practitioner digests.", no_args_is_help=True)


@digest_app.command("send")
def digest_send(
    practitioner: int | None = typer.Option(None, help="this practitioner's id"),
    all_: bool = typer.Option(False, "--all", help="every active practitioner"),
    progress: bool | None = typer.Option(
        None, "--progress/--no-progress", help="a progress bar on stderr (default: on a TTY)"
    ),
    jobs: int = typer.Option(
        1, "--jobs", min=1, help="with --all: processes drawing digests at once (one per core)"
    ),
    as_json: bool = json_option(),
) -> None:
    """Send a digest now (queued for the running bot to deliver): to one practitioner, or
    with --all to every active one (with a progress bar: counts only, no names)."""
    if all_ == (practitioner is not None):
        raise fail("give either --practitioner ID or --all", as_json)
    if jobs > 1 and not all_:
        raise fail("--jobs goes with --all", as_json)
    if practitioner is not None:
        chosen = practitioner
        sent = admin_call(lambda b: b.digests.send_now(chosen), as_json)
        if as_json:
            write_json({"practitioner_id": practitioner, "queued": bool(sent)})
        else:
            out.print("digest queued" if sent else "nothing to send (no linked chat)")
        return
    show = (err.is_terminal if progress is None else progress) and not as_json
    if jobs > 1:
        count = _send_all_in_processes(jobs, show, as_json)
    else:
        count = admin_call(lambda b: _send_all(b, show), as_json)
    if as_json:
        write_json({"queued": count})
    else:
        out.print(f"{count} digest(s) queued")


async def _send_all(bot: Any, show: bool) -> int:
    if not show:
        return int(await bot.digests.send_all())
    with _progress_bar() as tick:
        return int(await bot.digests.send_all(tick))


def _send_all_in_processes(jobs: int, show: bool, as_json: bool) -> int:
    from feedback_bot.app.cli.common import settings_from_environment
    from feedback_bot.app.digest_processes import ShareFailed, send_all_in_processes

    settings_or_exit(as_json)  # a settings mistake is said once, here, not by each process
    try:
        if not show:
            return send_all_in_processes(settings_from_environment, jobs)
        with _progress_bar() as tick:
            return send_all_in_processes(settings_from_environment, jobs, tick)
    except ShareFailed as exc:
        raise fail(f"not every digest was sent ({exc}); run it again", as_json) from None


@contextmanager
def _progress_bar() -> Iterator[Callable[[int, int], None]]:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    columns = (BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=err, transient=False) as bar:
        task = bar.add_task("digests", total=None)

        def tick(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield tick


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
