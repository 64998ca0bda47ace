"""Databases, the app under test and seeding, shared by every benchmark.

The app is built the way ``tests/harness.py`` builds it: the real :func:`build_app`, the
in-memory console adapter, a :class:`FakeClock`, and a sleep that advances that clock, so
no benchmark ever waits on wall time for pacing or backoff.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.engine import make_url

from adapters.console import ConsoleAdapter
from feedback_bot.app.bootstrap import App, build_app
from feedback_bot.app.settings import Settings
from feedback_bot.ports import OutgoingMessage, RateLimit
from feedback_bot.privacy.crypto import generate_key
from feedback_bot.scheduling.clock import FakeClock
from feedback_bot.scheduling.wallclock import WEEKDAYS
from feedback_bot.storage.models import (
    ChatPace,
    Client,
    ConsentRecord,
    Conversation,
    Identity,
    OutboxMessage,
    PlatformPace,
    Practice,
    Practitioner,
)

REPO = Path(__file__).resolve().parent.parent
DEFAULT_PG_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
PG_URL_ENV = "FEEDBACK_BOT_BENCH_POSTGRES_URL"
KEY_ENV = "FEEDBACK_BOT_BENCH_KEY"  # how child processes get the encryption key (not argv)

# A Monday morning in November, away from any DST change (Europe/London = UTC then).
START = datetime(2026, 11, 16, 9, 0, tzinfo=UTC)
# High enough that pacing is never what a throughput number measures.
UNPACED = RateLimit(per_chat_per_second=1_000_000.0, overall_per_second=1_000_000.0)


# -- databases -------------------------------------------------------------------------


def _pg_connect_args(admin_url: str) -> dict[str, object]:
    url = make_url(admin_url)
    return {
        "host": url.host or "127.0.0.1",
        "port": url.port or 5432,
        "user": url.username,
        "password": url.password,
        "database": url.database,
    }


async def pg_server_version(admin_url: str) -> str | None:
    import asyncpg

    try:
        conn = await asyncpg.connect(**_pg_connect_args(admin_url), timeout=5)
    except (OSError, asyncpg.PostgresError):
        return None
    try:
        return str(await conn.fetchval("SHOW server_version"))
    finally:
        await conn.close()


@dataclass(frozen=True)
class Backend:
    name: str  # "sqlite" | "postgres"
    admin_url: str | None = None  # PostgreSQL: where CREATE/DROP DATABASE is run

    @asynccontextmanager
    async def database(self) -> AsyncIterator[str]:
        """A fresh, empty database for one scenario, removed afterwards."""
        if self.name == "sqlite":
            with tempfile.TemporaryDirectory(prefix="fbbench-") as tmp:
                yield f"sqlite+aiosqlite:///{Path(tmp) / 'bench.sqlite3'}"
            return
        import asyncpg

        assert self.admin_url is not None
        name = f"fbbench_{uuid.uuid4().hex[:12]}"
        conn = await asyncpg.connect(**_pg_connect_args(self.admin_url))
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        try:
            yield make_url(self.admin_url).set(database=name).render_as_string(hide_password=False)
        finally:
            conn = await asyncpg.connect(**_pg_connect_args(self.admin_url))
            try:
                await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            finally:
                await conn.close()


def pg_admin_url(cli_value: str | None) -> str:
    return cli_value or os.environ.get(PG_URL_ENV) or DEFAULT_PG_URL


# -- child processes -------------------------------------------------------------------


def child_env(key: str) -> dict[str, str]:
    return {**os.environ, KEY_ENV: key, "PYTHONPATH": str(REPO)}


async def run_child(module: str, *args: str, key: str) -> dict[str, Any]:
    """``python -m module args…`` in a fresh interpreter; its last stdout line is JSON."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        module,
        *args,
        stdout=asyncio.subprocess.PIPE,
        env=child_env(key),
        cwd=str(REPO),
    )
    out, _ = await proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"{module} {args[0]} exited with {proc.returncode}")
    return dict(json.loads(out.decode().strip().splitlines()[-1]))


# -- the app ---------------------------------------------------------------------------


def bench_settings(database_url: str, key: str | None = None) -> Settings:
    return Settings(
        _env_file=None,
        database_url=database_url,
        encryption_key=key or generate_key(),
        prompts_file=REPO / "config" / "prompts.yaml",
    )


@dataclass
class Rig:
    app: App
    console: ConsoleAdapter
    clock: FakeClock
    # (fake time, address, outbox id) of every message the console received
    delivered: list[tuple[datetime, str, int]] = field(default_factory=list)
    practice_id: int = 0

    def record(self, message: OutgoingMessage) -> None:
        self.delivered.append((self.clock.now(), message.address, message.outbox_id))

    async def close(self) -> None:
        await self.app.close()

    def set_rate_limit(self, limit: RateLimit) -> None:
        self.app.dispatcher.add_adapter(self.console, limit)

    async def fresh_console(self, limit: RateLimit) -> None:
        """A new console (its own delivered-id memory) and a new pacer, for a repetition
        that must not inherit the last one's state."""
        self.console = ConsoleAdapter(output=self.record)
        await self.console.start(self.app.receive)
        self.set_rate_limit(limit)


async def make_rig(
    database_url: str,
    *,
    start: datetime = START,
    limit: RateLimit = UNPACED,
    key: str | None = None,
    worker_id: str | None = None,
    migrate: bool = True,
) -> Rig:
    clock = FakeClock(start)
    console = ConsoleAdapter()

    async def fake_sleep(seconds: float) -> None:
        clock.advance(timedelta(seconds=seconds))

    app = await build_app(
        bench_settings(database_url, key),
        adapters=[console],
        clock=clock,
        sleep=fake_sleep,
        worker_id=worker_id,
        migrate=migrate,
    )
    rig = Rig(app=app, console=console, clock=clock)
    await rig.fresh_console(limit)
    return rig


