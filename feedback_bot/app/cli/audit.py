"""``feedback-bot audit``: who did what, by id only. Readable in an 80-column terminal:
every event starts with its time and its full action name; what follows wraps under it,
never cutting an action name."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import typer

from feedback_bot.app.cli.common import admin_call, fail, json_option, out, write_json

WIDTH = 80
WHEN = "%Y-%m-%d %H:%M"
INDENT = " " * (len("2026-01-01 00:00") + 2)


def _day_or_time(value: str, *, end: bool, as_json: bool) -> datetime:
    """``2026-11-20`` (the whole day, UTC) or an ISO time (UTC unless it says otherwise)."""
    try:
        if len(value) == 10:
            day = datetime.fromisoformat(value).replace(tzinfo=UTC)
            return day + timedelta(days=1) if end else day
        at = datetime.fromisoformat(value)
    except ValueError:
        raise fail(
            f"{value!r} is not a date (YYYY-MM-DD) or a time (YYYY-MM-DDTHH:MM)", as_json, "usage"
        ) from None
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at


def lines_of(event: dict[str, Any]) -> list[str]:
    """One event as lines of at most 80 characters: the time, then its parts in order
    (action, actor, subject, details), each part whole; wrapped lines are indented."""
    at = datetime.fromisoformat(event["at"]).astimezone(UTC).strftime(WHEN)
    parts = [event["action"], f"by {event['actor']}"]
    if event["subject"]:
        parts.append(event["subject"])
    parts += [f"{k}={v}" for k, v in event["details"].items()]
    pieces: list[str] = []
    room = WIDTH - len(INDENT)
    for part in parts:
        while len(part) > room:  # only a long detail value is ever this long
            pieces.append(part[:room])
            part = part[room:]
        pieces.append(part)
    lines, line = [], at
    for piece in pieces:
        if len(line) + 2 + len(piece) > WIDTH:
            lines.append(line)
            line = INDENT + piece
        else:
            line += "  " + piece
    lines.append(line)
    return lines


def register(app: typer.Typer) -> None:
    @app.command("audit")
    def audit(
        since: str = typer.Option(None, help="from this day (YYYY-MM-DD, UTC) or time"),
        until: str = typer.Option(None, help="up to and including this day, or before a time"),
        practice: int = typer.Option(None, "--practice", help="only this practice's events"),
        limit: int = typer.Option(100, help="at most this many, newest first"),
        as_json: bool = json_option(),
    ) -> None:
        """Who did what (ids only; no content is ever recorded). Times are UTC."""
        start = _day_or_time(since, end=False, as_json=as_json) if since else None
        end = _day_or_time(until, end=True, as_json=as_json) if until else None
        rows = admin_call(
            lambda b: b.admin.audit_log(limit, practice_id=practice, since=start, until=end),
            as_json,
        )
        data = [
            {
                "at": r.at.isoformat(),
                "actor": r.actor,
                "action": r.action,
                "subject": f"{r.subject_type}:{r.subject_id}" if r.subject_type else "",
                "practice_id": r.practice_id,
                "details": r.details,
            }
            for r in rows
        ]
        if as_json:
            write_json(data)
            return
        if not data:
            out.print("no audit events", highlight=False)
            return
        out.print("when (UTC)        action  actor  subject  details", highlight=False)
        for event in data:
            for line in lines_of(event):
                out.print(line, highlight=False, markup=False, soft_wrap=True)
