"""Fixtures for Telegram adapter tests: the fake Bot API on loopback and a real adapter.

No ``__init__.py`` here on purpose: should ``tests/__init__.py`` ever go, this directory
would become a top-level package ``telegram`` and shadow python-telegram-bot. Test modules
are named ``test_telegram_*`` so their names stay unique without it.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import pytest
from pydantic import SecretStr

from adapters.telegram import Backoff, TelegramAdapter
from adapters.telegram.settings import TelegramSettings
from feedback_bot.app.bootstrap import App
from feedback_bot.scheduling.clock import FakeClock
from tests.fakes.telegram_api import DEFAULT_TOKEN, FakeTelegramApi
from tests.telegram.app_harness import app_settings, build
from tests.telegram.harness import CLIENT, AdapterFactory, MemoryCursors, RecordingSink


@pytest.fixture
async def telegram_api() -> AsyncIterator[FakeTelegramApi]:
    api = FakeTelegramApi(clock=time.monotonic)
    await api.start()
    api.add_private_chat(CLIENT)
    try:
        yield api
    finally:
        await api.stop()


@pytest.fixture
def cursors() -> MemoryCursors:
    return MemoryCursors()


@pytest.fixture
def sink() -> RecordingSink:
    return RecordingSink()


@pytest.fixture
async def make_adapter(
    telegram_api: FakeTelegramApi, cursors: MemoryCursors
) -> AsyncIterator[AdapterFactory]:
    """Build adapters talking to the fake; every one built is stopped after the test."""
    built: list[TelegramAdapter] = []

    def make(
        request_timeout: float = 2.0, store: MemoryCursors | None = None, **settings: Any
    ) -> TelegramAdapter:
        adapter = TelegramAdapter(
            TelegramSettings(
                token=SecretStr(DEFAULT_TOKEN),
                base_url=telegram_api.base_url,
                poll_timeout=5,
                **settings,
            ),
            store or cursors,
            request_timeout=request_timeout,
            backoff=Backoff(initial=0.02, maximum=0.1),
            stop_grace=1.0,
        )
        built.append(adapter)
        return adapter

    yield make
    for adapter in built:
        await adapter.stop()


@pytest.fixture
async def adapter(make_adapter: AdapterFactory) -> TelegramAdapter:
    """A polling adapter, not started (tests start it with their sink)."""
    return make_adapter()


# --- the whole app (end-to-end tests) ----------------------------------------------------


@pytest.fixture
def clock(start_time: datetime) -> FakeClock:
    return FakeClock(start_time)


@pytest.fixture
async def tg(clock: FakeClock) -> AsyncIterator[FakeTelegramApi]:
    api = FakeTelegramApi(clock=lambda: clock.now().timestamp())
    await api.start()
    try:
        yield api
    finally:
        await api.stop()


@pytest.fixture
async def app(database_url: str, tg: FakeTelegramApi, clock: FakeClock) -> AsyncIterator[App]:
    app = await build(app_settings(database_url, tg), clock)
    # Receiving runs for real; processing and delivery are driven step by step (drain), as
    # the app's loop would, so that pacing waits can use the fake clock.
    await app.adapters["telegram"].start(app.receive)
    try:
        yield app
    finally:
        await app.close()
