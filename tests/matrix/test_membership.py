"""Who the bot talks to: DMs only, leaving ends the link, practitioners get a DM opened."""

from __future__ import annotations

import pytest

from adapters.matrix.settings import MatrixSettings
from feedback_bot.ports import AfterSend, EventKind, OutgoingMessage, RecipientUnavailable
from tests.fakes.synapse import SynapseServer
from tests.matrix.conftest import AdapterRunner, unique
from tests.matrix.support import ClientUser, MemoryCursorStore, RecordingSink


async def test_group_rooms_are_reported_and_left_after_the_cores_note(
    synapse: SynapseServer,
    client: ClientUser,
    bot_settings: MatrixSettings,
    cursors: MemoryCursorStore,
    adapters: AdapterRunner,
) -> None:
    sink = RecordingSink()
    bot = await adapters.start(bot_settings, cursors, sink)
    bot_id = str(bot.user_id)
    third = synapse.register(unique("friend"))

    room_id = await client.create_dm(bot_id, third.user_id)
    await client.say(room_id, "hello everyone")
    await sink.wait_for(lambda evs: len(evs) >= 1)
    # Nothing said in the group reaches the core; only that this chat is a group.
    assert [(e.kind, e.address, e.text) for e in sink.events] == [(EventKind.GROUP, room_id, None)]
    # The core's answer, as the dispatcher delivers it: nothing but its note goes there.
    with pytest.raises(RecipientUnavailable):
        await bot.send(OutgoingMessage(1, "matrix", room_id, "How was your week?"))
    note = "Thanks for adding me, but feedback here is always one-to-one."
    await bot.send(OutgoingMessage(2, "matrix", room_id, note, then=AfterSend.LEAVE_CHAT))
    await bot.leave_chat(room_id)

    def bot_gone() -> bool:
        room = client.nio.rooms.get(room_id)
        return (
            bool(room) and bot_id not in room.users and bool(client.messages_from(room_id, bot_id))
        )

    await client.wait_until(bot_gone)
    [said] = client.messages_from(room_id, bot_id)
    assert "one-to-one" in said.body
    assert len(sink.events) == 1


async def test_client_leaving_marks_the_address_unreachable(
    client: ClientUser,
    bot_settings: MatrixSettings,
    cursors: MemoryCursorStore,
    adapters: AdapterRunner,
) -> None:
    sink = RecordingSink()
    bot = await adapters.start(bot_settings, cursors, sink)
    room_id = await client.create_dm(str(bot.user_id))
    await client.wait_for_join(room_id, str(bot.user_id))
    await client.say(room_id, "!start CODE")
    await sink.wait_for(lambda evs: len(evs) == 1)

    await client.nio.room_leave(room_id)
    events = await sink.wait_for(lambda evs: any(e.kind is EventKind.BLOCKED for e in evs))

    blocked = events[-1]
    assert (blocked.kind, blocked.address, blocked.sender) == (
        EventKind.BLOCKED,
        room_id,
        client.user_id,
    )
    with pytest.raises(RecipientUnavailable):
        await bot.send(OutgoingMessage(5, "matrix", room_id, "Are you still there?"))


async def test_bot_opens_an_encrypted_dm_for_a_practitioner(
    synapse: SynapseServer,
    bot_settings: MatrixSettings,
    cursors: MemoryCursorStore,
    adapters: AdapterRunner,
    practitioner: ClientUser,
) -> None:
    bot = await adapters.start(bot_settings, cursors, RecordingSink())

    room_id = await bot.open_dm(practitioner.user_id)
    await bot.send(OutgoingMessage(77, "matrix", room_id, "Your digest is ready."))
    await practitioner.accept_invite(room_id)

    [digest] = await practitioner.wait_for_messages(room_id, str(bot.user_id), 1)
    assert digest.body == "Your digest is ready."
    room = practitioner.nio.rooms[room_id]
    assert room.encrypted
    assert set(room.users) == {practitioner.user_id, bot.user_id}
