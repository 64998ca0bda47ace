"""Translation of Matrix event JSON into the core's events (no homeserver needed)."""

from __future__ import annotations

from typing import Any

import pytest

from adapters.matrix.events import (
    bot_removed,
    other_party_left,
    parse_command,
    strip_reply_fallback,
    translate,
)
from feedback_bot.ports import EventKind

BOT = "@bot:example.org"
ALICE = "@alice:example.org"
ROOM = "!dm:example.org"


def message(content: dict[str, Any], sender: str = ALICE, **extra: Any) -> dict[str, Any]:
    return {
        "type": "m.room.message",
        "event_id": "$e1",
        "sender": sender,
        "content": content,
        **extra,
    }


def text(body: str, **content: Any) -> dict[str, Any]:
    return message({"msgtype": "m.text", "body": body, **content})


def test_plain_text_keeps_room_sender_and_event_id() -> None:
    event = translate(ROOM, text("I slept better"), BOT)
    assert event is not None
    assert (event.platform, event.event_id, event.address, event.sender) == (
        "matrix",
        "$e1",
        ROOM,
        ALICE,
    )
    assert (event.kind, event.text) == (EventKind.TEXT, "I slept better")


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("!start ABC123", ("start", "ABC123")),
        ("  !Start   ABC 123 ", ("start", "ABC 123")),
        ("!stop", ("stop", "")),
        ("!start\nABC", ("start", "ABC")),
    ],
)
def test_bang_commands(body: str, expected: tuple[str, str]) -> None:
    event = translate(ROOM, text(body), BOT)
    assert event is not None and event.kind is EventKind.COMMAND
    assert (event.command, event.args) == expected


@pytest.mark.parametrize("body", ["!", "!!!", "! start", "wow!", "/start ABC"])
def test_things_that_are_not_commands_stay_text(body: str) -> None:
    event = translate(ROOM, text(body), BOT)
    assert event is not None and event.kind is EventKind.TEXT and event.text == body


def test_reply_to_a_prompt_loses_the_quoted_fallback() -> None:
    body = "> <@bot:example.org> How are you?\n> 1. Good\n\n1"
    event = translate(
        ROOM, text(body, **{"m.relates_to": {"m.in_reply_to": {"event_id": "$p"}}}), BOT
    )
    assert event is not None and event.text == "1"


def test_quote_without_reply_relation_is_kept() -> None:
    event = translate(ROOM, text("> a quote I like\n\nthoughts"), BOT)
    assert event is not None and event.text == "> a quote I like\n\nthoughts"


@pytest.mark.parametrize("key", ["3\ufe0f\u20e3", "3\u20e3"])
def test_keycap_reaction_on_a_bot_prompt_is_the_digit(key: str) -> None:
    reaction = {
        "type": "m.reaction",
        "event_id": "$r",
        "sender": ALICE,
        "content": {
            "m.relates_to": {"rel_type": "m.annotation", "event_id": "$prompt", "key": key}
        },
    }
    event = translate(ROOM, reaction, BOT, bot_event_ids={"$prompt"})
    assert event is not None and (event.kind, event.text) == (EventKind.TEXT, "3")
    assert translate(ROOM, reaction, BOT, bot_event_ids={"$other"}) is None


def test_other_reactions_are_ignored() -> None:
    reaction = {
        "type": "m.reaction",
        "event_id": "$r",
        "sender": ALICE,
        "content": {"m.relates_to": {"event_id": "$prompt", "key": "\u2764\ufe0f"}},
    }
    assert translate(ROOM, reaction, BOT, bot_event_ids={"$prompt"}) is None


def test_edit_carries_the_new_text() -> None:
    edit = text(
        "* fixed",
        **{
            "m.new_content": {"msgtype": "m.text", "body": "fixed"},
            "m.relates_to": {"rel_type": "m.replace", "event_id": "$orig"},
        },
    )
    event = translate(ROOM, edit, BOT)
    assert event is not None and (event.kind, event.text) == (EventKind.EDIT, "fixed")


@pytest.mark.parametrize(
    "source",
    [
        message({"msgtype": "m.image", "body": "x.png", "url": "mxc://a/b"}),
        message({"msgtype": "m.file", "body": "x.pdf", "url": "mxc://a/b"}),
        message({"msgtype": "m.audio", "body": "voice", "url": "mxc://a/b"}),
        message({"msgtype": "org.example.custom", "body": "?"}),
        {
            "type": "m.sticker",
            "event_id": "$s",
            "sender": ALICE,
            "content": {"body": "hi", "url": "mxc://a/b"},
        },
    ],
)
def test_media_and_stickers_are_non_text(source: dict[str, Any]) -> None:
    event = translate(ROOM, source, BOT)
    assert event is not None and event.kind is EventKind.NON_TEXT and event.text is None


@pytest.mark.parametrize(
    "source",
    [
        text("my own echo") | {"sender": BOT},
        message({"msgtype": "m.notice", "body": "I am another bot"}),
        text("gone", unsigned={}) | {"unsigned": {"redacted_because": {}}},
        {"type": "m.room.topic", "event_id": "$t", "sender": ALICE, "content": {"topic": "x"}},
        {"type": "m.room.message", "sender": ALICE, "content": {"body": "no id"}},
    ],
)
def test_events_that_mean_nothing_to_the_core(source: dict[str, Any]) -> None:
    assert translate(ROOM, source, BOT) is None


def member(state_key: str, membership: str, sender: str) -> dict[str, Any]:
    return {
        "type": "m.room.member",
        "event_id": "$m",
        "sender": sender,
        "state_key": state_key,
        "content": {"membership": membership},
    }


def test_client_leaving_or_banned_is_blocked() -> None:
    for membership in ("leave", "ban"):
        event = other_party_left(ROOM, member(ALICE, membership, ALICE), BOT)
        assert event is not None and (event.kind, event.sender) == (EventKind.BLOCKED, ALICE)
    assert other_party_left(ROOM, member(ALICE, "join", ALICE), BOT) is None
    assert other_party_left(ROOM, member(BOT, "leave", BOT), BOT) is None


def test_bot_kicked_is_blocked_but_leaving_on_purpose_is_not() -> None:
    kicked = bot_removed(ROOM, member(BOT, "leave", ALICE), BOT, other_party=ALICE)
    assert kicked is not None and (kicked.kind, kicked.sender) == (EventKind.BLOCKED, ALICE)
    assert bot_removed(ROOM, member(BOT, "leave", BOT), BOT, other_party=ALICE) is None


def test_parse_command_and_fallback_helpers() -> None:
    assert parse_command("hello") is None
    assert strip_reply_fallback("no quote") == "no quote"
    assert strip_reply_fallback("> only a quote") == ""
