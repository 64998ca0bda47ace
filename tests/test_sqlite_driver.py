"""The SQLite driver adaptation (storage.sqlite_driver): statements give the same results
and errors as through SQLAlchemy's own aiosqlite adapter, with one trip to the driver's
thread each, and none for a COMMIT or ROLLBACK when no transaction is open."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiosqlite
import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from feedback_bot.storage.database import create_engine


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'driver.sqlite3'}")
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT UNIQUE)"))
    yield engine
    await engine.dispose()


@pytest.fixture
def hops(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every call queued to a connection's thread, by the function's name."""
    seen: list[str] = []
    original = aiosqlite.Connection._execute

    async def counted(self: aiosqlite.Connection, fn, *args, **kwargs):  # type: ignore[no-untyped-def]
        seen.append(getattr(fn, "__name__", type(fn).__name__))
        return await original(self, fn, *args, **kwargs)

    monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)
    return seen


async def test_statements_return_rows_counts_and_ids_as_before(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        inserted = await conn.execute(text("INSERT INTO t (name) VALUES ('a')"))
        assert inserted.rowcount == 1 and inserted.lastrowid == 1
        await conn.execute(text("INSERT INTO t (name) VALUES (:n)"), [{"n": "b"}, {"n": "c"}])
        back = await conn.execute(text("INSERT INTO t (name) VALUES ('d') RETURNING id"))
        assert back.scalar_one() == 4
        changed = await conn.execute(text("UPDATE t SET name = name || '!' WHERE id > 1"))
        assert changed.rowcount == 3
    async with engine.connect() as conn:
        names = (await conn.execute(text("SELECT name FROM t ORDER BY id"))).scalars().all()
        assert names == ["a", "b!", "c!", "d!"]
        assert (await conn.execute(text("SELECT name FROM t WHERE id = 99"))).first() is None


async def test_errors_are_the_drivers_and_a_rollback_undoes_the_transaction(
    engine: AsyncEngine,
) -> None:
    async with engine.begin() as conn:
        await conn.execute(text("INSERT INTO t (name) VALUES ('a')"))
    with pytest.raises(IntegrityError):
        async with engine.begin() as conn:
            await conn.execute(text("INSERT INTO t (name) VALUES ('b')"))
            await conn.execute(text("INSERT INTO t (name) VALUES ('a')"))
    async with engine.connect() as conn:
        names = (await conn.execute(text("SELECT name FROM t"))).scalars().all()
    assert names == ["a"], "the failed transaction's first insert was rolled back"


async def test_a_statement_is_one_trip_to_the_drivers_thread(
    engine: AsyncEngine, hops: list[str]
) -> None:
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))  # the pool's connection is open from here on
        hops.clear()
        await conn.execute(text("SELECT name FROM t"))
        await conn.execute(text("INSERT INTO t (name) VALUES ('a')"))
        assert len(hops) == 2, hops  # SQLAlchemy's adapter: 4 for the SELECT, 3 for the INSERT
        await conn.commit()
        assert len(hops) == 3, "the commit"
        await conn.execute(text("SELECT name FROM t"))
        hops.clear()
        await conn.commit()  # nothing written since: no transaction open
        await conn.rollback()
    assert hops == [], "a COMMIT or ROLLBACK with no transaction open makes no trip"
