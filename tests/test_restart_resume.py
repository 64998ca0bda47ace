"""An event committed to the inbox by a worker that died before handling it is handled
soon: by the same worker's next life as it starts, or by another worker at its next beat.

Nothing new arrives for such an event: the platform hands it over again, but the inbox
drops the copy, so only these two wake-ups stand between it and the next message anyone
writes (issue 11, point 16: on Matrix it was answered ~43 s after a restart)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from feedback_bot.conversation.commands import Role
from tests.harness import Harness, help_text, make_harness

WITHIN = 5.0  # seconds; it takes a fraction of one


async def answered(bot: Harness, who: str, text: str) -> bool:
    """Waits (event loop free) until a message holding ``text`` reached ``who``, at most
    WITHIN seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WITHIN
    while not any(text in m.text for m in bot.console.sent[who]):
        if loop.time() > deadline:
            return False
        await asyncio.sleep(0.02)
    return True


async def linked_client(bot: Harness) -> None:
    pid = await bot.practitioner()
    await bot.client("a", pid)


async def another_life(bot: Harness, tmp: Path) -> Harness:
    """A second app on the same database and key (a restart, or another worker)."""
    return await make_harness(
        bot.app.settings.database_url,
        tmp,
        bot.clock.now(),
        encryption_key=bot.app.settings.encryption_key,
    )


async def test_an_event_its_last_life_committed_but_did_not_handle_is_handled_at_start(
    bot: Harness, tmp_path: Path
) -> None:
    await linked_client(bot)
    await bot.console.say("a", "!help")  # committed to the inbox; the process dies here
    assert not any(help_text(bot, Role.CLIENT) in m.text for m in bot.console.sent["a"])
    await bot.close()

    again = await another_life(bot, tmp_path / "again")
    try:
        await again.app.start()  # no one writes anything
        assert await answered(again, "a", help_text(again, Role.CLIENT))
    finally:
        await again.close()


async def test_a_beat_handles_an_event_another_worker_committed_and_died_with(
    bot: Harness, tmp_path: Path
) -> None:
    await linked_client(bot)
    survivor = await another_life(bot, tmp_path / "survivor")
    try:
        await survivor.app.start()
        await bot.console.say("a", "!help")  # the other worker commits it, then dies
        await bot.close()
        await survivor.app.tick()
        assert await answered(survivor, "a", help_text(survivor, Role.CLIENT))
    finally:
        await survivor.close()
