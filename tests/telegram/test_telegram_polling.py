"""A real TelegramAdapter long-polling the fake Bot API over HTTP.

The property that matters: an update is confirmed to Telegram (an offset past it) and our
cursor saved only after the sink committed it, so a failure before that means redelivery.
"""

from __future__ import annotations

import asyncio
import logging

import pytest

from adapters.telegram import CURSOR, TelegramAdapter
from feedback_bot.ports import Choice, EventKind, IncomingEvent, OutgoingMessage
from tests.fakes.telegram_api import CONFLICT_OTHER_POLLER, FakeTelegramApi, Fault
from tests.telegram.harness import CLIENT, AdapterFactory, MemoryCursors, RecordingSink, eventually


def offsets_sent(api: FakeTelegramApi) -> list[int | None]:
    return [call.params.get("offset") for call in api.calls_to("getUpdates")]


async def test_updates_reach_the_sink_in_order(
    adapter: TelegramAdapter, telegram_api: FakeTelegramApi, sink: RecordingSink
) -> None:
    await adapter.start(sink)
    first = telegram_api.push_text(CLIENT, "one")
    second = telegram_api.push_command(CLIENT, "start", "CODE")
    await telegram_api.wait_until(lambda: len(sink.events) == 2)
    assert [(e.event_id, e.kind) for e in sink.events] == [
        (str(first), EventKind.TEXT),
        (str(second), EventKind.COMMAND),
    ]
    assert adapter.is_connected()


async def test_offset_is_confirmed_and_saved_only_after_the_commit(
    adapter: TelegramAdapter,
    telegram_api: FakeTelegramApi,
    sink: RecordingSink,
    cursors: MemoryCursors,
) -> None:
    release = asyncio.Event()
    seen_while_committing: list[tuple[list[int | None], str | None]] = []

    async def slow_commit(event: IncomingEvent) -> None:
        seen_while_committing.append((offsets_sent(telegram_api), cursors.values.get(CURSOR)))
        await release.wait()

    sink.before_commit = slow_commit
    await adapter.start(sink)
    update_id = telegram_api.push_text(CLIENT, "hello")
    await eventually(lambda: bool(seen_while_committing))  # the commit is now held open
    # While the commit is in progress, nothing confirms the update to Telegram.
    assert all(o is None or o <= update_id for o in offsets_sent(telegram_api))
    assert cursors.values.get(CURSOR) is None
    assert telegram_api.pending_update_ids == [update_id]

    release.set()
    await telegram_api.wait_until(lambda: update_id + 1 in offsets_sent(telegram_api))
    assert cursors.history == [(CURSOR, str(update_id + 1))]
    assert telegram_api.pending_update_ids == []


async def test_failed_commit_means_redelivery_not_loss(
    adapter: TelegramAdapter,
    telegram_api: FakeTelegramApi,
    sink: RecordingSink,
    cursors: MemoryCursors,
) -> None:
    still_pending_at_attempt: list[bool] = []

    async def note(event: IncomingEvent) -> None:
        still_pending_at_attempt.append(int(event.event_id) in telegram_api.pending_update_ids)

    sink.before_commit = note
    sink.fail_times = 1
    await adapter.start(sink)
    update_id = telegram_api.push_text(CLIENT, "please keep this")
    await telegram_api.wait_until(lambda: cursors.values.get(CURSOR) == str(update_id + 1))
    assert [e.event_id for e in sink.events] == [str(update_id)]
    # Both attempts saw Telegram still holding the update, and it came from a fresh
    # getUpdates each time: the offset only moved past it after the successful commit.
    assert still_pending_at_attempt == [True, True]
    offsets = offsets_sent(telegram_api)
    assert offsets[:2] == [None, None]
    assert offsets[2] == update_id + 1


async def test_a_batch_is_confirmed_only_when_all_of_it_committed(
    adapter: TelegramAdapter,
    telegram_api: FakeTelegramApi,
    sink: RecordingSink,
    cursors: MemoryCursors,
) -> None:
    first = telegram_api.push_text(CLIENT, "a")
    second = telegram_api.push_text(CLIENT, "b")
    calls = 0

    async def fail_on_second(event: IncomingEvent) -> None:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise RuntimeError("database unavailable")

    sink.before_commit = fail_on_second
    await adapter.start(sink)
    await telegram_api.wait_until(lambda: cursors.values.get(CURSOR) == str(second + 1))
    # "a" was committed, then redelivered with "b"; the inbox dedups on event_id.
    assert [e.event_id for e in sink.events] == [str(first), str(first), str(second)]
    assert cursors.history == [(CURSOR, str(second + 1))]


