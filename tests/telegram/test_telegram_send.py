"""Sending through a real TelegramAdapter to the fake Bot API over HTTP."""

from __future__ import annotations

import pytest

from adapters.telegram import TelegramAdapter
from adapters.telegram.commands import client_commands, practitioner_commands
from feedback_bot.catalog import Catalog
from feedback_bot.conversation.commands import COMMANDS, command_menus
from feedback_bot.ports import (
    AddressMigrated,
    Attachment,
    Choice,
    OutgoingMessage,
    RecipientUnavailable,
    TransientSendError,
)
from feedback_bot.ports.menus import CommandMenus
from tests.fakes.telegram_api import FakeTelegramApi
from tests.telegram.harness import CLIENT, AdapterFactory, RecordingSink

CHART = Attachment("mood.png", "image/png", b"\x89PNG\r\n\x1a\n-chart-bytes", is_image=True)
CSV = Attachment("digest.csv", "text/csv", b"date,score\n2026-01-01,4\n")


def outgoing(
    text: str, *, outbox_id: int = 1, address: int = CLIENT, **fields: object
) -> OutgoingMessage:
    return OutgoingMessage(outbox_id, "telegram", str(address), text, **fields)  # type: ignore[arg-type]


@pytest.fixture
async def started(adapter: TelegramAdapter, sink: RecordingSink) -> TelegramAdapter:
    await adapter.start(sink)
    return adapter


async def test_text_with_buttons(started: TelegramAdapter, telegram_api: FakeTelegramApi) -> None:
    receipt = await started.send(
        outgoing(
            "How useful was today?", choices=(Choice("u:1", "Not much"), Choice("u:2", "Very"))
        )
    )
    [sent] = telegram_api.sent(CLIENT)
    assert receipt.platform_message_id == str(sent["message_id"])
    assert sent["text"] == "How useful was today?"
    keyboard = sent["reply_markup"]["inline_keyboard"]
    assert [[(b["text"], b["callback_data"]) for b in row] for row in keyboard] == [
        [("Not much", "u:1")],
        [("Very", "u:2")],
    ]
    assert not sent.get("has_protected_content")


async def test_long_text_arrives_in_paragraph_sized_messages(
    started: TelegramAdapter, telegram_api: FakeTelegramApi
) -> None:
    paragraphs = [f"Paragraph {i}. " + "word " * 500 for i in range(4)]  # ~2.5k chars each
    receipt = await started.send(
        outgoing("\n\n".join(paragraphs), choices=(Choice("ok", "Got it"),))
    )
    sent = telegram_api.sent(CLIENT)
    assert [m["text"] for m in sent] == [p.strip() for p in paragraphs]
    assert ["reply_markup" in m for m in sent] == [False, False, False, True]
    assert receipt.platform_message_id == str(sent[-1]["message_id"])


async def test_text_counted_in_utf16_is_never_rejected_as_too_long(
    started: TelegramAdapter, telegram_api: FakeTelegramApi
) -> None:
    await started.send(outgoing("🌱" * 3000))  # 6000 UTF-16 units; the fake enforces 4096
    assert "".join(telegram_api.texts(CLIENT)) == "🌱" * 3000


async def test_digest_with_chart_and_file_is_protected_throughout(
    started: TelegramAdapter, telegram_api: FakeTelegramApi
) -> None:
    await started.send(outgoing("Your weekly digest", attachments=(CHART, CSV), protect=True))
    assert [c.method for c in telegram_api.calls if c.method.startswith("send")] == [
        "sendMessage",
        "sendPhoto",
        "sendDocument",
    ]
    photo = telegram_api.calls_to("sendPhoto")[0].files["photo"]
    document = telegram_api.calls_to("sendDocument")[0].files["document"]
    assert (photo.data, photo.filename) == (CHART.data, "mood.png")
    assert (document.data, document.filename, document.content_type) == (
        CSV.data,
        "digest.csv",
        "text/csv",
    )
    assert all(m.get("has_protected_content") for m in telegram_api.sent(CLIENT))


