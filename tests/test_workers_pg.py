"""Several workers sharing PostgreSQL: each event handled once, each chat in order."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

from feedback_bot.conversation.turn import Turn
from tests.harness import make_harness


async def test_two_inbox_workers_keep_each_chat_in_order(postgres_url: str, tmp_path: Path) -> None:
    start = datetime(2026, 11, 16, 9, tzinfo=UTC)
    first = await make_harness(postgres_url, tmp_path / "a", start)
    key = first.app.settings.encryption_key
    second = await make_harness(postgres_url, tmp_path / "b", start, encryption_key=key)
    try:
        pid = await first.practitioner()
        for who in ("ann", "ben", "cat"):
            await first.client(who, pid)
        trace: dict[str, list[str]] = defaultdict(list)  # per chat: "+text" at start, "-" at end
        for h in (first, second):
            router = h.app.processor.router
            original = router.handle

            async def spy(turn: Turn, *, _orig=original, **kw) -> None:  # type: ignore[no-untyped-def]
                trace[turn.event.address].append("+" + (turn.event.text or ""))
                await asyncio.sleep(0.02)  # hold the row a moment: let the workers overlap
                await _orig(turn, **kw)
                trace[turn.event.address].append("-")

            router.handle = spy  # type: ignore[method-assign]
        sent: dict[str, list[str]] = defaultdict(list)
        for who in ("ann", "ben", "cat"):  # a burst per chat: the hardest case for order
            for i in range(6):
                text = f"{who} {i}"
                sent[who].append(text)
                await first.console.say(who, text)
        await asyncio.gather(first.app.process_inbox(), second.app.process_inbox())
        for who, texts in sent.items():
            # Each event once, in order, and never two of one chat's events at the same time.
            assert trace[who] == [x for t in texts for x in ("+" + t, "-")], trace[who]
    finally:
        await second.close()
        await first.close()