async def test_restart_after_a_crash_before_commit_loses_nothing(
    make_adapter: AdapterFactory,
    telegram_api: FakeTelegramApi,
    sink: RecordingSink,
    cursors: MemoryCursors,
) -> None:
    already = telegram_api.push_text(CLIENT, "committed before")
    first = make_adapter()
    await first.start(sink)
    await telegram_api.wait_until(lambda: cursors.values.get(CURSOR) == str(already + 1))

    broken = RecordingSink()
    broken.fail_times = 10**6  # the process dies before it can commit anything
    crashed = make_adapter()
    await first.stop()
    await crashed.start(broken)
    lost = telegram_api.push_text(CLIENT, "sent while the database was down")
    await telegram_api.wait_until(lambda: offsets_sent(telegram_api).count(already + 1) >= 3)
    await crashed.stop()

    restarted = make_adapter()
    await restarted.start(sink)
    await telegram_api.wait_until(lambda: len(sink.events) == 2)
    assert [e.event_id for e in sink.events] == [str(already), str(lost)]
    assert cursors.values[CURSOR] == str(lost + 1)


async def test_saved_cursor_is_used_after_restart(
    make_adapter: AdapterFactory,
    telegram_api: FakeTelegramApi,
    sink: RecordingSink,
    cursors: MemoryCursors,
) -> None:
    cursors.values[CURSOR] = "123"
    adapter = make_adapter()
    await adapter.start(sink)
    await telegram_api.wait_until(lambda: bool(telegram_api.calls_to("getUpdates")))
    assert offsets_sent(telegram_api)[0] == 123


async def test_button_press_is_answered_after_commit_and_buttons_removed(
    adapter: TelegramAdapter, telegram_api: FakeTelegramApi, sink: RecordingSink
) -> None:
    calls_at_commit: list[int] = []

    async def note(event: IncomingEvent) -> None:
        calls_at_commit.append(len(telegram_api.calls))

    sink.before_commit = note
    await adapter.start(sink)
    receipt = await adapter.send(
        OutgoingMessage(
            outbox_id=1,
            platform="telegram",
            address=str(CLIENT),
            text="Would you like to share feedback?",
            choices=(Choice("consent:yes", "Yes"), Choice("consent:no", "Not now")),
        )
    )
    assert receipt.platform_message_id is not None
    message_id = int(receipt.platform_message_id)
    assert "reply_markup" in telegram_api.message(CLIENT, message_id)

    update_id = telegram_api.push_callback(CLIENT, message_id, "consent:yes")
    await telegram_api.wait_until(lambda: telegram_api.callback_answered(update_id))
    await telegram_api.wait_until(
        lambda: "reply_markup" not in telegram_api.message(CLIENT, message_id)
    )
    assert [(e.kind, e.choice_id) for e in sink.events] == [(EventKind.CHOICE, "consent:yes")]
    answer = telegram_api.calls_to("answerCallbackQuery")[0]
    assert telegram_api.calls.index(answer) >= calls_at_commit[0]
    assert telegram_api.message(CLIENT, message_id)["text"] == "Would you like to share feedback?"


async def test_callback_is_not_answered_when_the_commit_failed(
    adapter: TelegramAdapter, telegram_api: FakeTelegramApi, sink: RecordingSink
) -> None:
    sink.fail_times = 1
    await adapter.start(sink)
    receipt = await adapter.send(
        OutgoingMessage(1, "telegram", str(CLIENT), "Ready?", choices=(Choice("r", "Ready"),))
    )
    assert receipt.platform_message_id is not None
    update_id = telegram_api.push_callback(CLIENT, int(receipt.platform_message_id), "r")
    await telegram_api.wait_until(lambda: telegram_api.callback_answered(update_id))
    # The first attempt failed; the one answer came with the successful commit.
    assert len(telegram_api.calls_to("answerCallbackQuery")) == 1
    assert len(sink.events) == 1


async def test_conflict_stops_polling_with_one_clear_log_line(
    adapter: TelegramAdapter,
    telegram_api: FakeTelegramApi,
    sink: RecordingSink,
    caplog: pytest.LogCaptureFixture,
) -> None:
    telegram_api.conflict(count=1)
    with caplog.at_level(logging.ERROR, logger="adapters.telegram"):
        await adapter.start(sink)
        await eventually(lambda: not adapter.is_connected())
        await asyncio.sleep(0.3)  # many backoff periods: a retrying poller would show here
    assert len(telegram_api.calls_to("getUpdates")) == 1
    lines = [r.getMessage() for r in caplog.records if r.name.startswith("adapters.telegram")]
    assert len(lines) == 1
    assert "polling stopped" in lines[0]
    assert CONFLICT_OTHER_POLLER in lines[0]


async def test_a_second_poller_with_the_same_token_stops_the_first(
    make_adapter: AdapterFactory, telegram_api: FakeTelegramApi, sink: RecordingSink
) -> None:
    first = make_adapter()
    await first.start(sink)
    await telegram_api.wait_until(lambda: len(telegram_api.calls_to("getUpdates")) == 1)
    second = make_adapter()
    await second.start(RecordingSink())
    await eventually(lambda: not first.is_connected())
    assert second.is_connected()


