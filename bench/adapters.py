"""Adapter overhead: the time per update through the whole bot vs a bare framework echo bot,
on the same loopback fake Bot API (``tests/fakes/telegram_api.py``, served from this
process, so both sides share its cost).

What one sample measures, the same on both sides: from the moment an update is queued at
the fake server (``getUpdates`` can return it; both sides are already long-polling) to the
moment the fake server has received the bot's ``sendMessage`` reply to it. Both sides run
as they do in production, persistent and long-polling with the same timeout:

* **bare**: python-telegram-bot's ``Application`` with one ``MessageHandler`` that replies
  to the text (an echo bot: no database, nothing else);
* **ours**: ``build_app`` + ``App.start`` with the Telegram adapter on a SQLite file (or
  PostgreSQL). The update is a free-text message from a linked, consenting client, so the
  path is: adapter → inbox commit → engine (a draft opened, the first question chosen) →
  outbox row in the same transaction → dispatcher → ``sendMessage``.

Updates are sent one at a time, each from its own chat, with a pause after each reply, so
no pacing limit (1 message/s per chat, 30/s overall) ever waits and nothing queues
behind anything: the figure is latency per update, not throughput. Our bot runs its
rounds first, then the bare bot (one poller per token at a time, as Telegram allows).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import SecretStr

from bench.common import Backend, bench_settings
from bench.stats import median

NAMES = {"telegram": "Telegram", "matrix": "Matrix", "sqlite": "SQLite", "postgres": "PostgreSQL"}
POLL_TIMEOUT = 10  # seconds a getUpdates may wait: the same for both sides
PAUSE = 0.05  # seconds between a reply and the next update (pacing never waits)
CHAT_PREFIX = "9"  # seeded client i chats at Telegram chat id 9i (9, 90, 91, …)


@dataclass
class OverheadResult:
    platform: str
    backend: str
    updates: int
    # seconds per update, one list per round
    bare_s: list[list[float]] = field(default_factory=list)
    ours_s: list[list[float]] = field(default_factory=list)
    bare_cpu_ms: list[float] = field(default_factory=list)  # process CPU per update
    ours_cpu_ms: list[float] = field(default_factory=list)
    statements: float = 0.0  # SQL statements per update on our path


def flat(rounds: list[list[float]]) -> list[float]:
    return [x for r in rounds for x in r]


async def _timed(
    api: Any, chats: list[int], text: str, expect: Callable[[dict[str, Any]], bool]
) -> tuple[list[float], float]:
    """Per-update latency for one message from each chat; and CPU ms per update."""
    out: list[float] = []
    cpu0 = time.process_time()
    for chat in chats:
        before = len(api.sent(chat))

        def replied(chat: int = chat, before: int = before) -> bool:
            return any(expect(m) for m in api.sent(chat)[before:])

        t0 = time.perf_counter()
        api.push_text(chat, text)
        await api.wait_until(replied, within=30)
        out.append(time.perf_counter() - t0)
        await asyncio.sleep(PAUSE)
    return out, (time.process_time() - cpu0) * 1000 / len(chats)


@contextlib.asynccontextmanager
async def bare_ptb(api: Any) -> AsyncIterator[None]:
    from telegram import Update
    from telegram.ext import Application, ContextTypes, MessageHandler, filters

    async def echo(update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.message is not None and update.message.text is not None
        await update.message.reply_text(update.message.text)

    app = Application.builder().token(api.token).base_url(api.base_url).build()
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, echo))
    await app.initialize()
    await app.start()
    assert app.updater is not None
    await app.updater.start_polling(poll_interval=0.0, timeout=POLL_TIMEOUT)
    try:
        yield
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()


@contextlib.asynccontextmanager
async def our_bot(api: Any, url: str, chats: list[int]) -> AsyncIterator[Callable[[], int]]:
    """The whole bot, started; ``chats`` are linked, consenting clients' Telegram chats.
    Yields a function returning the number of SQL statements run so far."""
    from sqlalchemy import event

    from adapters.telegram import TelegramAdapter
    from adapters.telegram.settings import TelegramSettings
    from bench.seed import seed_clients
    from feedback_bot.app.bootstrap import build_app
    from feedback_bot.ports import CursorStore
    from feedback_bot.scheduling.clock import SystemClock

    base = bench_settings(url)
    telegram = TelegramSettings(
        token=SecretStr(api.token),
        base_url=api.base_url,
        bot_username=api.username,
        poll_timeout=POLL_TIMEOUT,
    )
    settings = base.model_copy(update={"telegram": telegram})

    def factory(cursors: CursorStore) -> TelegramAdapter:
        return TelegramAdapter(settings.telegram, cursors)

    app = await build_app(settings, adapters=[factory], clock=SystemClock())
    counter = [0]

    def count(*_: object) -> None:
        counter[0] += 1

    try:
        await seed_clients(
            app.sessions,
            app.config,
            len(chats),
            now=app.clock.now(),
            platform="telegram",
            prefix=CHAT_PREFIX,
        )
        # Every engine: the inbox and the platform cursor have one of their own.
        for engine in [app.engine] + ([app.receiving] if app.receiving is not None else []):
            event.listen(engine.sync_engine, "before_cursor_execute", count)
        await app.start()
        yield lambda: counter[0]
    finally:
        await app.close()


async def run_telegram_overhead(backend: Backend, *, updates: int, rounds: int) -> OverheadResult:
    from tests.fakes.telegram_api import FakeTelegramApi

    result = OverheadResult("telegram", backend.name, updates)
    api = FakeTelegramApi()
    await api.start()
    try:
        async with backend.database() as url:
            chats = [int(f"{CHAT_PREFIX}{i}") for i in range(updates * rounds * 2 + 2)]
            for chat in chats:
                api.add_private_chat(chat, f"C{chat}")
            half = updates * rounds + 1
            ours_chats, bare_chats = iter(chats[:half]), iter(chats[half:])
            async with our_bot(api, url, chats[:half]) as statements:
                # Warm-up (imports, first connections, the catalog) on both sides, untimed.
                await _one_round(api, our=True, chats=[next(ours_chats)], result=None)
                for _ in range(rounds):
                    n0 = statements()
                    await _one_round(
                        api,
                        our=True,
                        chats=[next(ours_chats) for _ in range(updates)],
                        result=result,
                    )
                    result.statements = (statements() - n0) / updates
            # PTB runs while our bot is stopped: one poller per token, as Telegram allows.
            async with bare_ptb(api):
                await _one_round(api, our=False, chats=[next(bare_chats)], result=None)
                for _ in range(rounds):
                    await _one_round(
                        api,
                        our=False,
                        chats=[next(bare_chats) for _ in range(updates)],
                        result=result,
                    )
    finally:
        await api.stop()
    return result


async def _one_round(
    api: Any, *, our: bool, chats: list[int], result: OverheadResult | None
) -> None:
    text = "the room was too cold today"

    def expect(m: dict[str, Any]) -> bool:
        return bool(m.get("text"))

    lat, cpu = await _timed(api, chats, text, expect)
    if result is None:
        return
    (result.ours_s if our else result.bare_s).append(lat)
    (result.ours_cpu_ms if our else result.bare_cpu_ms).append(cpu)


def overhead_summary(r: OverheadResult) -> dict[str, float]:
    ours, bare = median(flat(r.ours_s)) * 1000, median(flat(r.bare_s)) * 1000
    return {
        "ours_ms": ours,
        "bare_ms": bare,
        "ratio": ours / bare if bare else float("nan"),
        "ours_cpu_ms": median(r.ours_cpu_ms),
        "bare_cpu_ms": median(r.bare_cpu_ms),
        "statements": r.statements,
    }


def overhead_lines(results: list[OverheadResult]) -> list[str]:
    if not results:
        return []
    out = [
        "### 5. Adapter overhead: our path vs the bare framework",
        "",
        "Per update, from the update queued at the loopback fake Bot API (both bots already "
        "long-polling) to the bot's reply received there; one update at a time, each from "
        "its own chat (`bench/adapters.py`). *Bare*: a python-telegram-bot echo handler. "
        "*Ours*: the whole bot (Telegram adapter, inbox commit, engine, outbox, dispatcher) "
        "answering a client's free text. CPU is this process's, fake server included.",
        "",
        "| platform | database | updates | ours ms (median, range) | bare ms (median, range) "
        "| **ours / bare** | CPU ms/update ours / bare | SQL statements per update |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        s = overhead_summary(r)
        ours, bare = flat(r.ours_s), flat(r.bare_s)
        out.append(
            f"| {NAMES[r.platform]} | {NAMES[r.backend]} | {len(ours)} | {s['ours_ms']:.0f} "
            f"({min(ours) * 1000:.0f}–{max(ours) * 1000:.0f}) | {s['bare_ms']:.0f} "
            f"({min(bare) * 1000:.0f}–{max(bare) * 1000:.0f}) | **×{s['ratio']:.1f}** | "
            f"{s['ours_cpu_ms']:.0f} / {s['bare_cpu_ms']:.0f} | {s['statements']:.0f} |"
        )
    out.append("")
    if any(r.platform == "matrix" for r in results):
        out += [
            "Matrix (`bench/adapters_matrix.py`): from the person's client starting to send a "
            "text in an end-to-end encrypted DM to its sync loop holding the decrypted reply, "
            "on the local Synapse; *bare* is a matrix-nio echo bot (E2E too).",
            "",
        ]
    else:
        out += ["Matrix was not measured in this run (Synapse could not be started).", ""]
    return out
