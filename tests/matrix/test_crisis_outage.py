"""The crisis reply while the database is unavailable: on Telegram (the fake Bot API) and
on Matrix (a local Synapse, nio clients), in one app, for 45 s:

* SQLite, locked: another connection holds the file write-locked;
* PostgreSQL, locked: another connection holds every table ``ACCESS EXCLUSIVE`` (no
  read, no write);
* PostgreSQL, down: the app reaches the server through a TCP proxy that is stopped
  (connections dropped, new ones refused).

Two people on each platform write crisis texts meanwhile; each gets the reply within
seconds, once, and every message is stored and handled once the database is back."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Protocol

import asyncpg
import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url

from adapters.matrix import MatrixAdapter
from adapters.matrix.settings import MatrixSettings
from feedback_bot.app.bootstrap import App, build_app
from feedback_bot.ports import Adapter, CursorStore
from feedback_bot.storage.models import InboxEvent
from tests.conftest import PG_URL, _drop_pg_database, _fresh_pg_database
from tests.fakes.synapse import SynapseServer
from tests.fakes.telegram_api import FakeTelegramApi
from tests.matrix.conftest import unique
from tests.matrix.proxy import CuttableProxy
from tests.matrix.support import ClientUser, open_chat
from tests.telegram.app_harness import app_settings, telegram_adapter

RISKY = "I have been thinking about ending my life"
HOLD_SECONDS = 45
WITHIN = 10  # seconds: the functional bound for the reply, not a speed benchmark
KIM, LEE = 3003, 4004


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegramApi]:
    api = FakeTelegramApi(clock=time.time)
    await api.start()
    try:
        yield api
    finally:
        await api.stop()


@pytest.fixture
async def second_person(synapse: SynapseServer, tmp_path: Path) -> AsyncIterator[ClientUser]:
    person = ClientUser(synapse, synapse.register(unique("second")), tmp_path / "second-store")
    await person.start()
    yield person
    await person.close()


class Outage(Protocol):
    """The database the app uses (``url``) and a way to make it unavailable and back."""

    url: str

    async def begin(self) -> None: ...

    async def end(self) -> None: ...


class SqliteLocked:
    """Another process's view of the file: ``BEGIN EXCLUSIVE`` on its own connection, so
    every write the app tries waits on SQLite's lock (readers still read, WAL)."""

    def __init__(self, path: Path) -> None:
        self.url = f"sqlite+aiosqlite:///{path}"
        self._path = path
        self._conn: sqlite3.Connection | None = None

    async def begin(self) -> None:
        self._conn = sqlite3.connect(self._path, timeout=30, isolation_level=None)
        self._conn.execute("BEGIN EXCLUSIVE")

    async def end(self) -> None:
        assert self._conn is not None
        self._conn.execute("ROLLBACK")
        self._conn.close()


