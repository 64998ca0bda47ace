"""Long polling with an offset we own.

``getUpdates(offset=N)`` tells Telegram that every update below N may be forgotten. So N
only moves past a batch once each of its updates has gone through the sink (committed to
the inbox) and N itself is saved in our cursor table. A crash anywhere before that makes
Telegram deliver the batch again; the inbox drops the copies already stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from telegram import Bot, Update
from telegram.error import Conflict, InvalidToken, RetryAfter, TelegramError

from adapters.telegram.errors import retry_after_seconds
from adapters.telegram.translate import ALLOWED_UPDATES
from feedback_bot.ports import CursorStore

log = logging.getLogger(__name__)

CURSOR = "telegram:offset"

UpdateProcessor = Callable[[Update], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Backoff:
    initial: float = 1.0
    maximum: float = 60.0
    # Between tries to commit a batch the database refused. Short on purpose: each try
    # hands every update to the inbox again, which screens it (a crisis text is answered
    # directly) and backs off from the database on its own.
    commit_maximum: float = 5.0

    def next(self, current: float) -> float:
        return min(current * 2, self.maximum)


class Poller:
    def __init__(
        self,
        bot: Bot,
        cursors: CursorStore,
        process: UpdateProcessor,
        *,
        poll_timeout: int,
        backoff: Backoff,
        on_connected: Callable[[bool], None],
    ) -> None:
        self._bot = bot
        self._cursors = cursors
        self._process = process
        self._poll_timeout = poll_timeout
        self._backoff = backoff
        self._on_connected = on_connected
        self._stop = asyncio.Event()

    def stop(self) -> None:
        self._stop.set()

    async def run(self) -> None:
        saved = await self._cursors.get(CURSOR)
        offset = int(saved) if saved else None
        delay = self._backoff.initial
        commit_delay = self._backoff.initial  # grows until a batch is committed
        while not self._stop.is_set():
            try:
                updates = await self._fetch(offset)
            except Conflict as exc:
                self._on_connected(False)
                log.error(
                    "Telegram polling stopped: %s. Another process is polling this bot token "
                    "or has set a webhook; stop it, then restart this one.",
                    exc.message,
                )
                return
            except InvalidToken:
                self._on_connected(False)
                log.error("Telegram polling stopped: Telegram does not accept the bot token")
                return
            except RetryAfter as exc:
                await self._pause(retry_after_seconds(exc))
                continue
            except (TelegramError, OSError) as exc:
                self._on_connected(False)
                log.warning("Telegram polling: %s; retrying in %.1f s", type(exc).__name__, delay)
                await self._pause(delay)
                delay = self._backoff.next(delay)
                continue
            if self._stop.is_set():
                return
            self._on_connected(True)
            delay = self._backoff.initial
            if not updates:
                continue
            try:
                offset = await self._commit(updates)
            except Exception as exc:
                # Only the type: a database error's text can quote the values it was given.
                log.error(
                    "Telegram updates %s-%s not committed (%s); they will be fetched again",
                    updates[0].update_id,
                    updates[-1].update_id,
                    type(exc).__name__,
                )
                await self._pause(commit_delay)
                commit_delay = min(self._backoff.next(commit_delay), self._backoff.commit_maximum)
            else:
                commit_delay = self._backoff.initial

    async def _fetch(self, offset: int | None) -> Sequence[Update]:
        """One long poll, abandoned at once when we are stopped (that confirms nothing)."""
        poll = asyncio.ensure_future(
            self._bot.get_updates(
                offset=offset, timeout=self._poll_timeout, allowed_updates=ALLOWED_UPDATES
            )
        )
        stopped = asyncio.ensure_future(self._stop.wait())
        try:
            await asyncio.wait({poll, stopped}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopped.cancel()
            if not poll.done():
                poll.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await poll
        if poll.cancelled():
            return ()
        return poll.result()

    async def _commit(self, updates: Sequence[Update]) -> int:
        """Every update goes to the sink, even after one failed: the sink screens each (a
        crisis text is answered however the database is). The offset moves only when all
        of them are committed."""
        failure: Exception | None = None
        for update in updates:
            try:
                await self._process(update)
            except Exception as exc:
                failure = failure or exc
        if failure is not None:
            raise failure
        offset = updates[-1].update_id + 1
        await self._cursors.set(CURSOR, str(offset))
        return offset

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), seconds)
