"""Update JSON (as the fake server would deliver it) → IncomingEvent."""

from __future__ import annotations

import pytest
from telegram import Update

from adapters.telegram.translate import parse_command, translate
from feedback_bot.ports import EventKind, IncomingEvent
from tests.fakes.telegram_api import FakeTelegramApi

CHAT = 777


@pytest.fixture
def api() -> FakeTelegramApi:
    # Not started: only its update builders are used here.
    fake = FakeTelegramApi()
    fake.add_private_chat(CHAT)
    return fake


def last(api: FakeTelegramApi) -> IncomingEvent | None:
    return translate(Update.de_json(api.pending_updates[-1], None))


def only(api: FakeTelegramApi) -> IncomingEvent:
    event = last(api)
    assert event is not None
    return event


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/start CODE-123_x", ("start", "CODE-123_x")),
        ("/Help", ("help", "")),
        ("/help@feedback_test_bot", ("help", "")),
        ("/FEEDBACK@Feedback_Test_Bot  it was good ", ("feedback", "it was good")),
        ("/feedback first line\nsecond line", ("feedback", "first line\nsecond line")),
        ("/", None),
        ("/ hello", None),
        ("/usr/bin is a path", None),
        ("hello /start", None),
        ("//start", None),
    ],
)
def test_parse_command(text: str, expected: tuple[str, str] | None) -> None:
    assert parse_command(text) == expected


def test_plain_text_keeps_words_and_identifies_chat_and_update(api: FakeTelegramApi) -> None:
    update_id = api.push_text(CHAT, "The session helped  \n a lot")
    assert only(api) == IncomingEvent(
        platform="telegram",
        event_id=str(update_id),
        address=str(CHAT),
        kind=EventKind.TEXT,
        text="The session helped  \n a lot",
        sender=str(CHAT),
    )


def test_deep_link_start_becomes_start_command_with_code(api: FakeTelegramApi) -> None:
    api.push_command(CHAT, "start", "k3Y_abc-DEF")
    event = only(api)
    assert (event.kind, event.command, event.args) == (EventKind.COMMAND, "start", "k3Y_abc-DEF")
    assert event.address == str(CHAT)


@pytest.mark.parametrize("push", ["push_sticker", "push_photo"])
def test_stickers_and_photos_are_non_text(api: FakeTelegramApi, push: str) -> None:
    getattr(api, push)(CHAT)
    event = only(api)
    assert (event.kind, event.text) == (EventKind.NON_TEXT, None)


def test_photo_caption_is_not_read_as_feedback(api: FakeTelegramApi) -> None:
    api.push_photo(CHAT, caption="my private caption")
    assert only(api).text is None


def test_service_message_in_private_chat_is_ignored(api: FakeTelegramApi) -> None:
    api.push_update({"message": api.user_message(CHAT, write_access_allowed={})})
    assert last(api) is None


def test_edit_is_reported_without_the_new_text(api: FakeTelegramApi) -> None:
    api.push_text(CHAT, "first version")
    original_id = api.pending_updates[-1]["message"]["message_id"]
    api.push_edited_text(CHAT, original_id, "second version")
    event = only(api)
    assert (event.kind, event.text, event.address) == (EventKind.EDIT, None, str(CHAT))


@pytest.mark.parametrize("chat_type", ["group", "supergroup"])
def test_group_messages_are_group_events_without_their_text(
    api: FakeTelegramApi, chat_type: str
) -> None:
    api.push_group_text(-100555, "/start CODE in a group", user_id=31, chat_type=chat_type)
    event = only(api)
    assert (event.kind, event.address, event.text, event.command) == (
        EventKind.GROUP,
        "-100555",
        None,
        None,
    )
    assert event.sender == "31"


def test_edits_in_groups_are_ignored(api: FakeTelegramApi) -> None:
    api.push_group_text(-5, "hi", user_id=31)
    message = api.pending_updates[-1]["message"]
    api.push_update({"edited_message": {**message, "text": "hi!", "edit_date": 1}})
    assert last(api) is None


def test_channel_post_is_a_group_event(api: FakeTelegramApi) -> None:
    api.push_channel_post(-1009, "announcement")
    event = only(api)
    assert (event.kind, event.address, event.sender, event.text) == (
        EventKind.GROUP,
        "-1009",
        None,
        None,
    )


def test_blocking_and_unblocking_the_bot(api: FakeTelegramApi) -> None:
    api.push_my_chat_member(CHAT, "kicked", old_status="member")
    assert (only(api).kind, only(api).address) == (EventKind.BLOCKED, str(CHAT))
    api.push_my_chat_member(CHAT, "member", old_status="kicked")
    assert only(api).kind == EventKind.UNBLOCKED


def test_bot_added_to_group_is_a_group_event_and_removal_is_ignored(
    api: FakeTelegramApi,
) -> None:
    group = {"id": -42, "type": "group", "title": "Family"}
    change = {
        "chat": group,
        "from": {"id": 5, "is_bot": False, "first_name": "A"},
        "date": 1,
        "old_chat_member": {"status": "left", "user": api.bot_user},
        "new_chat_member": {"status": "member", "user": api.bot_user},
    }
    api.push_update({"my_chat_member": change})
    assert (only(api).kind, only(api).address) == (EventKind.GROUP, "-42")
    removed = {
        **change,
        "old_chat_member": change["new_chat_member"],
        "new_chat_member": {"status": "left", "user": api.bot_user},
    }
    api.push_update({"my_chat_member": removed})
    assert last(api) is None


def test_button_press_is_a_choice_with_the_opaque_id(api: FakeTelegramApi) -> None:
    bot_message = api.user_message(CHAT, text="question")  # stands in for the bot's prompt
    update_id = api.push_callback(CHAT, bot_message["message_id"], "q7:yes")
    assert only(api) == IncomingEvent(
        platform="telegram",
        event_id=str(update_id),
        address=str(CHAT),
        kind=EventKind.CHOICE,
        choice_id="q7:yes",
        sender=str(CHAT),
    )


def test_button_press_in_a_group_is_a_group_event_and_no_choice(api: FakeTelegramApi) -> None:
    """A check-in forwarded into a group with its buttons: a press there answers nothing."""
    api.push_group_text(-77, "forwarded check-in", user_id=CHAT)
    message = api.pending_updates[-1]["message"]
    api.push_update(
        {
            "callback_query": {
                "id": "q1",
                "from": {"id": CHAT, "is_bot": False, "first_name": "Client"},
                "message": message,
                "chat_instance": "ci",
                "data": "q7:yes",
            }
        }
    )
    event = only(api)
    assert (event.kind, event.address, event.choice_id) == (EventKind.GROUP, "-77", None)


def test_update_kinds_we_do_not_use_are_ignored(api: FakeTelegramApi) -> None:
    api.push_update(
        {
            "inline_query": {
                "id": "1",
                "from": {"id": CHAT, "is_bot": False, "first_name": "C"},
                "query": "x",
                "offset": "",
            }
        }
    )
    assert last(api) is None
