"""Rate limits and outages surface as the port's errors, and nothing is lost."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import pytest

from adapters.matrix import MatrixAdapter
from adapters.matrix.settings import MatrixSettings
from feedback_bot.ports import OutgoingMessage, TransientSendError
from tests.fakes.synapse import MatrixUser, SynapseServer
from tests.matrix.conftest import AdapterRunner
from tests.matrix.proxy import CuttableProxy
from tests.matrix.support import WAIT, ClientUser, MemoryCursorStore, RecordingSink


async def test_rate_limit_surfaces_with_retry_after_and_is_honoured(
    synapse: SynapseServer,
    bot_account: MatrixUser,
    client: ClientUser,
    bot_settings: MatrixSettings,
    cursors: MemoryCursorStore,
    adapters: AdapterRunner,
) -> None:
    bot = await adapters.start(bot_settings, cursors, RecordingSink())
    room_id = await client.create_dm(bot_account.user_id)
    await client.wait_for_join(room_id, bot_account.user_id)
    synapse.limit_messages(bot_account.user_id, per_second=1, burst_count=1)

    def check_in(outbox_id: int) -> OutgoingMessage:
        return OutgoingMessage(outbox_id, "matrix", room_id, f"check-in {outbox_id}")

    delivered: list[int] = []
    with pytest.raises(TransientSendError) as limited:
        for outbox_id in range(100, 110):
            await bot.send(check_in(outbox_id))
            delivered.append(outbox_id)

    assert limited.value.reason == "rate_limited"
    assert limited.value.retry_after is not None and 0 < limited.value.retry_after <= 5
    await asyncio.sleep(limited.value.retry_after)
    await bot.send(check_in(outbox_id))  # what the dispatcher does after retry_after
    delivered.append(outbox_id)
    messages = await client.wait_for_messages(room_id, bot_account.user_id, len(delivered))
    assert [m.body for m in messages] == [f"check-in {i}" for i in delivered]


async def test_homeserver_outage_is_logged_once_and_loses_nothing(
    synapse: SynapseServer,
    client: ClientUser,
    bot_settings: MatrixSettings,
    cursors: MemoryCursorStore,
    adapters: AdapterRunner,
    caplog: pytest.LogCaptureFixture,
) -> None:
    proxy = CuttableProxy(synapse.port)
    await proxy.start()
    settings = bot_settings.model_copy(update={"homeserver": proxy.url})
    sink = RecordingSink()
    bot = await adapters.start(settings, cursors, sink, backoff_max=0.5)
    room_id = await client.create_dm(str(bot.user_id))
    await client.wait_for_join(room_id, str(bot.user_id))
    await bot.send(OutgoingMessage(1, "matrix", room_id, "hello"))
    caplog.set_level(logging.INFO, logger="adapters.matrix")

    await proxy.cut()
    await _wait_until(lambda: not bot.is_connected())
    with pytest.raises(TransientSendError) as offline:
        await bot.send(OutgoingMessage(2, "matrix", room_id, "are you there?"))
    await client.say(room_id, "written during the outage")
    await asyncio.sleep(1.5)  # several reconnect attempts while the homeserver is away
    await proxy.start()

    events = await sink.wait_for(lambda evs: bool(evs))
    await _wait_until(bot.is_connected)
    assert offline.value.reason == "network"
    assert [e.text for e in events] == ["written during the outage"]
    warnings = [
        r
        for r in caplog.records
        if r.name.startswith("adapters.matrix")
        and r.name != "adapters.matrix.trust"  # the start-up note about unsigned devices
        and r.levelno >= logging.WARNING
    ]
    assert len(warnings) == 1 and "unreachable" in warnings[0].getMessage()
    await proxy.cut()


async def test_bot_started_while_the_homeserver_is_down_catches_up(
    synapse: SynapseServer,
    client: ClientUser,
    bot_settings: MatrixSettings,
    cursors: MemoryCursorStore,
) -> None:
    proxy = CuttableProxy(synapse.port)  # not started: nothing listens there yet
    settings = bot_settings.model_copy(update={"homeserver": proxy.url})
    bot = MatrixAdapter(settings, cursors, sync_timeout_ms=2_000, backoff_max=0.5)
    sink = RecordingSink()
    try:
        await bot.start(sink)  # must not fail or hang: the homeserver may come later
        assert not bot.is_connected()
        await proxy.start()
        assert await bot.wait_until_synced(WAIT)
        bot_id = str(settings.user_id)
        room_id = await client.create_dm(bot_id)
        await client.wait_for_join(room_id, bot_id)
        await client.say(room_id, "hello late bot")
        events = await sink.wait_for(lambda evs: bool(evs))
        assert [e.text for e in events] == ["hello late bot"]
    finally:
        await bot.stop()
        await proxy.cut()


async def _wait_until(predicate: Callable[[], bool]) -> None:
    # is_connected() is a plain query on the port; there is no event to await.
    async with asyncio.timeout(WAIT):
        while not predicate():  # noqa: ASYNC110
            await asyncio.sleep(0.05)
