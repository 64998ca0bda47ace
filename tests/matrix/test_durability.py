"""Restarts lose nothing and duplicate nothing, inbound and outbound."""

from __future__ import annotations

import json

from adapters.matrix.settings import MatrixSettings
from feedback_bot.ports import IncomingEvent, OutgoingMessage
from tests.matrix.conftest import AdapterRunner
from tests.matrix.support import ClientUser, MemoryCursorStore, RecordingSink


def texts(events: list[IncomingEvent]) -> list[str | None]:
    return [e.text for e in events]


async def linked_room(client: ClientUser, bot_user_id: str | None, sink: RecordingSink) -> str:
    assert bot_user_id is not None
    room_id = await client.create_dm(bot_user_id)
    await client.wait_for_join(room_id, bot_user_id)
    await client.say(room_id, "!start CODE")
    await sink.wait_for(lambda evs: "!start CODE" in texts(evs))
    return room_id


async def test_restart_resumes_after_the_last_committed_event(
    client: ClientUser,
    bot_settings: MatrixSettings,
    cursors: MemoryCursorStore,
    adapters: AdapterRunner,
) -> None:
    first_sink = RecordingSink()
    first = await adapters.start(bot_settings, cursors, first_sink)
    room_id = await linked_room(client, first.user_id, first_sink)
    credentials = json.loads((bot_settings.store_path / "credentials.json").read_text())
    await adapters.stop(first)

    await client.say(room_id, "sent while the bot was down")
    await client.say(room_id, "and another one")
    second_sink = RecordingSink()
    second = await adapters.start(bot_settings, cursors, second_sink)
    await second_sink.wait_for(lambda evs: len(evs) >= 2)
    await client.say(room_id, "after the restart")
    events = await second_sink.wait_for(lambda evs: "after the restart" in texts(evs))

    assert texts(events) == ["sent while the bot was down", "and another one", "after the restart"]
    # Same device and keys: no second login, and the client can still read the bot.
    assert json.loads((bot_settings.store_path / "credentials.json").read_text()) == credentials
    assert (bot_settings.store_path / "credentials.json").stat().st_mode & 0o777 == 0o600
    await second.send(OutgoingMessage(21, "matrix", room_id, "still here"))
    [reply] = await client.wait_for_messages(room_id, str(second.user_id), 1)
    assert reply.body == "still here"


async def test_event_not_committed_before_a_crash_is_delivered_after_restart(
    client: ClientUser,
    bot_settings: MatrixSettings,
    cursors: MemoryCursorStore,
    adapters: AdapterRunner,
) -> None:
    crashing = RecordingSink(fail_on=lambda e: e.text == "my feedback")
    first = await adapters.start(bot_settings, cursors, crashing)
    room_id = await linked_room(client, first.user_id, crashing)
    await client.say(room_id, "my feedback")
    lost = await crashing.wait_for_failure()
    await adapters.stop(first)  # the process dies while the inbox write is failing

    sink = RecordingSink()
    await adapters.start(bot_settings, cursors, sink)
    await client.say(room_id, "marker")
    events = await sink.wait_for(lambda evs: "marker" in texts(evs))

    redelivered = [e for e in events if e.text == "my feedback"]
    assert [e.event_id for e in redelivered] == [lost.event_id]
    assert "my feedback" not in texts(crashing.events)


async def test_long_absence_is_filled_in_order(
    client: ClientUser,
    bot_settings: MatrixSettings,
    cursors: MemoryCursorStore,
    adapters: AdapterRunner,
) -> None:
    sink = RecordingSink()
    first = await adapters.start(bot_settings, cursors, sink, timeline_limit=2)
    room_id = await linked_room(client, first.user_id, sink)
    await adapters.stop(first)

    missed = [f"message {i}" for i in range(7)]
    for text in missed:
        await client.say(room_id, text)
    later = RecordingSink()
    await adapters.start(bot_settings, cursors, later, timeline_limit=2)
    events = await later.wait_for(lambda evs: "message 6" in texts(evs))

    assert texts(events) == missed


async def test_resending_an_outbox_row_does_not_duplicate_the_message(
    client: ClientUser,
    bot_settings: MatrixSettings,
    cursors: MemoryCursorStore,
    adapters: AdapterRunner,
) -> None:
    sink = RecordingSink()
    first = await adapters.start(bot_settings, cursors, sink)
    room_id = await linked_room(client, first.user_id, sink)
    message = OutgoingMessage(42, "matrix", room_id, "Thanks for your feedback.")

    receipt = await first.send(message)
    assert (await first.send(message)).platform_message_id == receipt.platform_message_id
    await adapters.stop(first)  # crash after sending, before the outbox row was marked sent
    second = await adapters.start(bot_settings, cursors, RecordingSink())
    again = await second.send(message)
    await second.send(OutgoingMessage(43, "matrix", room_id, "marker"))

    bot_id = str(second.user_id)
    await client.wait_until(
        lambda: "marker" in [m.body for m in client.messages_from(room_id, bot_id)]
    )
    bodies = [m.body for m in client.messages_from(room_id, bot_id)]
    assert bodies == ["Thanks for your feedback.", "marker"]
    assert again.platform_message_id == receipt.platform_message_id