async def test_unprotected_messages_can_be_forwarded(
    started: TelegramAdapter, telegram_api: FakeTelegramApi
) -> None:
    await started.send(outgoing("A reminder", attachments=(CSV,)))
    assert not any(m.get("has_protected_content") for m in telegram_api.sent(CLIENT))


async def test_flood_control_becomes_transient_error_with_telegrams_wait(
    started: TelegramAdapter, telegram_api: FakeTelegramApi
) -> None:
    telegram_api.rate_limit(retry_after=3, chat_id=CLIENT)
    with pytest.raises(TransientSendError) as caught:
        await started.send(outgoing("hello"))
    assert (caught.value.reason, caught.value.retry_after) == ("rate_limited", 3.0)
    assert telegram_api.sent(CLIENT) == []


async def test_retry_after_partial_delivery_does_not_repeat_what_arrived(
    started: TelegramAdapter, telegram_api: FakeTelegramApi
) -> None:
    first, second = "A" * 3000, "B" * 3000
    message = outgoing(f"{first}\n\n{second}", outbox_id=77)
    telegram_api.rate_limit(retry_after=1, chat_id=CLIENT, after=1)
    with pytest.raises(TransientSendError):
        await started.send(message)
    assert telegram_api.texts(CLIENT) == [first]

    await started.send(message)
    assert telegram_api.texts(CLIENT) == [first, second]


async def test_another_message_is_sent_whole_after_a_partial_failure(
    started: TelegramAdapter, telegram_api: FakeTelegramApi
) -> None:
    long = "A" * 3000 + "\n\n" + "B" * 3000
    telegram_api.rate_limit(retry_after=1, chat_id=CLIENT, after=1)
    with pytest.raises(TransientSendError):
        await started.send(outgoing(long, outbox_id=1))
    await started.send(outgoing(long, outbox_id=2))
    assert telegram_api.texts(CLIENT) == ["A" * 3000, "A" * 3000, "B" * 3000]


async def test_blocked_recipient_is_unavailable(
    started: TelegramAdapter, telegram_api: FakeTelegramApi
) -> None:
    telegram_api.block(CLIENT)
    with pytest.raises(RecipientUnavailable) as caught:
        await started.send(outgoing("check-in"))
    assert caught.value.reason == "blocked"


async def test_unknown_chat_is_unavailable(started: TelegramAdapter) -> None:
    with pytest.raises(RecipientUnavailable):
        await started.send(outgoing("hello", address=999_999))


async def test_migrated_group_reports_its_new_address(
    started: TelegramAdapter, telegram_api: FakeTelegramApi
) -> None:
    telegram_api.add_chat({"id": -4000, "type": "group", "title": "Old group"})
    telegram_api.migrate(-4000, -1004000)
    with pytest.raises(AddressMigrated) as caught:
        await started.send(outgoing("hello", address=-4000))
    assert caught.value.new_address == "-1004000"
    await started.send(outgoing("hello", address=int(caught.value.new_address)))
    assert telegram_api.texts(-1004000) == ["hello"]


async def test_no_reply_in_time_is_a_transient_network_error(
    make_adapter: AdapterFactory, telegram_api: FakeTelegramApi, sink: RecordingSink
) -> None:
    adapter = make_adapter(request_timeout=0.3)
    await adapter.start(sink)
    telegram_api.delay(5.0, method="sendMessage")
    with pytest.raises(TransientSendError) as caught:
        await adapter.send(outgoing("are you there?"))
    assert caught.value.reason == "network"


async def test_oversized_choice_id_is_refused_before_anything_is_sent(
    started: TelegramAdapter, telegram_api: FakeTelegramApi
) -> None:
    with pytest.raises(ValueError):
        await started.send(outgoing("Pick", choices=(Choice("x" * 65, "Label"),)))
    assert telegram_api.calls_to("sendMessage") == []


