"""``feedback-bot keys``: encryption keys."""

from __future__ import annotations

import sys

import typer

from feedback_bot.app.cli.common import (
    err,
    json_option,
    open_app,
    out,
    run,
    settings_or_exit,
    write_json,
)

keys_app = typer.Typer(help="Encryption keys.", no_args_is_help=True)


@keys_app.command("generate")
def keys_generate(as_json: bool = json_option()) -> None:
    """Print a new 256-bit key for FEEDBACK_BOT_ENCRYPTION_KEY."""
    from feedback_bot.privacy.crypto import generate_key

    key = generate_key()
    if as_json:
        write_json({"key": key})
    else:
        sys.stdout.write(key + "\n")


@keys_app.command("rotate")
def keys_rotate(
    batch: int = typer.Option(200, help="rows per transaction"),
    wait: float = typer.Option(
        30.0, help="seconds to keep retrying rows another transaction holds locked"
    ),
    as_json: bool = json_option(),
) -> None:
    """Re-encrypt every row under the current key (old keys in FEEDBACK_BOT_OLD_ENCRYPTION_KEYS).
    Safe to interrupt and run again: rows already under the new key are skipped. Exits 1,
    saying what is left per table and column, unless every value is under the current key:
    keep the old keys configured until it succeeds."""
    from rich.progress import Progress

    from feedback_bot.privacy.key_rotation import RotationResult, rotate_all

    settings = settings_or_exit(as_json)

    async def go() -> RotationResult:
        bot = await open_app(settings)
        try:
            with Progress(console=err, disable=as_json) as progress:
                task = progress.add_task("re-encrypting", total=None)

                def tick(done: int, total: int) -> None:
                    progress.update(task, completed=done, total=total)

                return await rotate_all(bot.sessions, bot.vault, batch, tick, wait=wait)
        finally:
            await bot.close()

    result = run(go, as_json)
    if as_json:
        write_json(
            {
                "rotated": result.rotated,
                "complete": result.complete,
                "left": dict(sorted(result.left.items())),
                "unreadable": dict(sorted(result.unreadable.items())),
            }
        )
        if not result.complete:
            raise typer.Exit(code=1)
        return
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
