"""Nothing a person writes, and not the bot token, may reach the logs, even at DEBUG."""

from __future__ import annotations

import logging

import pytest

from adapters.telegram import TelegramAdapter
from feedback_bot.ports import Choice, OutgoingMessage
from tests.fakes.telegram_api import DEFAULT_TOKEN, FakeTelegramApi
from tests.telegram.harness import CLIENT, RecordingSink

INBOUND = "I-feel-anxious-about-next-week"
OUTBOUND = "Here-is-your-private-digest"


async def test_debug_logging_shows_neither_messages_nor_token(
    adapter: TelegramAdapter,
    telegram_api: FakeTelegramApi,
    sink: RecordingSink,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    sink.fail_times = 1  # the failure path logs too
    await adapter.start(sink)
    telegram_api.push_text(CLIENT, INBOUND)
    await telegram_api.wait_until(lambda: len(sink.events) == 1)
    await adapter.send(
        OutgoingMessage(1, "telegram", str(CLIENT), OUTBOUND, choices=(Choice("c", OUTBOUND),))
    )
    await adapter.stop()

    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "not committed" in text  # the failure was logged, so logging was on
    assert INBOUND not in text
    assert OUTBOUND not in text
    assert DEFAULT_TOKEN.split(":")[1] not in text