async def test_address_that_is_no_chat_id_is_unavailable(started: TelegramAdapter) -> None:
    with pytest.raises(RecipientUnavailable):
        await started.send(OutgoingMessage(1, "telegram", "!room:example.org", "hi"))


def menus_from_the_core(*languages: str) -> CommandMenus:
    return command_menus(Catalog.load(), list(languages), languages[0])


async def test_command_menus(
    adapter: TelegramAdapter, sink: RecordingSink, telegram_api: FakeTelegramApi
) -> None:
    """Telegram's menus are the core's command table: no command is left out of them."""
    adapter.set_command_menus(menus_from_the_core("en"))
    started = adapter
    await started.start(sink)
    private = '{"type": "all_private_chats"}|'
    client_menu = [c["command"] for c in telegram_api.commands[private]]
    assert client_menu == [c.name for c in COMMANDS.client if c.menu is not None]
    assert {"timezone", "quiet", "notices"} <= set(client_menu)  # once missing from the menu
    assert len(telegram_api.commands) == 1  # nothing in groups, no practitioner menu for all

    await started.register_practitioner("5150")
    chat = '{"chat_id": 5150, "type": "chat"}|'
    practitioner_menu = [c["command"] for c in telegram_api.commands[chat]]
    assert practitioner_menu[len(client_menu) :] == [
        "invite",
        "clients",
        "session",
        "digest",
        "ack",
        "reply",
    ]
    assert practitioner_menu[len(client_menu) :] == [
        c.name for c in COMMANDS.practitioner if c.menu is not None and c.name not in client_menu
    ]


async def test_command_menus_in_each_language_of_the_practice(
    adapter: TelegramAdapter, sink: RecordingSink, telegram_api: FakeTelegramApi
) -> None:
    adapter.set_command_menus(menus_from_the_core("en", "de", "es"))
    await adapter.start(sink)
    catalog = Catalog.load()
    for code, lang in (("", "en"), ("de", "de"), ("es", "es")):
        menu = telegram_api.commands['{"type": "all_private_chats"}|' + code]
        assert [(c["command"], c["description"]) for c in menu] == [
            (c.name, catalog.t(c.menu, lang)) for c in COMMANDS.client if c.menu is not None
        ]
    assert len(telegram_api.commands) == 3


async def test_no_menu_without_one_from_the_core(
    started: TelegramAdapter, telegram_api: FakeTelegramApi
) -> None:
    await started.register_practitioner("5150")
    assert telegram_api.commands == {}


def test_practitioner_menu_lists_each_command_once() -> None:
    menus = menus_from_the_core("en")
    names = [c.command for c in practitioner_commands(menus)]
    assert len(names) == len(set(names))
    assert set(names) == {e.name for e in menus.client_menu() + menus.practitioner_menu()}
    assert [c.command for c in client_commands(menus)] == [e.name for e in menus.client_menu()]


async def test_deep_link_uses_the_username_telegram_reports(started: TelegramAdapter) -> None:
    assert started.bot_username == "feedback_test_bot"
    assert started.deep_link("Ab_9-xyz") == "https://t.me/feedback_test_bot?start=Ab_9-xyz"
    assert started.invite_link_template == "https://t.me/feedback_test_bot?start={code}"
    with pytest.raises(ValueError):
        started.deep_link("has space")


async def test_configured_username_that_is_wrong_gives_way_to_telegrams(
    make_adapter: AdapterFactory, sink: RecordingSink, caplog: pytest.LogCaptureFixture
) -> None:
    adapter = make_adapter(bot_username="@old_name_bot")
    assert adapter.deep_link("abc") == "https://t.me/old_name_bot?start=abc"  # before start
    await adapter.start(sink)
    assert adapter.deep_link("abc") == "https://t.me/feedback_test_bot?start=abc"
    assert "old_name_bot" in caplog.text
