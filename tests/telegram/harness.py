"""Test doubles and helpers shared by the Telegram adapter tests."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable

from adapters.telegram import TelegramAdapter
from feedback_bot.ports import IncomingEvent

CLIENT = 424242  # a private chat: chat id == user id


class MemoryCursors:
    """The CursorStore port, in memory; ``history`` shows every save, in order."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}
        self.history: list[tuple[str, str]] = []

    async def get(self, name: str) -> str | None:
        return self.values.get(name)

    async def set(self, name: str, value: str) -> None:
        self.values[name] = value
        self.history.append((name, value))


class RecordingSink:
    """Stands in for the inbox: ``events`` holds what was "committed".

    ``fail_times`` makes the next calls raise, as a database outage would; ``before_commit``
    runs first on every call (to look at the world at that moment, or to hold the commit).
    """

    def __init__(self) -> None:
        self.events: list[IncomingEvent] = []
        self.fail_times = 0
        self.before_commit: Callable[[IncomingEvent], Awaitable[None]] | None = None

    async def __call__(self, event: IncomingEvent) -> None:
        if self.before_commit is not None:
            await self.before_commit(event)
        if self.fail_times > 0:
            self.fail_times -= 1
            raise RuntimeError("database unavailable")
        self.events.append(event)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def eventually(condition: Callable[[], bool], within: float = 3.0) -> None:
    """Bounded polling, for state no request to the fake signals (the adapter's own flags)."""
    step = 0.01
    for _ in range(int(within / step)):
        if condition():
            return
        await asyncio.sleep(step)
    raise AssertionError(f"condition still false after {within} s")


AdapterFactory = Callable[..., TelegramAdapter]