# -- seeding ---------------------------------------------------------------------------


async def _say(rig: Rig, address: str, text: str) -> list[OutgoingMessage]:
    before = len(rig.console.sent[address])
    await rig.console.say(address, text)
    await rig.app.drain()
    return rig.console.sent[address][before:]


async def _press(rig: Rig, address: str, label: str) -> None:
    for msg in reversed(rig.console.sent[address]):
        if msg.choices:
            choice = next(c for c in msg.choices if c.label == label)
            await rig.console.press(address, choice.id)
            await rig.app.drain()
            return
    raise RuntimeError(f"{address} has no question with a {label!r} button")


async def onboard_via_chat(rig: Rig, n_clients: int, per_practitioner: int = 25) -> list[str]:
    """Clients linked and consenting the way people do it: an invite code, ``!start CODE``,
    "I agree", then the alerts choice. Returns their console addresses."""
    admin = rig.app.admin
    if not rig.practice_id:
        rig.practice_id = await admin.create_practice("Bench Practice", "Europe/London")
    addresses: list[str] = []
    practitioner_id = 0
    for i in range(n_clients):
        if i % per_practitioner == 0:
            practitioner_id, code = await admin.add_practitioner(rig.practice_id, f"P{i}")
            await _say(rig, f"dr-{i}", f"!start {code}")
        who = f"client-{i}"
        invite = await admin.invite_client(practitioner_id, f"Client {i}")
        await _say(rig, who, f"!start {invite.code}")
        await _press(rig, who, "I agree")
        await _press(rig, who, "No, thank you")
        addresses.append(who)
    async with rig.app.sessions() as session:
        active = await session.scalar(
            select(func.count()).select_from(Client).where(Client.status == "active")
        )
    if active != n_clients:
        raise RuntimeError(f"onboarding left {active} of {n_clients} clients active")
    return addresses


async def seed_clients_direct(
    rig: Rig,
    n_clients: int,
    *,
    per_practitioner: int = 25,
    cadence: str = "weekly",
    consented_at: datetime | None = None,
    first: int = 0,
) -> list[str]:
    """The same end state as :func:`onboard_via_chat` (linked, consented, alerts off),
    written as rows in one transaction: fast enough for thousands of clients."""
    app = rig.app
    now = consented_at or rig.clock.now()
    checkins = app.config.checkins
    async with app.sessions() as session, session.begin():
        practice = Practice(
            name="Bench Practice", timezone="Europe/London", language="en", created_at=now
        )
        session.add(practice)
        await session.flush()
        n_pr = max(1, -(-n_clients // per_practitioner))
        practitioners = [
            Practitioner(
                practice_id=practice.id,
                name=f"P{i}",
                timezone=None,
                digest_weekday=WEEKDAYS.index(app.config.digest.weekly_day),
                digest_time=app.config.digest.weekly_time,
                pre_session_hours=app.config.digest.pre_session_hours,
                active=True,
                created_at=now,
            )
            for i in range(n_pr)
        ]
        session.add_all(practitioners)
        await session.flush()
        session.add_all(
            Identity(
                platform="console",
                address=f"dr-{first}-{i}",
                practitioner_id=pr.id,
                reachable=True,
                created_at=now,
            )
            for i, pr in enumerate(practitioners)
        )
        clients = [
            Client(
                practitioner_id=practitioners[i // per_practitioner].id,
                alias=f"Client {first + i}",
                status="active",
                status_changed_at=now,
                consent_version=app.config.consent_version,
                consented_at=now,
                risk_alerts=False,
                loop_notices=True,
                checkin_cadence=cadence,
                checkin_weekday=WEEKDAYS.index(checkins.weekly_day),
                checkin_time=checkins.weekly_time,
                after_session_hours=checkins.after_session_hours,
                quiet_start=checkins.quiet_start,
                quiet_end=checkins.quiet_end,
                created_at=now,
            )
            for i in range(n_clients)
        ]
        session.add_all(clients)
        await session.flush()
        identities = [
            Identity(
                platform="console",
                address=f"client-{first + i}",
                client_id=c.id,
                reachable=True,
                created_at=now,
            )
            for i, c in enumerate(clients)
        ]
        session.add_all(identities)
        session.add_all(
            ConsentRecord(
                client_id=c.id,
                version=app.config.consent_version,
                risk_alerts=False,
                given_at=now,
            )
            for c in clients
        )
        await session.flush()
        session.add_all(
            Conversation(identity_id=ident.id, state="idle", data={}, updated_at=now)
            for ident in identities
        )
    return [f"client-{first + i}" for i in range(n_clients)]


async def reset_conversations(rig: Rig) -> None:
    """Every chat back to idle (untimed, between repetitions), so each repetition does the
    same work: a free text from an idle client opens a new draft and asks the first question."""
    await reset_conversations_of(rig.app)


async def reset_conversations_of(app: App) -> None:
    """:func:`reset_conversations` for an app without a rig."""
    async with app.sessions() as session, session.begin():
        await session.execute(
            update(Conversation).values(state="idle", prompt_id=None, item_id=None, data={})
        )


async def reset_pacing(rig: Rig) -> None:
    """Every platform token free and no chat waiting: after the fake clock is set back, the
    shared pacing state would otherwise hold every send until the clock caught up."""
    async with rig.app.sessions() as session, session.begin():
        await session.execute(update(PlatformPace).values(free_at=START, held_by=None))
        await session.execute(delete(ChatPace))


async def clear_outbox(rig: Rig) -> None:
    async with rig.app.sessions() as session, session.begin():
        await session.execute(delete(OutboxMessage))
