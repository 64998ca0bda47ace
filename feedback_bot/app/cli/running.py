"""Running the bot, the demo, and trying the bot in a terminal."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from adapters.registry import platforms
from feedback_bot.app.cli.common import fail, json_option, run, settings_or_exit, write_json


def register(app: typer.Typer) -> None:
    @app.command("run")
    def run_bot(as_json: bool = json_option()) -> None:
        """Run the bot with the adapters configured in the environment (with --json, a
        failure to start is the error object)."""
        from feedback_bot.app.logging_setup import configure
        from feedback_bot.app.runner import run_forever

        settings = settings_or_exit(as_json)
        configure(settings.log_level, platforms())
        run(lambda: run_forever(settings, platforms()), as_json)

    @app.command()
    def demo(
        out_dir: Path = typer.Option(Path("demo-output"), help="Where the digest is written"),
        as_json: bool = json_option(),
    ) -> None:
        """Play a short story on a simulated clock: no tokens, no configuration. With
        --json the story goes to stderr and the files written are listed as JSON."""
        from feedback_bot.app.demo import run_demo
        from feedback_bot.app.logging_setup import quiet_platform_loggers

        quiet_platform_loggers(platforms())
        term = Console(stderr=True) if as_json else None
        written = run(lambda: run_demo(out_dir, term), as_json)
        if as_json:
            write_json(
                {
                    "out_dir": str(written.resolve()),
                    "files": sorted(p.name for p in written.iterdir()),
                }
            )

    @app.command()
    def chat(
        as_: str = typer.Option("client", "--as", help="client or practitioner"),
        files: Path = typer.Option(
            Path("feedback-bot-files"),
            "--files",
            help="where attachments (exports, digests) are saved",
        ),
        as_json: bool = json_option(),
    ) -> None:
        """Talk to the bot in this terminal (console adapter, your configured database).
        Like `demo` it sets up whatever is missing, the database schema included. It is a
        conversation: --json changes only how a failure to start is reported."""
        from feedback_bot.app.console_chat import chat_session
        from feedback_bot.app.logging_setup import quiet_platform_loggers

        if as_ not in ("client", "practitioner"):
            raise fail("--as takes client or practitioner", as_json, "usage")
        settings = settings_or_exit(as_json)
        quiet_platform_loggers(platforms())
        run(lambda: chat_session(settings, as_, files), as_json)
