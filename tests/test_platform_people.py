"""People whose chat address changes (a new Matrix DM) and practitioners whose DM the
bot opens itself."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from adapters.console import ConsoleAdapter
from feedback_bot.conversation.practitioner_dm import open_practitioner_dms
from feedback_bot.ports import (
    AddressMigrated,
    EventKind,
    IncomingEvent,
    OutgoingMessage,
    SendReceipt,
)
from feedback_bot.storage.models import Identity
from tests.harness import Harness, count, rows


async def test_a_client_who_left_is_found_again_in_a_new_dm(bot: Harness) -> None:
    pid = await bot.practitioner()
    invite = await bot.app.admin.invite_client(pid, "Alex")
    await bot.console.deliver(
        IncomingEvent(
            "console",
            "e1",
            "!old",
            EventKind.COMMAND,
            text=f"!start {invite.code}",
            command="start",
            args=invite.code,
            sender="@alex:hs",
        )
    )
    await bot.app.drain()
    await bot.presses("!old", "I agree")
    await bot.presses("!old", "No, thank you")
    await bot.console.deliver(
        IncomingEvent("console", "e2", "!old", EventKind.BLOCKED, sender="@alex:hs")
    )
    await bot.app.drain()
    await bot.console.deliver(
        IncomingEvent(
            "console", "e3", "!new", EventKind.TEXT, text="it's me again", sender="@alex:hs"
        )
    )
    await bot.app.drain()
    replies = [m.text for m in bot.console.sent["!new"]]
    assert any("What would you like to share?" in r for r in replies)
    async with bot.app.sessions() as s:
        ident = (
            await s.execute(select(Identity).where(Identity.client_id.is_not(None)))
        ).scalar_one()
    assert (ident.address, ident.reachable) == ("!new", True)


async def test_someone_else_in_a_new_room_is_not_mistaken_for_the_client(bot: Harness) -> None:
    pid = await bot.practitioner()
    invite = await bot.app.admin.invite_client(pid, "Alex")
    await bot.console.deliver(
        IncomingEvent(
            "console",
            "e1",
            "!old",
            EventKind.COMMAND,
            text="!start x",
            command="start",
            args=invite.code,
            sender="@alex:hs",
        )
    )
    await bot.console.deliver(
        IncomingEvent(
            "console", "e2", "!other", EventKind.TEXT, text="hello?", sender="@mallory:hs"
        )
    )
    await bot.app.drain()
    assert any("don't recognise this chat" in m.text for m in bot.console.sent["!other"])


class DmConsole(ConsoleAdapter):
    async def open_dm(self, user_id: str) -> str:
        return f"!dm-for-{user_id}"


async def test_the_bot_opens_a_practitioners_dm_once(bot: Harness) -> None:
    practice = await bot.app.admin.create_practice("Oak", "Europe/London")
    pid, _ = await bot.app.admin.add_practitioner(
        practice, "Sam", platform_user=("console", "@sam:hs")
    )
    adapter = DmConsole()
    await adapter.start(bot.app.receive)
    bot.app.dispatcher.add_adapter(adapter, bot.app.dispatcher._pacers["console"].limit)
    assert (
        await open_practitioner_dms(bot.app.sessions, bot.app.deps, adapter, bot.clock.now()) == 1
    )
    assert (
        await open_practitioner_dms(bot.app.sessions, bot.app.deps, adapter, bot.clock.now()) == 0
    )
    await bot.app.drain()
    room = "!dm-for-@sam:hs"
    assert any("linked to your practitioner account" in m.text for m in adapter.sent[room])
    await adapter.say(room, "!clients")
    await bot.app.drain()
    assert any("invite" in m.text for m in adapter.sent[room][1:])
    del pid


async def test_a_chat_the_platform_moved_is_known_at_its_new_address(
    bot: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The dispatcher follows a chat that moved (a Telegram group became a supergroup):
    the stored address is sealed, so it is rewritten through the model and found by the
    keyed hash of the new address, not the old one."""
    pid = await bot.practitioner()
    await bot.client("old-chat", pid, alias="Alex")
    real_send = bot.console.send

    async def send(message: OutgoingMessage) -> SendReceipt:
        if message.address == "old-chat":
            raise AddressMigrated("new-chat")
        return await real_send(message)

    monkeypatch.setattr(bot.console, "send", send)
    await bot.says("old-chat", "!help")
    assert bot.console.sent["new-chat"], "the reply followed the chat"
    assert await count(bot, Identity, Identity.address == "old-chat") == 0
    [moved] = await rows(
        bot, Identity, Identity.platform == "console", Identity.address == "new-chat"
    )
    assert moved.address == "new-chat"
    replies = await bot.says("new-chat", "!help")
    assert replies and not any("don't recognise" in r for r in replies), replies
