"""Engine and session factory. Nothing here runs at import time."""

from __future__ import annotations

import asyncio
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from feedback_bot.storage.sealed import FieldVault
from feedback_bot.storage.sqlite_driver import one_hop_dbapi

BUSY_TIMEOUT_MS = 30000  # how long SQLite waits for another connection's write lock
# Writes on the receiving path (inbox, platform cursors) wait much less, on SQLite and on
# PostgreSQL: their adapter retries anyway, and a long wait would hold up every event
# behind them (a crisis text must be screened and answered within seconds while the
# database is locked).
SHORT_LOCK_WAIT_MS = 3000


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def create_engine(url: str, *, lock_wait_ms: int | None = None, **kwargs: Any) -> AsyncEngine:
    """``lock_wait_ms``: how long every write of this engine waits for a lock (SQLite's
    busy timeout, PostgreSQL's lock_timeout), set once per connection; default: SQLite
    waits ``BUSY_TIMEOUT_MS``, PostgreSQL as long as it takes."""
    parsed = make_url(url)
    if is_sqlite(url):
        busy_ms = lock_wait_ms or BUSY_TIMEOUT_MS
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        if parsed.get_driver_name() == "aiosqlite":
            # One hop to the driver's thread per statement (storage.sqlite_driver).
            kwargs.setdefault("module", one_hop_dbapi())
        engine = create_async_engine(url, connect_args={"timeout": 30}, **kwargs)

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            # WAL lets the dispatcher read while the engine writes; busy_timeout turns
            # brief lock contention into a wait instead of "database is locked".
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute(f"PRAGMA busy_timeout={busy_ms}")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        return engine
    kwargs.setdefault("pool_pre_ping", True)
    if lock_wait_ms is not None:
        kwargs["connect_args"] = {
            **kwargs.get("connect_args", {}),
            "server_settings": {"lock_timeout": str(lock_wait_ms)},
        }
    return create_async_engine(url, **kwargs)


def receiving_engine(url: str) -> AsyncEngine:
    """The engine of the receiving path (the inbox): its own connections, whose writes
    wait at most ``SHORT_LOCK_WAIT_MS`` for a lock. Set when a connection opens, not
    around every event (two statements per event on SQLite, one on PostgreSQL)."""
    return create_engine(url, lock_wait_ms=SHORT_LOCK_WAIT_MS)


def session_factory(
    engine: AsyncEngine, vault: FieldVault | None = None
) -> async_sessionmaker[AsyncSession]:
    """Sessions; with ``vault`` they read and write the sealed columns (storage.sealed)."""
    info = {"vault": vault} if vault is not None else {}
    return async_sessionmaker(engine, expire_on_commit=False, info=info)


class _NoGate:
    async def __aenter__(self) -> None:
        return None

    async def __aexit__(self, *exc: object) -> None:
        return None


def write_gate(url: str) -> AbstractAsyncContextManager[Any]:
    """What the hot writers (the inbox, the engine's turns) hold around a transaction.

    SQLite has one writer at a time, and a writer that finds the file locked sleeps in
    SQLite's busy handler in growing steps (1, 2, 5, 10, 15, 20 ms…) while the engine,
    writing turn after turn, takes the lock again first: inbox commits waited 200 ms and
    more with many chats writing. Queued on an asyncio lock instead, an inbox commit
    waits for at most the turn in progress. PostgreSQL locks rows: no gate."""
    return asyncio.Lock() if is_sqlite(url) else _NoGate()


def upsert_insert(session: AsyncSession) -> Any:
    """The dialect's INSERT construct, which has ``on_conflict_do_nothing`` on both backends."""
    from sqlalchemy.dialects import postgresql, sqlite

    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
