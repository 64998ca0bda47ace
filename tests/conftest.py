"""Shared fixtures: a real database (SQLite file, and PostgreSQL when configured), a
controllable clock, and the whole app driven through the in-memory console adapter."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from feedback_bot.safety.model import shared_model
from tests.harness import Harness, make_harness

PG_URL = os.environ.get("FEEDBACK_BOT_TEST_POSTGRES_URL")


def pytest_configure(config: pytest.Config) -> None:
    if os.environ.get("CI") and not PG_URL:
        raise pytest.UsageError(
            "CI is set but FEEDBACK_BOT_TEST_POSTGRES_URL is not: "
            "the PostgreSQL suite must run in CI"
        )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    del config, items


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    """In CI a skip is a failure: every suite that is required must really run."""
    outcome = yield
    report = outcome.get_result()
    if os.environ.get("CI") and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped in CI, which is not allowed: {report.longrepr}"


@pytest.fixture(scope="session", autouse=True)
def _risk_model_loaded() -> None:
    """Every app screens with the risk model (on by default), which loads in the
    background. Loaded once here, before any test, every app built in this process finds
    it ready: no test meets the lists alone because it ran before the load finished."""
    shared_model().wait_ready(None)


BACKENDS = ["sqlite", "postgres"] if PG_URL else ["sqlite"]


async def _fresh_pg_database() -> tuple[str, str]:
    import asyncpg
    from sqlalchemy.engine import make_url

    assert PG_URL is not None
    url = make_url(PG_URL)
    name = f"fbtest_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(
        host=url.host,
        port=url.port or 5432,
        user=url.username,
        password=url.password,
        database=url.database,
    )
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return url.set(database=name).render_as_string(hide_password=False), name


async def _drop_pg_database(name: str) -> None:
    import asyncpg
    from sqlalchemy.engine import make_url

    assert PG_URL is not None
    url = make_url(PG_URL)
    conn = await asyncpg.connect(
        host=url.host,
        port=url.port or 5432,
        user=url.username,
        password=url.password,
        database=url.database,
    )
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@pytest.fixture(params=BACKENDS)
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite3'}"
        return
    url, name = await _fresh_pg_database()
    try:
        yield url
    finally:
        await _drop_pg_database(name)


@pytest.fixture
async def postgres_url() -> AsyncIterator[str]:
    """A fresh PostgreSQL database, for what only PostgreSQL can show (several workers)."""
    if not PG_URL:
        pytest.skip("set FEEDBACK_BOT_TEST_POSTGRES_URL to run the PostgreSQL-only tests")
    url, name = await _fresh_pg_database()
    try:
        yield url
    finally:
        await _drop_pg_database(name)


@pytest.fixture
def start_time() -> datetime:
    # A Monday morning in November, away from any DST change.
    return datetime(2026, 11, 16, 9, 0, tzinfo=UTC)


@pytest.fixture
async def bot(database_url: str, tmp_path: Path, start_time: datetime) -> AsyncIterator[Harness]:
    harness = await make_harness(database_url, tmp_path, start_time)
    try:
        yield harness
    finally:
        await harness.close()
