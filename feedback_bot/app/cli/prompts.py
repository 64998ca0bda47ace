"""``feedback-bot prompts``: the deployment's practice configuration file."""

from __future__ import annotations

from pathlib import Path

import typer

from feedback_bot.app.cli.common import fail, json_option, out, settings_or_exit, write_json
from feedback_bot.people.practice_config import ConfigError, load_practice_config

prompts_app = typer.Typer(
    help="Practice configuration (config/prompts.yaml).", no_args_is_help=True
)


@prompts_app.command("validate")
def prompts_validate(
    path: Path = typer.Argument(None, help="defaults to FEEDBACK_BOT_PROMPTS_FILE"),
    as_json: bool = json_option(),
) -> None:
    """Check the practice configuration, including crisis resources."""
    target = path or settings_or_exit(as_json).prompts_file
    try:
        cfg = load_practice_config(target)
    except ConfigError as exc:
        raise fail(str(exc), as_json, "config") from None
    per_language = {lang: cfg.crisis_resources_for(lang) for lang in cfg.offered_languages}
    if as_json:
        write_json(
            {
                "file": str(target),
                "ok": True,
                "languages": list(cfg.languages),
                "crisis_resources": {
                    lang: {"emergency": len(res.emergency), "crisis_lines": len(res.crisis_lines)}
                    for lang, res in per_language.items()
                },
            }
        )
        return
    counts = ", ".join(
        f"{lang} {len(res.emergency)} emergency + {len(res.crisis_lines)} crisis line(s)"
        for lang, res in per_language.items()
    )
    out.print(
        f"{target}: ok (languages {', '.join(cfg.languages)}; crisis resources: {counts})",
        highlight=False,
        soft_wrap=True,
    )