class PostgresLocked:
    """Another session holds every table of the app ``ACCESS EXCLUSIVE`` (what a
    migration or a careless maintenance job does): no statement on them gets through."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._conn: Any = None

    async def begin(self) -> None:
        dsn = make_url(self.url).set(drivername="postgresql")
        self._conn = await asyncpg.connect(dsn.render_as_string(hide_password=False))
        tables = [
            row["tablename"]
            for row in await self._conn.fetch(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
            )
        ]
        assert "inbox" in tables
        await self._conn.execute("BEGIN")
        names = ", ".join(f'"{name}"' for name in tables)
        await self._conn.execute(f"LOCK TABLE {names} IN ACCESS EXCLUSIVE MODE")

    async def end(self) -> None:
        await self._conn.execute("ROLLBACK")
        await self._conn.close()


class PostgresDown:
    """The app reaches PostgreSQL through a proxy; stopping it drops every connection
    and refuses new ones, as when the server or the network between goes away."""

    def __init__(self, url: str) -> None:
        parsed = make_url(url)
        self._proxy = CuttableProxy(parsed.port or 5432)
        self.url = parsed.set(port=self._proxy.port).render_as_string(hide_password=False)

    async def start(self) -> None:
        await self._proxy.start()

    async def begin(self) -> None:
        await self._proxy.cut()

    async def end(self) -> None:
        await self._proxy.restore()


@pytest.fixture(params=["sqlite-locked", "postgres-locked", "postgres-down"])
async def outage(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Outage]:
    if request.param == "sqlite-locked":
        yield SqliteLocked(tmp_path / "bot.sqlite3")
        return
    if not PG_URL:
        pytest.skip("set FEEDBACK_BOT_TEST_POSTGRES_URL to run the PostgreSQL outages")
    url, name = await _fresh_pg_database()
    try:
        if request.param == "postgres-locked":
            yield PostgresLocked(url)
        else:
            down = PostgresDown(url)
            await down.start()
            try:
                yield down
            finally:
                await down.end()  # never leave the fixture's database unreachable
    finally:
        await _drop_pg_database(name)


async def test_crisis_replies_reach_everyone_while_the_database_is_unavailable(
    outage: Outage,
    tg: FakeTelegramApi,
    bot_settings: MatrixSettings,
    client: ClientUser,
    second_person: ClientUser,
) -> None:
    settings = app_settings(outage.url, tg, matrix=bot_settings)

    def matrix(cursors: CursorStore) -> Adapter:
        return MatrixAdapter(bot_settings, cursors, sync_timeout_ms=2_000)

    def telegram(cursors: CursorStore) -> Adapter:
        return telegram_adapter(settings, cursors)

    app: App = await build_app(settings, adapters=[matrix, telegram])
    await app.start()
    try:
        await _scenario(app, outage, tg, str(bot_settings.user_id), [client, second_person])
    finally:
        await app.close()


async def _scenario(
    app: App, outage: Outage, tg: FakeTelegramApi, bot_id: str, matrix_people: list[ClientUser]
) -> None:
    opening = app.catalog.t("safety.reply", "en")
    chats = [await open_chat(person, bot_id) for person in matrix_people]
    for chat_id, name in ((KIM, "Kim"), (LEE, "Lee")):
        tg.add_private_chat(chat_id, name)

    def telegram_replies(chat_id: int) -> int:
        return sum((m.get("text") or "").startswith(opening) for m in tg.sent(chat_id))

    def matrix_replies(index: int) -> int:
        return sum(body.startswith(opening) for body in chats[index].bodies())

    await outage.begin()
    locked_at = time.monotonic()
    try:
        update_ids = [tg.push_text(KIM, RISKY), tg.push_text(LEE, RISKY)]
        event_ids = [await chat.person.say(chat.room_id, RISKY) for chat in chats]

        async def telegram_reply(chat_id: int) -> None:
            await tg.wait_until(lambda: telegram_replies(chat_id) >= 1, within=WITHIN)

        async def matrix_reply(index: int) -> None:
            person = chats[index].person
            await person.wait_until(lambda: matrix_replies(index) >= 1, seconds=WITHIN)

        await asyncio.gather(
            telegram_reply(KIM), telegram_reply(LEE), matrix_reply(0), matrix_reply(1)
        )
        assert time.monotonic() - locked_at < HOLD_SECONDS, "all answered while unavailable"
        await asyncio.sleep(HOLD_SECONDS - (time.monotonic() - locked_at))
        # Still exactly one each, however often the platforms redelivered meanwhile.
        assert [telegram_replies(KIM), telegram_replies(LEE)] == [1, 1]
        assert [matrix_replies(0), matrix_replies(1)] == [1, 1]
    finally:
        await outage.end()

    # Once it is back: every message is stored and handled, and nobody is told twice.
    wanted = {str(u) for u in update_ids} | set(event_ids)

    async def handled() -> set[str]:
        async with app.sessions() as session:
            rows = await session.scalars(
                select(InboxEvent.event_id).where(
                    InboxEvent.event_id.in_(wanted), InboxEvent.status == "done"
                )
            )
            return set(rows)

    async with asyncio.timeout(60):
        while await handled() != wanted:  # noqa: ASYNC110 (a database, not an event)
            await asyncio.sleep(0.5)
    await tg.wait_until(lambda: not tg.pending_update_ids, within=30)
    await asyncio.sleep(3)  # what the dispatcher might still send
    assert [telegram_replies(KIM), telegram_replies(LEE)] == [1, 1]
    assert [matrix_replies(0), matrix_replies(1)] == [1, 1]
