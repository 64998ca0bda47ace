"""``feedback-bot run`` as a real process that can be made to die like ``kill -9``.

Run as ``python -m tests.crash_runner`` with the usual ``FEEDBACK_BOT_*`` settings. When
``FEEDBACK_BOT_TEST_CRASH_MARKER`` is set, the process SIGKILLs itself the moment an
incoming event whose text contains the marker is about to be committed to the inbox:
inside ``Inbox._store``, after its INSERT has run, before its transaction commits. No
``finally``, no ``atexit``, no adapter ``stop()``, no cursor save: whatever was not
committed is gone, exactly as after a power cut or the OOM killer.

``FEEDBACK_BOT_TEST_CRASH_AFTER_COMMIT_MARKER`` is the other side of the same moment: the
process dies just after the marker event's inbox transaction has committed, before the
engine has handled it and before the adapter has acknowledged it (cursor, offset).

Without the marker this is the production entry point, unchanged. The hook lives here,
not in ``feedback_bot``: production code has no test switches.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import inspect
import os
import signal
import subprocess
import sys
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from feedback_bot.app.bootstrap import App
from feedback_bot.delivery.inbox import Inbox
from feedback_bot.ports import IncomingEvent
from feedback_bot.storage.models import InboxEvent, OutboxMessage

REPO = Path(__file__).resolve().parent.parent
MARKER_ENV = "FEEDBACK_BOT_TEST_CRASH_MARKER"
AFTER_COMMIT_ENV = "FEEDBACK_BOT_TEST_CRASH_AFTER_COMMIT_MARKER"
DYING_NOTE = b"crash_runner: marker event reached the inbox; SIGKILL before commit\n"
DYING_AFTER_COMMIT_NOTE = b"crash_runner: marker event committed to the inbox; SIGKILL\n"
RUNNING_NOTE = "feedback bot running"  # what ``feedback-bot run`` logs once started

# Set only while the marker event's own transaction runs (SQLAlchemy carries context
# variables into the greenlet that runs the sync Session), so no other commit trips it.
_storing_marker: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "storing_marker", default=False
)


def _die_before_commit(session: Session) -> None:
    if _storing_marker.get():
        os.write(2, DYING_NOTE)
        os.kill(os.getpid(), signal.SIGKILL)
        os._exit(137)  # not reached; SIGKILL cannot be caught


def install(marker: str) -> None:
    original = Inbox._store

    async def _store(self: Inbox, incoming: IncomingEvent) -> Any:
        if marker not in (incoming.text or ""):
            return await original(self, incoming)
        token = _storing_marker.set(True)
        try:
            return await original(self, incoming)
        finally:
            _storing_marker.reset(token)

    event.listen(Session, "before_commit", _die_before_commit)
    Inbox._store = _store  # type: ignore[method-assign]


def install_after_commit(marker: str) -> None:
    original = Inbox._store

    async def _store(self: Inbox, incoming: IncomingEvent) -> Any:
        inserted = await original(self, incoming)
        if inserted and marker in (incoming.text or ""):
            os.write(2, DYING_AFTER_COMMIT_NOTE)
            os.kill(os.getpid(), signal.SIGKILL)
        return inserted

    Inbox._store = _store  # type: ignore[method-assign]


# --- the test side: start, watch and always end these processes ----------------------------


def bot_env(
    settings: Mapping[str, str], marker: str | None = None, *, after_commit: str | None = None
) -> dict[str, str]:
    """The test's environment without any inherited bot settings, plus ``settings``;
    ``marker`` dies before the marker event's inbox commit, ``after_commit`` just after."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEEDBACK_BOT_")}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    env["PYTHONUNBUFFERED"] = "1"
    env.update(settings)
    if marker:
        env[MARKER_ENV] = marker
    if after_commit:
        env[AFTER_COMMIT_ENV] = after_commit
    return env


class BotProcess:
    """One ``python -m tests.crash_runner`` with its output in ``<workdir>/<name>.log``.

    It runs in ``workdir`` so that no ``.env`` of the checkout is read."""

    def __init__(self, name: str, workdir: Path, env: dict[str, str]) -> None:
        self.name = name
        self.log = workdir / f"{name}.log"
        with self.log.open("wb") as out:
            self.popen = subprocess.Popen(
                [sys.executable, "-m", "tests.crash_runner"],
                cwd=workdir,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a Ctrl-C meant for pytest is not delivered twice
            )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def output(self, last: int = 4000) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return f"--- {self.name} (pid {self.pid}) output ---\n{text[-last:]}"

    async def wait_running(self, seconds: float) -> None:
        """Until the bot says it runs (its adapters started, its loops going)."""
        await wait_for(
            f"{self.name} to run", lambda: RUNNING_NOTE in self.output(last=10**6), seconds, (self,)
        )

    async def wait_exit(self, seconds: float) -> int:
        await wait_for(f"{self.name} to exit", lambda: not self.alive(), seconds)
        return self.popen.returncode

    async def stop(self, seconds: float = 15.0) -> int:
        """SIGTERM (the clean shutdown ``feedback-bot run`` does); SIGKILL if it hangs."""
        if self.alive():
            self.popen.send_signal(signal.SIGTERM)
            with contextlib.suppress(AssertionError):
                return await self.wait_exit(seconds)
        self.kill()
        return self.popen.returncode

    def kill(self) -> None:
        """For ``finally``: this process, by its own pid, never outlives the test."""
        if self.alive():
            self.popen.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=10)


async def wait_for(
    what: str,
    predicate: Callable[[], bool | Awaitable[bool]],
    seconds: float,
    must_live: tuple[BotProcess, ...] = (),
) -> None:
    """Poll ``predicate`` (sync or async) without blocking the event loop, so servers
    running in the test process keep answering; fail early if a bot process died."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds

    async def holds() -> bool:
        result = predicate()
        return bool(await result) if inspect.isawaitable(result) else bool(result)

    while not await holds():
        for process in must_live:
            if not process.alive():
                raise AssertionError(
                    f"{process.name} exited while waiting for {what}\n{process.output()}"
                )
        if loop.time() > deadline:
            detail = "\n".join(p.output() for p in must_live)
            raise AssertionError(f"timed out after {seconds:.0f} s waiting for {what}\n{detail}")
        await asyncio.sleep(0.05)


def main() -> None:
    from adapters.registry import platforms
    from feedback_bot.app.cli import run
    from feedback_bot.app.logging_setup import configure
    from feedback_bot.app.platforms import settings_class
    from feedback_bot.app.runner import run_forever
    from feedback_bot.app.settings import load_settings

    marker = os.environ.get(MARKER_ENV)
    if marker:
        install(marker)
    after_commit = os.environ.get(AFTER_COMMIT_ENV)
    if after_commit:
        install_after_commit(after_commit)
    settings = load_settings(settings_class(platforms()))
    configure(settings.log_level, platforms())
    run(lambda: run_forever(settings))


async def outbox(app: App) -> list[tuple[int, str, int]]:
    async with app.sessions() as session:
        rows = await session.execute(
            select(OutboxMessage.id, OutboxMessage.status, OutboxMessage.attempts).order_by(
                OutboxMessage.id
            )
        )
        return [tuple(r) for r in rows]  # type: ignore[misc]


async def quiet(app: App) -> bool:
    """Everything received is processed and everything queued is delivered."""
    async with app.sessions() as session:
        inbox = set((await session.execute(select(InboxEvent.status))).scalars())
    return inbox <= {"done"} and {status for _, status, _ in await outbox(app)} <= {"sent"}


if __name__ == "__main__":
    main()