async def test_server_errors_while_polling_back_off_and_recover(
    adapter: TelegramAdapter, telegram_api: FakeTelegramApi, sink: RecordingSink
) -> None:
    telegram_api.add_fault(
        Fault(502, "Bad Gateway", methods=frozenset({"getupdates"}), remaining=3)
    )
    update_id = telegram_api.push_text(CLIENT, "after the outage")
    await adapter.start(sink)
    await telegram_api.wait_until(lambda: len(sink.events) == 1)
    polls = telegram_api.calls_to("getUpdates")
    assert [c.status for c in polls[:4]] == [502, 502, 502, 200]
    gaps = [b.at - a.at for a, b in zip(polls, polls[1:4], strict=False)]
    # Backoff 0.02 s doubling: the waits grow instead of hammering the server.
    assert gaps[0] >= 0.02 and gaps[1] >= 0.04 and gaps[2] >= 0.08
    assert sink.events[0].event_id == str(update_id)
    assert adapter.is_connected()


async def test_long_poll_waits_for_updates_instead_of_spinning(
    adapter: TelegramAdapter, telegram_api: FakeTelegramApi, sink: RecordingSink
) -> None:
    await adapter.start(sink)
    await telegram_api.wait_until(lambda: len(telegram_api.calls_to("getUpdates")) == 1)
    await asyncio.sleep(0.2)
    polls = telegram_api.calls_to("getUpdates")
    assert len(polls) == 1
    assert polls[0].params["timeout"] == 5
    assert set(polls[0].params["allowed_updates"]) >= {"message", "callback_query"}


async def test_stop_interrupts_a_long_poll_promptly(
    adapter: TelegramAdapter, telegram_api: FakeTelegramApi, sink: RecordingSink
) -> None:
    await adapter.start(sink)
    await telegram_api.wait_until(lambda: len(telegram_api.calls_to("getUpdates")) == 1)
    async with asyncio.timeout(2):  # the poll itself would last 5 s
        await adapter.stop()
    assert not adapter.is_connected()


async def test_a_webhook_left_over_is_removed_before_polling(
    adapter: TelegramAdapter, telegram_api: FakeTelegramApi, sink: RecordingSink
) -> None:
    telegram_api.webhook = {"url": "https://old.example/hook", "secret_token": "x"}
    update_id = telegram_api.push_text(CLIENT, "hi")
    await adapter.start(sink)
    await telegram_api.wait_until(lambda: len(sink.events) == 1)
    assert telegram_api.webhook is None
    assert telegram_api.calls_to("deleteWebhook")[0].params.get("drop_pending_updates") is False
    assert sink.events[0].event_id == str(update_id)


async def test_blocked_and_unblocked_arrive_as_events(
    adapter: TelegramAdapter, telegram_api: FakeTelegramApi, sink: RecordingSink
) -> None:
    await adapter.start(sink)
    telegram_api.push_my_chat_member(CLIENT, "kicked")
    telegram_api.push_my_chat_member(CLIENT, "member", old_status="kicked")
    await telegram_api.wait_until(lambda: len(sink.events) == 2)
    assert [e.kind for e in sink.events] == [EventKind.BLOCKED, EventKind.UNBLOCKED]


async def test_stop_during_a_stuck_commit_leaves_the_update_with_telegram(
    adapter: TelegramAdapter,
    telegram_api: FakeTelegramApi,
    sink: RecordingSink,
    cursors: MemoryCursors,
) -> None:
    committing = asyncio.Event()

    async def hang(event: IncomingEvent) -> None:
        committing.set()
        await asyncio.Event().wait()  # a database that never answers

    sink.before_commit = hang
    await adapter.start(sink)
    update_id = telegram_api.push_text(CLIENT, "mid-commit")
    async with asyncio.timeout(3):
        await committing.wait()
        await adapter.stop()  # grace is 1 s in these tests
    assert telegram_api.pending_update_ids == [update_id]
    assert CURSOR not in cursors.values


async def test_a_refusing_inbox_gets_growing_waits_and_every_update_of_the_batch(
    adapter: TelegramAdapter, telegram_api: FakeTelegramApi, sink: RecordingSink
) -> None:
    """While the inbox refuses a batch, the poller's wait grows (it is not reset by the
    fetch that brought the batch back), and every update of it is handed over each time,
    not only the first: the inbox screens each one."""
    seen: list[str] = []

    async def note(event: IncomingEvent) -> None:
        seen.append(event.event_id)

    sink.before_commit = note
    sink.fail_times = 8  # two updates, four tries
    first = telegram_api.push_text(CLIENT, "one")
    second = telegram_api.push_text(CLIENT, "two")
    await adapter.start(sink)
    await telegram_api.wait_until(lambda: len(sink.events) == 2)
    assert seen[:4] == [str(first), str(second)] * 2
    polls = telegram_api.calls_to("getUpdates")
    gaps = [b.at - a.at for a, b in zip(polls, polls[1:4], strict=False)]
    # Backoff 0.02 s doubling, as for network errors.
    assert gaps[0] >= 0.02 and gaps[1] >= 0.04 and gaps[2] >= 0.08
    assert telegram_api.pending_update_ids == []
