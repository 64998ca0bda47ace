"""Fixtures for Matrix tests: one real Synapse per session, fresh accounts per test."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from adapters.matrix import MatrixAdapter
from adapters.matrix.settings import MatrixSettings
from feedback_bot.app.bootstrap import App
from feedback_bot.app.settings import Settings
from tests import harness
from tests.fakes.synapse import MatrixUser, SynapseServer
from tests.matrix.support import ClientUser, MemoryCursorStore, RecordingSink

_started: list[SynapseServer] = []


@pytest.fixture(scope="session")
def synapse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SynapseServer]:
    server = SynapseServer(tmp_path_factory.mktemp("synapse"))
    server.start()
    _started.append(server)
    try:
        yield server
    finally:
        server.stop()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    for server in _started:
        if server.startup_seconds is not None:
            terminalreporter.write_line(f"Synapse startup: {server.startup_seconds:.1f} s")


def unique(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(4)}"


@pytest.fixture
def bot_account(synapse: SynapseServer) -> MatrixUser:
    return synapse.register(unique("bot"))


@pytest.fixture
def bot_settings(synapse: SynapseServer, bot_account: MatrixUser, tmp_path: Path) -> MatrixSettings:
    return MatrixSettings(
        homeserver=synapse.base_url,
        user_id=bot_account.user_id,
        password=SecretStr(bot_account.password),
        store_path=tmp_path / "bot-store",
        pickle_key=SecretStr("test pickle key"),
        # The nio test clients have no cross-signing; the Element tests turn this off.
        allow_unsigned_devices=True,
    )


@pytest.fixture
def app_settings(database_url: str, bot_settings: MatrixSettings) -> Settings:
    """The whole app's settings with the bot account above (see support.start_app)."""
    return harness.settings_for(database_url, matrix=bot_settings)


@pytest.fixture
async def running() -> AsyncIterator[list[App]]:
    """Apps a test started (support.start_app), closed at the end even when it fails."""
    apps: list[App] = []
    yield apps
    for app in apps:
        await app.close()


@pytest.fixture
def cursors() -> MemoryCursorStore:
    return MemoryCursorStore()


class AdapterRunner:
    """Starts adapters for a test and makes sure none outlives it."""

    def __init__(self) -> None:
        self.running: list[MatrixAdapter] = []

    async def start(
        self,
        settings: MatrixSettings,
        cursors: MemoryCursorStore,
        sink: RecordingSink,
        **options: Any,
    ) -> MatrixAdapter:
        options.setdefault("sync_timeout_ms", 2_000)
        adapter = MatrixAdapter(settings, cursors, **options)
        self.running.append(adapter)
        await adapter.start(sink)
        assert await adapter.wait_until_synced(20), "adapter did not complete a sync"
        return adapter

    async def stop(self, adapter: MatrixAdapter) -> None:
        await adapter.stop()
        self.running.remove(adapter)


@pytest.fixture
async def adapters() -> AsyncIterator[AdapterRunner]:
    runner = AdapterRunner()
    yield runner
    for adapter in list(runner.running):
        await adapter.stop()


async def _person(synapse: SynapseServer, store: Path, prefix: str) -> AsyncIterator[ClientUser]:
    user = ClientUser(synapse, synapse.register(unique(prefix)), store)
    await user.start()
    yield user
    await user.close()


@pytest.fixture
async def client(synapse: SynapseServer, tmp_path: Path) -> AsyncIterator[ClientUser]:
    async for user in _person(synapse, tmp_path / "client-store", "client"):
        yield user


@pytest.fixture
async def practitioner(synapse: SynapseServer, tmp_path: Path) -> AsyncIterator[ClientUser]:
    async for user in _person(synapse, tmp_path / "practitioner-store", "practitioner"):
        yield user
