"""``feedback-bot prompts``: the deployment's practice configuration file."""

from __future__ import annotations

from pathlib import Path

import typer

from feedback_bot.app.cli.common import json_option, settings_or_exit

prompts_app = typer.Typer(
    help="Practice configuration (config/prompts.yaml).", no_args_is_help=True
)


@prompts_app.command("validate")
def prompts_validate(
    path: Path = typer.Argument(None, help="defaults to FEEDBACK_BOT_PROMPTS_FILE"),
    as_json: bool = json_option(),
) -> None:
    """Check the deployment's settings file (the defaults for new practices) by the rules
    every practice's settings follow; every problem at once, file:line: path: message."""
    from feedback_bot.app.cli_settings import validate_prompts

    validate_prompts(path or settings_or_exit(as_json).prompts_file, as_json)
