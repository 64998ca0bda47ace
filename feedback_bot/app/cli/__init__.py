"""``feedback-bot``: run the bot, try it in a terminal, and administer a practice.

One file per command group; what they share (``--json`` output and errors, settings,
opening the app) is in ``common.py``."""

from __future__ import annotations

import typer

from adapters.registry import platforms
from feedback_bot.app.cli import audit, running
from feedback_bot.app.cli.admins import admin_app
from feedback_bot.app.cli.client import client_app
from feedback_bot.app.cli.common import JsonErrorsGroup, emit, fail, run, settings_or_exit
from feedback_bot.app.cli.db import db_app
from feedback_bot.app.cli.digest import digest_app
from feedback_bot.app.cli.keys import keys_app
from feedback_bot.app.cli.practice import practice_app
from feedback_bot.app.cli.practitioner import practitioner_app
from feedback_bot.app.cli.prompts import prompts_app
from feedback_bot.app.cli.queues import inbox_app, outbox_app
from feedback_bot.safety.evaluate import app as safety_app

__all__ = ["app", "emit", "fail", "main", "run", "settings_or_exit"]

app = typer.Typer(
    cls=JsonErrorsGroup,
    add_completion=False,
    no_args_is_help=True,
    help="Between-session feedback bot for therapy, counselling and coaching.",
)
running.register(app)
audit.register(app)
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
    ("admin", admin_app),
):
    app.add_typer(sub, name=name)
# `practice config export|import` (cli_settings.py uses common.py's helpers).
from feedback_bot.app.cli_settings import config_app  # noqa: E402

practice_app.add_typer(config_app, name="config")
for _platform in platforms():
    if _platform.commands is not None:
        app.add_typer(_platform.commands(), name=_platform.name)


def main() -> None:
    app()
