"""Platform cursors (Telegram offset, Matrix sync token) in our own database, so they
move only after the events they pass are committed."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from feedback_bot.scheduling.clock import Clock
from feedback_bot.storage.database import short_lock_wait
from feedback_bot.storage.models import Cursor


class DbCursorStore:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], clock: Clock) -> None:
        self._sessions = sessions
        self._clock = clock

    async def get(self, name: str) -> str | None:
        async with self._sessions() as session:
            row = await session.get(Cursor, name)
            return None if row is None else row.value

    async def set(self, name: str, value: str) -> None:
        # A short wait for a lock, as for the inbox: the receiving loop must not stall.
        async with self._sessions() as session, short_lock_wait(session):
            row = await session.get(Cursor, name)
            if row is None:
                session.add(Cursor(name=name, value=value, updated_at=self._clock.now()))
            else:
                row.value = value
                row.updated_at = self._clock.now()
            await session.commit()
