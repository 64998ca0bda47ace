"""Platform cursors (Telegram offset, Matrix sync token) in our own database, so they
move only after the events they pass are committed."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from feedback_bot.scheduling.clock import Clock
from feedback_bot.storage.database import upsert_insert
from feedback_bot.storage.models import Cursor


class DbCursorStore:
    """``sessions`` should come from the receiving engine
    (:func:`~feedback_bot.storage.database.receiving_engine`), as the inbox's do: a cursor
    write waits only briefly for a lock, so the receiving loop does not stall, and that
    wait is set once per connection rather than around every write."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], clock: Clock) -> None:
        self._sessions = sessions
        self._clock = clock

    async def get(self, name: str) -> str | None:
        async with self._sessions() as session:
            row = await session.get(Cursor, name)
            return None if row is None else row.value

    async def set(self, name: str, value: str) -> None:
        # One upsert: the cursor moves after every batch a platform hands over.
        async with self._sessions() as session:
            insert = upsert_insert(session)
            stmt = insert(Cursor).values(name=name, value=value, updated_at=self._clock.now())
            await session.execute(
                stmt.on_conflict_do_update(
                    index_elements=[Cursor.name],
                    set_={"value": stmt.excluded.value, "updated_at": stmt.excluded.updated_at},
                )
            )
            await session.commit()
