"""Webhook mode: Telegram (the fake) POSTs updates to the adapter's own HTTP server."""

from __future__ import annotations

import logging

import aiohttp
import pytest
from pydantic import SecretStr

from adapters.telegram import TelegramAdapter, TelegramConfigError
from adapters.telegram import webhook as webhook_module
from adapters.telegram.settings import TelegramSettings
from adapters.telegram.webhook import REFUSALS_PER_MINUTE
from feedback_bot.ports import EventKind
from tests.fakes.telegram_api import DEFAULT_TOKEN, SECRET_HEADER, FakeTelegramApi
from tests.telegram.harness import CLIENT, AdapterFactory, MemoryCursors, RecordingSink, free_port

SECRET = "s3cret_Token-for-tests_0a9f7Q2xLmZ81kPw"


@pytest.fixture
async def webhook_url(make_adapter: AdapterFactory, sink: RecordingSink) -> str:
    """Start a webhook-mode adapter; returns the URL Telegram was told to use."""
    url = f"http://127.0.0.1:{free_port()}/telegram/hook"
    adapter = make_adapter(
        mode="webhook",
        webhook_url=url,
        webhook_secret=SecretStr(SECRET),
        webhook_port=int(url.split(":")[2].split("/")[0]),
    )
    await adapter.start(sink)
    return url


async def post(url: str, body: object, headers: dict[str, str]) -> int:
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, json=body, headers=headers) as r,
    ):
        return r.status


async def test_start_registers_the_webhook_with_its_secret(
    webhook_url: str, telegram_api: FakeTelegramApi
) -> None:
    assert telegram_api.webhook is not None
    assert telegram_api.webhook["url"] == webhook_url
    assert telegram_api.webhook["secret_token"] == SECRET
    assert "callback_query" in telegram_api.webhook["allowed_updates"]
    assert telegram_api.calls_to("getUpdates") == []


async def test_updates_delivered_by_telegram_reach_the_sink(
    webhook_url: str, telegram_api: FakeTelegramApi, sink: RecordingSink
) -> None:
    update_id = telegram_api.push_command(CLIENT, "start", "INVITE42")
    assert await telegram_api.deliver_to_webhook() == [200]
    assert [(e.event_id, e.kind, e.args) for e in sink.events] == [
        (str(update_id), EventKind.COMMAND, "INVITE42")
    ]
    assert telegram_api.pending_update_ids == []


async def test_failed_commit_answers_an_error_so_telegram_redelivers(
    webhook_url: str, telegram_api: FakeTelegramApi, sink: RecordingSink
) -> None:
    sink.fail_times = 1
    update_id = telegram_api.push_text(CLIENT, "important")
    assert await telegram_api.deliver_to_webhook() == [500]
    assert telegram_api.pending_update_ids == [update_id]
    assert await telegram_api.deliver_to_webhook() == [200]
    assert [e.event_id for e in sink.events] == [str(update_id)]


@pytest.mark.parametrize(
    "headers",
    [{}, {SECRET_HEADER: "wrong"}, {SECRET_HEADER: SECRET + "x"}, {SECRET_HEADER: ""}],
    ids=["missing", "wrong", "longer", "empty"],
)
async def test_requests_without_the_secret_are_refused(
    webhook_url: str,
    telegram_api: FakeTelegramApi,
    sink: RecordingSink,
    headers: dict[str, str],
) -> None:
    telegram_api.push_text(CLIENT, "forged")
    forged = telegram_api.pending_updates[-1]
    assert await post(webhook_url, forged, headers) == 403
    assert sink.events == []


async def test_garbage_with_the_right_secret_is_a_bad_request(
    webhook_url: str, sink: RecordingSink
) -> None:
    assert await post(webhook_url, {"hello": "world"}, {SECRET_HEADER: SECRET}) == 400
    assert sink.events == []


async def test_webhook_mode_refuses_to_start_without_a_secret(
    telegram_api: FakeTelegramApi,
) -> None:
    settings = TelegramSettings(
        token=SecretStr(DEFAULT_TOKEN),
        base_url=telegram_api.base_url,
        mode="webhook",
        webhook_url="https://bot.example.org/telegram",
    )
    with pytest.raises(TelegramConfigError, match="WEBHOOK_SECRET"):
        TelegramAdapter(settings, MemoryCursors())
    assert telegram_api.calls == []


async def test_webhook_secret_telegram_would_reject_is_refused_early(
    telegram_api: FakeTelegramApi,
) -> None:
    settings = TelegramSettings(
        token=SecretStr(DEFAULT_TOKEN),
        mode="webhook",
        webhook_url="https://bot.example.org/telegram",
        webhook_secret=SecretStr("has spaces and $ signs"),
    )
    with pytest.raises(TelegramConfigError, match="WEBHOOK_SECRET"):
        TelegramAdapter(settings, MemoryCursors())


@pytest.mark.parametrize(
    "secret", ["x", "short_but_valid_chars", "a" * 40, "0123456789" * 4], ids=str.__len__
)
async def test_a_short_or_plain_webhook_secret_is_refused_with_how_to_make_one(
    telegram_api: FakeTelegramApi, secret: str
) -> None:
    settings = TelegramSettings(
        token=SecretStr(DEFAULT_TOKEN),
        mode="webhook",
        webhook_url="https://bot.example.org/telegram",
        webhook_secret=SecretStr(secret),
    )
    with pytest.raises(TelegramConfigError, match="WEBHOOK_SECRET") as refused:
        TelegramAdapter(settings, MemoryCursors())
    assert "at least 32" in str(refused.value)
    assert "secrets.token_urlsafe(32)" in str(refused.value)
    assert secret not in str(refused.value)
    assert telegram_api.calls == []


async def test_wrong_secret_requests_are_rate_limited_and_logged_once_a_minute(
    webhook_url: str,
    telegram_api: FakeTelegramApi,
    sink: RecordingSink,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now = [1000.0]
    monkeypatch.setattr(webhook_module, "_now", lambda: now[0])
    telegram_api.push_text(CLIENT, "forged")
    forged = telegram_api.pending_updates[-1]
    wrong = {SECRET_HEADER: "guess"}
    with caplog.at_level(logging.WARNING, logger="adapters.telegram.webhook"):
        statuses = [await post(webhook_url, forged, wrong) for _ in range(50)]
        assert statuses == [403] * REFUSALS_PER_MINUTE + [429] * (50 - REFUSALS_PER_MINUTE)
        refusal_lines = [r for r in caplog.records if "secret token refused" in r.message]
        assert len(refusal_lines) == 1
        # Telegram itself is not held back by someone guessing.
        assert await telegram_api.deliver_to_webhook() == [200]
        now[0] += 61
        assert await post(webhook_url, forged, wrong) == 403
        refusal_lines = [r for r in caplog.records if "secret token refused" in r.message]
    assert len(refusal_lines) == 2
    assert "50 request(s)" in refusal_lines[1].getMessage()
    assert [e.text for e in sink.events] == ["forged"]
