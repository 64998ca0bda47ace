"""How one outgoing message is cut into Telegram messages, and how errors are mapped."""

from __future__ import annotations

import warnings
from datetime import timedelta

import pytest
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    NetworkError,
    RetryAfter,
    TimedOut,
)

from adapters.telegram.errors import to_send_error
from adapters.telegram.outgoing import FilePart, TextPart, plan
from feedback_bot.ports import (
    AddressMigrated,
    Attachment,
    Choice,
    OutgoingMessage,
    RecipientUnavailable,
    SendError,
    TransientSendError,
)

YES_NO = (Choice("a1", "Yes"), Choice("a2", "No"))
CHART = Attachment("chart.png", "image/png", b"\x89PNG", is_image=True)


def message(text: str, **fields: object) -> OutgoingMessage:
    return OutgoingMessage(outbox_id=1, platform="telegram", address="1", text=text, **fields)  # type: ignore[arg-type]


def test_short_text_is_one_part_with_its_buttons() -> None:
    assert plan(message("How was it?", choices=YES_NO)) == [TextPart("How was it?", YES_NO)]


def test_long_text_splits_at_paragraphs_and_buttons_go_under_the_last_part() -> None:
    paragraphs = ["a" * 2000, "b" * 2000, "c" * 2000]
    parts = plan(message("\n\n".join(paragraphs), choices=YES_NO))
    assert parts == [
        TextPart(paragraphs[0] + "\n\n" + paragraphs[1]),
        TextPart(paragraphs[2], YES_NO),
    ]


def test_length_is_counted_like_telegram_in_utf16_units() -> None:
    text = "🙂" * 3000  # 3000 characters, 6000 UTF-16 units
    parts = plan(message(text))
    assert len(parts) == 2
    assert "".join(p.text for p in parts if isinstance(p, TextPart)) == text


def test_attachments_follow_the_text() -> None:
    csv = Attachment("digest.csv", "text/csv", b"a,b\n")
    assert plan(message("Your digest", attachments=(CHART, csv))) == [
        TextPart("Your digest"),
        FilePart(CHART),
        FilePart(csv),
    ]


def test_attachments_alone_need_no_text() -> None:
    assert plan(message("", attachments=(CHART,))) == [FilePart(CHART)]


@pytest.mark.parametrize("choice_id", ["", "x" * 65, "é" * 33])
def test_choice_ids_beyond_telegrams_64_bytes_are_refused(choice_id: str) -> None:
    with pytest.raises(ValueError, match="choice id"):
        plan(message("Pick one", choices=(Choice(choice_id, "Label"),)))


def test_choice_id_of_exactly_64_bytes_is_fine() -> None:
    assert plan(message("Pick", choices=(Choice("é" * 32, "Label"),)))


def test_buttons_without_text_are_refused() -> None:
    with pytest.raises(ValueError):
        plan(message("  ", choices=YES_NO))


@pytest.mark.parametrize("retry_after", [3, timedelta(seconds=2.5)], ids=["int", "timedelta"])
def test_flood_control_keeps_telegrams_wait(
    retry_after: int | timedelta, monkeypatch: pytest.MonkeyPatch
) -> None:
    if isinstance(retry_after, timedelta):
        monkeypatch.setenv("PTB_TIMEDELTA", "true")  # PTB then hands out a timedelta
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PTB's constructor warns about its own int
        exc = RetryAfter(retry_after)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # reading it must not spam every 429 with a warning
        error = to_send_error(exc)
    assert isinstance(error, TransientSendError)
    expected = retry_after.total_seconds() if isinstance(retry_after, timedelta) else 3.0
    assert (error.reason, error.retry_after) == ("rate_limited", expected)


def test_blocked_bot_makes_the_recipient_unavailable() -> None:
    error = to_send_error(Forbidden("Forbidden: bot was blocked by the user"))
    assert isinstance(error, RecipientUnavailable)
    assert error.reason == "blocked"


def test_deleted_account_is_unavailable_too() -> None:
    error = to_send_error(Forbidden("Forbidden: user is deactivated"))
    assert isinstance(error, RecipientUnavailable)
    assert error.reason == "deactivated"


def test_migrated_group_gives_the_new_address() -> None:
    error = to_send_error(ChatMigrated(-1001234))
    assert isinstance(error, AddressMigrated)
    assert error.new_address == "-1001234"


@pytest.mark.parametrize("exc", [TimedOut(), NetworkError("connection reset")])
def test_network_trouble_is_transient(exc: Exception) -> None:
    error = to_send_error(exc)  # type: ignore[arg-type]
    assert isinstance(error, TransientSendError)
    assert (error.reason, error.retry_after) == ("network", None)


def test_unknown_chat_is_unavailable_not_retried() -> None:
    error = to_send_error(BadRequest("Chat not found"))
    assert isinstance(error, RecipientUnavailable)


def test_other_bad_requests_are_not_retried_as_network_trouble() -> None:
    # PTB's BadRequest is a NetworkError subclass; retrying it would fail the same way.
    error = to_send_error(BadRequest("Can't parse entities"))
    assert not isinstance(error, TransientSendError | RecipientUnavailable)
    assert isinstance(error, SendError)
