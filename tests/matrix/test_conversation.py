"""The bot in an encrypted DM against a real Synapse, with a real e2e client on the other end."""

from __future__ import annotations

from adapters.matrix.settings import MatrixSettings
from feedback_bot.ports import EventKind, OutgoingMessage
from tests.matrix.conftest import AdapterRunner
from tests.matrix.support import ClientUser, MemoryCursorStore, RecordingSink


async def test_encrypted_dm_command_and_reply(
    client: ClientUser,
    bot_settings: MatrixSettings,
    cursors: MemoryCursorStore,
    adapters: AdapterRunner,
) -> None:
    sink = RecordingSink()
    bot = await adapters.start(bot_settings, cursors, sink)
    assert bot.user_id is not None

    room_id = await client.create_dm(bot.user_id)
    await client.wait_for_join(room_id, bot.user_id)
    await client.say(room_id, "!start ABC123")

    events = await sink.wait_for(lambda evs: len(evs) >= 1)
    assert events[0].kind is EventKind.COMMAND
    assert (events[0].command, events[0].args) == ("start", "ABC123")
    assert events[0].address == room_id
    assert events[0].sender == client.user_id

    await bot.send(OutgoingMessage(1, "matrix", room_id, "Welcome! Reply 1 to agree."))
    replies = await client.wait_for_messages(room_id, bot.user_id, 1)
    assert replies[-1].decrypted
    assert replies[-1].body == "Welcome! Reply 1 to agree."


async def test_message_kinds_reach_the_core_as_the_right_events(
    client: ClientUser,
    bot_settings: MatrixSettings,
    cursors: MemoryCursorStore,
    adapters: AdapterRunner,
) -> None:
    sink = RecordingSink()
    bot = await adapters.start(bot_settings, cursors, sink)
    assert bot.user_id is not None
    room_id = await client.create_dm(bot.user_id)
    await client.wait_for_join(room_id, bot.user_id)

    await bot.send(OutgoingMessage(7, "matrix", room_id, "How was today?\n1. Good\n2. Bad"))
    [prompt] = await client.wait_for_messages(room_id, bot.user_id, 1)
    own = await client.say(room_id, "just some words")
    await client.send(room_id, _reaction(prompt.event_id, "1\ufe0f\u20e3"), "m.reaction")
    await client.send(room_id, _reaction(own, "2\ufe0f\u20e3"), "m.reaction")  # not a prompt
    await client.send(room_id, _reaction(prompt.event_id, "\U0001f44d"), "m.reaction")  # no digit
    await client.send(
        room_id,
        {
            "msgtype": "m.text",
            "body": "* better words",
            "m.new_content": {"msgtype": "m.text", "body": "better words"},
            "m.relates_to": {"rel_type": "m.replace", "event_id": own},
        },
    )
    await client.send(room_id, {"msgtype": "m.image", "body": "cat.png", "url": "mxc://x/y"})
    await client.send(room_id, {"msgtype": "m.notice", "body": "another bot talking"})
    await client.say(room_id, "!HELP")

    events = await sink.wait_for(lambda evs: any(e.kind is EventKind.COMMAND for e in evs))
    assert [(e.kind, e.text) for e in events[:-1]] == [
        (EventKind.TEXT, "just some words"),
        (EventKind.TEXT, "1"),
        (EventKind.EDIT, "better words"),
        (EventKind.NON_TEXT, None),
    ]
    assert (events[-1].command, events[-1].args) == ("help", "")


async def test_long_text_is_split_on_paragraphs(
    client: ClientUser,
    bot_settings: MatrixSettings,
    cursors: MemoryCursorStore,
    adapters: AdapterRunner,
) -> None:
    bot = await adapters.start(bot_settings, cursors, RecordingSink())
    assert bot.user_id is not None
    room_id = await client.create_dm(bot.user_id)
    await client.wait_for_join(room_id, bot.user_id)
    paragraphs = [f"Paragraph {i}: " + "feedback " * 1000 for i in range(5)]  # ~45 000 chars

    await bot.send(OutgoingMessage(9, "matrix", room_id, "\n\n".join(paragraphs)))

    await client.wait_until(
        lambda: any("Paragraph 4" in m.body for m in client.messages_from(room_id, bot.user_id))
    )
    parts = [m.body for m in client.messages_from(room_id, bot.user_id)]
    assert len(parts) > 1
    assert all(len(p) <= bot.max_text_length for p in parts)
    assert "\n\n".join(parts) == "\n\n".join(paragraphs)


def _reaction(event_id: str, key: str) -> dict[str, object]:
    return {"m.relates_to": {"rel_type": "m.annotation", "event_id": event_id, "key": key}}


async def test_message_the_bot_cannot_decrypt_is_reported_not_dropped(
    client: ClientUser,
    bot_settings: MatrixSettings,
    cursors: MemoryCursorStore,
    adapters: AdapterRunner,
) -> None:
    sink = RecordingSink()
    bot = await adapters.start(bot_settings, cursors, sink, undecryptable_grace=1.0)
    bot_id = str(bot.user_id)
    room_id = await client.create_dm(bot_id)
    await client.wait_for_join(room_id, bot_id)
    for device in client.nio.device_store.active_user_devices(bot_id):
        client.nio.blacklist_device(device)  # the room key never reaches the bot

    unreadable = await client.say(room_id, "you will never read this")

    events = await sink.wait_for(lambda evs: bool(evs))
    assert [(e.event_id, e.kind, e.text) for e in events] == [
        (unreadable, EventKind.UNREADABLE, None)
    ]


async def test_code_typed_before_the_bot_joined_is_not_missed(
    client: ClientUser,
    bot_settings: MatrixSettings,
    cursors: MemoryCursorStore,
    adapters: AdapterRunner,
) -> None:
    sink = RecordingSink()
    bot = await adapters.start(bot_settings, cursors, sink)
    bot_id = str(bot.user_id)

    room_id = await client.create_dm(bot_id)
    await client.wait_until(lambda: bool(client.nio.device_store[bot_id]))
    await client.say(room_id, "!start EARLY")  # the bot is still only invited

    events = await sink.wait_for(lambda evs: bool(evs))
    assert [(e.command, e.args, e.address) for e in events] == [("start", "EARLY", room_id)]
