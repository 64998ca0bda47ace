"""The delivery loop is woken as soon as a turn's transaction commits (the reply can go
out at once), not after the processor has asked the inbox for the next event."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event

from tests.harness import Harness


async def test_each_committed_turn_wakes_the_delivery_loop_before_the_next_inbox_read(
    bot: Harness,
) -> None:
    pid = await bot.practitioner("dr", name="Sam")
    for who in ("a", "b"):
        await bot.client(who, pid)
        bot.new_messages(who)
    inbox_reads: list[str] = []

    def counted(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT INBOX.ID"):
            inbox_reads.append(statement)

    woken: list[int] = []  # inbox reads so far, at each wake
    bot.app.processor._on_committed = lambda: woken.append(len(inbox_reads))
    engine = bot.app.engine.sync_engine
    event.listen(engine, "before_cursor_execute", counted)
    try:
        await bot.console.say("a", "the end of the session felt rushed")
        await bot.console.say("b", "the room was too cold")
        assert await bot.app.process_inbox() == 2
    finally:
        event.remove(engine, "before_cursor_execute", counted)
    # Woken after the first turn (one inbox read so far), then after the second; the
    # inbox is asked a third time only after both (and finds nothing).
    assert woken == [1, 2]
    assert len(inbox_reads) == 3


async def test_the_apps_delivery_loop_is_what_a_committed_turn_wakes(bot: Harness) -> None:
    pid = await bot.practitioner("dr", name="Sam")
    await bot.client("a", pid)
    bot.new_messages("a")
    bot.app._send.clear()
    await bot.console.say("a", "the end of the session felt rushed")
    assert not bot.app._send.is_set(), "receiving alone queues nothing"
    assert await bot.app.process_inbox() == 1
    assert bot.app._send.is_set()
