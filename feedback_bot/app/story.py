"""A story told with the real app on a simulated clock: ``demo`` and ``transcripts``.

Both drive the same app that ``run`` uses, through the console adapter, with a throwaway
SQLite database and key, so what they show is what clients and practitioners would see.
They differ only in how they show it, which is what a ``Story`` subclass says.
"""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

from adapters.console import ConsoleAdapter
from feedback_bot.app.bootstrap import App, build_app
from feedback_bot.app.settings import Settings
from feedback_bot.ports import OutgoingMessage
from feedback_bot.privacy.crypto import generate_key
from feedback_bot.scheduling.clock import FakeClock

REPO = Path(__file__).resolve().parents[2]
START = datetime(2026, 11, 16, 9, 0, tzinfo=UTC)  # a Monday morning in London


@dataclass
class Story:
    """Who says and presses what, on the clock; subclasses show it."""

    app: App
    console: ConsoleAdapter
    clock: FakeClock

    def show_bot(self, message: OutgoingMessage) -> None:
        raise NotImplementedError

    def show_says(self, who: str, text: str) -> None:
        raise NotImplementedError

    def show_press(self, who: str, label: str) -> None:
        raise NotImplementedError

    async def says(self, who: str, text: str) -> None:
        self.show_says(who, text)
        await self.console.say(who, text)
        await self.app.drain()

    async def presses(self, who: str, label: str) -> None:
        msg = next((m for m in reversed(self.console.sent[who]) if m.choices), None)
        choice = next((c for c in msg.choices if c.label == label), None) if msg else None
        if msg is None or choice is None:
            raise LookupError(f"{who} has no choice {label!r}")
        self.show_press(who, label)
        await self.console.press(who, choice.id)
        await self.app.drain()

    async def wait(self, delta: timedelta) -> None:
        # Tick hourly: finer than the missed-slot grace, and every slot here is on the hour.
        end = self.clock.now() + delta
        while self.clock.now() < end:
            self.clock.advance(min(timedelta(hours=1), end - self.clock.now()))
            await self.app.tick()
            await self.app.drain()


S = TypeVar("S", bound=Story)


@asynccontextmanager
async def told(
    make: Callable[[App, ConsoleAdapter, FakeClock], S],
    name: str,
    attachments_dir: Path | None = None,
) -> AsyncIterator[S]:
    """The app, started at ``START`` with a throwaway database and key, as a story."""
    with tempfile.TemporaryDirectory(prefix=f"feedback-bot-{name}-") as tmp:
        clock = FakeClock(START)
        # The console needs somewhere to show what it sends before the story can exist.
        holder: list[S] = []
        console = ConsoleAdapter(
            output=lambda m: holder[0].show_bot(m), attachments_dir=attachments_dir
        )
        settings = Settings(
            _env_file=None,
            database_url=f"sqlite+aiosqlite:///{tmp}/{name}.sqlite3",
            encryption_key=generate_key(),  # throwaway: the database goes with the temp dir
            prompts_file=REPO / "config" / "prompts.yaml",
        )

        async def sleep(seconds: float) -> None:
            clock.advance(timedelta(seconds=seconds))

        app = await build_app(settings, adapters=[console], clock=clock, sleep=sleep)
        await console.start(app.receive)
        holder.append(make(app, console, clock))
        try:
            yield holder[0]
        finally:
            await app.close()
