"""Keep message content out of logs, ours and the libraries'."""

from __future__ import annotations

import logging
import traceback


def quiet_library_logs() -> None:
    logging.getLogger("nio").setLevel(logging.WARNING)
    # nio's event and response validation messages quote the offending JSON, which can be
    # a decrypted message.
    logging.getLogger("nio.events").setLevel(logging.CRITICAL)
    logging.getLogger("nio.responses").setLevel(logging.CRITICAL)
    # peewee (nio's key store) logs SQL with parameters at DEBUG.
    logging.getLogger("peewee").setLevel(logging.WARNING)


def describe(exc: BaseException) -> str:
    """Exception type and where it was raised, without its message (it may quote content)."""
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return type(exc).__name__
    last = frames[-1]
    return f"{type(exc).__name__} at {last.filename.rsplit('/', 1)[-1]}:{last.lineno}"
