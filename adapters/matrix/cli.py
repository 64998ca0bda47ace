"""``feedback-bot matrix …``: the Matrix channel's own admin commands."""

from __future__ import annotations

import asyncio

import typer


def commands() -> typer.Typer:
    matrix = typer.Typer(help="Matrix channel.", no_args_is_help=True)

    @matrix.command("identity")
    def identity(
        reset: bool = typer.Option(
            False,
            "--reset",
            help="Replace an identity the bot does not hold (needs FEEDBACK_BOT_MATRIX__PASSWORD)",
        ),
        as_json: bool = typer.Option(False, "--json"),
    ) -> None:
        """The bot's Matrix identity: master key fingerprint, as published and as stored."""
        from feedback_bot.app.cli import emit, fail, settings_or_exit

        from .cross_signing import KeyFileError, NeedsAuth
        from .identity import matrix_identity
        from .rawapi import MatrixHTTPError
        from .session import MatrixConfigError

        settings = settings_or_exit(as_json)
        try:
            report = asyncio.run(matrix_identity(settings.matrix, reset=reset))  # type: ignore[attr-defined]
        except (MatrixConfigError, NeedsAuth, KeyFileError, MatrixHTTPError) as exc:
            raise fail(str(exc), as_json, "matrix") from None
        emit(report, as_json, "Matrix identity")

    return matrix
