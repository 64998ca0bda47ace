"""SQLAlchemy's aiosqlite adaptation with one hop to the driver's thread per statement.

aiosqlite runs each connection in a thread of its own, and every call is a round trip to
it: queued there, then the event loop woken through its self-pipe. SQLAlchemy's adapter
makes four of them for a SELECT (open a cursor, execute, fetch, close) and three for a
write, and one for every COMMIT and ROLLBACK even when no transaction is open (the pool
rolls back each connection it gets back). A free-text message through the Telegram
adapter made about 90 such hops; each costs a thread wake-up both ways, and on a busy
machine each wake-up waits to be scheduled. Here a statement is one hop (the cursor is
opened, run, read and closed in the driver's thread), and a COMMIT or ROLLBACK with no
transaction open is no hop at all.

Built on SQLAlchemy's and aiosqlite's own classes (versions pinned in constraints.txt);
server-side cursors (``stream``) keep SQLAlchemy's. ``tests/test_sqlite_driver.py``
checks results, errors, the hop count and rollbacks.
"""

from __future__ import annotations

import collections
import sqlite3
from typing import Any

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)
from sqlalchemy.util import EMPTY_DICT
from sqlalchemy.util.concurrency import await_

Outcome = tuple[Any, list[Any], int, int | None]


def _run(conn: aiosqlite.Connection, operation: str, parameters: Any, many: bool) -> Outcome:
    """In the driver's thread: the whole statement, its rows read and its cursor closed."""
    cursor = conn._conn.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters)
        elif parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        description = cursor.description
        rows = cursor.fetchall() if description else []
        return description, rows, cursor.rowcount, cursor.lastrowid
    finally:
        cursor.close()


class OneHopCursor(AsyncAdapt_aiosqlite_cursor):
    __slots__ = ("_description", "_rowcount", "_lastrowid")

    def __init__(self, adapt_connection: AsyncAdapt_aiosqlite_connection) -> None:
        # No driver cursor is opened here (that would be a hop of its own).
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._cursor = None  # type: ignore[assignment]
        self._soft_closed_memoized = EMPTY_DICT
        self._rows = collections.deque()
        self._description: Any = None
        self._rowcount = -1
        self._lastrowid: int | None = None

    @property
    def description(self) -> Any:
        return self._description

    @property
    def rowcount(self) -> int:
        return self._rowcount

    @property
    def lastrowid(self) -> int:
        return self._lastrowid  # type: ignore[return-value]

    @property
    def arraysize(self) -> int:
        return 1

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        pass

    async def _async_soft_close(self) -> None:
        return None  # the driver's cursor was closed with its statement

    def close(self) -> None:
        self._rows.clear()

    async def _execute_async(self, operation: Any, parameters: Any) -> Any:
        return await self._one_hop(operation, parameters, many=False)

    async def _executemany_async(self, operation: Any, seq_of_parameters: Any) -> Any:
        return await self._one_hop(operation, seq_of_parameters, many=True)

    async def _one_hop(self, operation: Any, parameters: Any, *, many: bool) -> None:
        async with self._adapt_connection._execute_mutex:
            conn = self._connection
            outcome: Outcome = await conn._execute(_run, conn, operation, parameters, many)
        self._description, rows, self._rowcount, self._lastrowid = outcome
        self._rows = collections.deque(rows)

    def setinputsizes(self, *inputsizes: Any) -> None:
        return None


class OneHopConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ()
    _cursor_cls = OneHopCursor  # type: ignore[assignment]

    def _in_transaction(self) -> bool:
        # Read from this thread: sqlite3_get_autocommit, no statement of this connection
        # runs meanwhile (SQLAlchemy uses a connection from one task at a time).
        conn: sqlite3.Connection | None = self._connection._connection
        return conn is not None and conn.in_transaction

    def rollback(self) -> None:
        if self._in_transaction():
            super().rollback()

    def commit(self) -> None:
        if self._in_transaction():
            super().commit()


class OneHopDBAPI(AsyncAdapt_aiosqlite_dbapi):
    def connect(self, *arg: Any, **kw: Any) -> OneHopConnection:
        connection = self.aiosqlite.connect(*arg, **kw)
        connection._thread.daemon = True  # as SQLAlchemy does: never block interpreter exit
        return OneHopConnection(self, await_(connection))


def one_hop_dbapi() -> OneHopDBAPI:
    """For ``create_async_engine(url, module=...)`` with a ``sqlite+aiosqlite`` URL."""
    return OneHopDBAPI(aiosqlite, sqlite3)
