"""Three workers on one PostgreSQL database, each a real ``feedback-bot run`` process with
the Telegram adapter, deliver a backlog for 300 chats through the fake Bot API, which
enforces Telegram's limits (1 message per second per chat, 30 per second in all) with 429s.

The limits hold for the deployment, not per process: no chat gets two messages within a
second, the bot never more than 30, and the server never has to answer 429. Every message
arrives once, in its chat's order. A worker killed with SIGKILL mid-send loses nothing: its
claims and pacing tokens lapse with its lease and the others carry on with its chats.
"""

from __future__ import annotations

import secrets
import socket
import time
from collections import Counter
from pathlib import Path

from sqlalchemy import func, select

from feedback_bot.app.bootstrap import App, build_app
from feedback_bot.delivery.outbox import enqueue
from feedback_bot.privacy.crypto import generate_key
from feedback_bot.storage.models import OutboxMessage
from feedback_bot.storage.states import OutboxStatus
from tests import harness
from tests.crash_runner import BotProcess, bot_env, wait_for
from tests.fakes.telegram_api import DEFAULT_TOKEN, FakeTelegramApi

CHATS = 300
PER_CHAT = 2  # 600 messages: 20 s at the platform's 30 per second
FIRST_CHAT = 5_000_000
LEASE = 6  # seconds; FEEDBACK_BOT_SCHEDULING__SENDING_STALE_SECONDS
WAIT = 240.0  # seconds; every wait is bounded by this (a busy machine is slow, not wrong)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def text_for(chat: int, n: int) -> str:
    return f"message {n} for chat {chat}"


async def start_workers(
    api: FakeTelegramApi, database_url: str, key: str, tmp_path: Path
) -> list[BotProcess]:
    workers = []
    for i in range(3):
        port = free_port()
        env = {
            "FEEDBACK_BOT_DATABASE_URL": database_url,
            "FEEDBACK_BOT_ENCRYPTION_KEY": key,
            "FEEDBACK_BOT_PROMPTS_FILE": str(harness.REPO / "config" / "prompts.yaml"),
            "FEEDBACK_BOT_LOG_LEVEL": "INFO",
            "FEEDBACK_BOT_WORKER_NAME": f"worker-{i}",
            "FEEDBACK_BOT_TELEGRAM__TOKEN": DEFAULT_TOKEN,
            "FEEDBACK_BOT_TELEGRAM__BASE_URL": api.base_url,
            # Several workers behind one webhook URL (polling allows one poller per bot).
            "FEEDBACK_BOT_TELEGRAM__MODE": "webhook",
            "FEEDBACK_BOT_TELEGRAM__WEBHOOK_URL": f"http://127.0.0.1:{port}/telegram",
            "FEEDBACK_BOT_TELEGRAM__WEBHOOK_PORT": str(port),
            "FEEDBACK_BOT_TELEGRAM__WEBHOOK_SECRET": secrets.token_urlsafe(32),
            "FEEDBACK_BOT_SCHEDULING__SENDING_STALE_SECONDS": str(LEASE),
        }
        workers.append(BotProcess(f"worker-{i}", tmp_path, bot_env(env)))
    for worker in workers:
        await worker.wait_running(WAIT)
    return workers


async def queue_backlog(app: App) -> None:
    """Round-robin over the chats, as a burst of check-ins would be queued."""
    now = app.clock.now()
    async with app.sessions() as session, session.begin():
        for n in range(PER_CHAT):
            for chat in range(FIRST_CHAT, FIRST_CHAT + CHATS):
                enqueue(
                    session,
                    app.vault,
                    platform="telegram",
                    address=str(chat),
                    text=text_for(chat, n),
                    now=now,
                )


async def unsent(app: App) -> int:
    async with app.sessions() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.status != OutboxStatus.SENT)
        )
    return int(count or 0)


async def claimed_by(app: App) -> set[str]:
    async with app.sessions() as session:
        workers = (await session.execute(select(OutboxMessage.claimed_by))).scalars()
        return {w.split("/")[0] for w in workers if w}


def received(api: FakeTelegramApi) -> Counter[str]:
    return Counter(m["text"] for m in api.sent())


async def set_up(postgres_url: str) -> tuple[FakeTelegramApi, App, str]:
    api = FakeTelegramApi()
    await api.start()
    api.enforce_limits(per_chat=1.0, overall=30.0)
    for chat in range(FIRST_CHAT, FIRST_CHAT + CHATS):
        api.add_private_chat(chat)
    key = generate_key()
    # Migrates the database before the workers start; queues the backlog from here.
    app = await build_app(harness.settings_for(postgres_url, encryption_key=key))
    return api, app, key


def assert_limits_held(api: FakeTelegramApi) -> None:
    assert api.too_many_requests() == [], "the platform had to refuse sends"
    assert api.busiest_chat_window() == 1, "a chat got two messages within a second"
    assert api.busiest_window() <= 30, "the bot sent more than 30 messages within a second"


async def test_three_workers_keep_the_platform_limits_and_send_each_message_once(
    postgres_url: str, tmp_path: Path
) -> None:
    api, app, key = await set_up(postgres_url)
    workers: list[BotProcess] = []
    try:
        workers = await start_workers(api, postgres_url, key, tmp_path)
        began = time.monotonic()
        await queue_backlog(app)

        async def done() -> bool:
            return await unsent(app) == 0

        await wait_for("the backlog to be delivered", done, WAIT, tuple(workers))
        took = time.monotonic() - began

        assert_limits_held(api)
        expected = {
            text_for(c, n) for c in range(FIRST_CHAT, FIRST_CHAT + CHATS) for n in range(PER_CHAT)
        }
        got = received(api)
        assert set(got) == expected and set(got.values()) == {1}, "each message exactly once"
        for chat in range(FIRST_CHAT, FIRST_CHAT + CHATS):
            assert api.texts(chat) == [text_for(chat, n) for n in range(PER_CHAT)], "in order"
        assert await claimed_by(app) == {"worker-0", "worker-1", "worker-2"}, "all took part"
        for worker in workers:
            assert await worker.stop() == 0, worker.output()
            assert "ERROR" not in worker.log.read_text(), worker.output()
        print(
            f"\nthree workers: {CHATS * PER_CHAT} messages in {took:.1f} s "
            f"({CHATS * PER_CHAT / took:.1f}/s), busiest second {api.busiest_window()}, "
            f"busiest chat second {api.busiest_chat_window()}"
        )
    finally:
        for worker in workers:
            worker.kill()
        await app.close()
        await api.stop()


async def test_a_worker_killed_mid_send_loses_nothing_and_its_chats_go_on_within_seconds(
    postgres_url: str, tmp_path: Path
) -> None:
    api, app, key = await set_up(postgres_url)
    # One send hangs at the server: whoever sends it is killed while it is in flight.
    target = FIRST_CHAT + CHATS // 2
    api.delay(3.0, count=1, method="sendMessage", chat_id=target)
    target_hash = app.vault.keyed_hash("telegram", str(target))
    workers: list[BotProcess] = []
    try:
        workers = await start_workers(api, postgres_url, key, tmp_path)
        await queue_backlog(app)

        def target_in_flight() -> bool:
            return any(c.chat_id == target and c.status is None for c in api.calls)

        await wait_for("the send to hang", target_in_flight, WAIT, tuple(workers))
        async with app.sessions() as session:
            holder = await session.scalar(
                select(OutboxMessage.claimed_by).where(
                    OutboxMessage.address == target_hash,
                    OutboxMessage.status == OutboxStatus.SENDING,
                )
            )
        assert holder is not None
        victim = next(w for w in workers if holder.startswith(f"{w.name}/"))
        victim.popen.kill()  # SIGKILL: no finally, no shutdown
        killed_at = time.time()
        await victim.wait_exit(WAIT)
        async with app.sessions() as session:
            in_flight = list(
                (
                    await session.execute(
                        select(OutboxMessage.id, OutboxMessage.address).where(
                            OutboxMessage.claimed_by == holder,
                            OutboxMessage.status == OutboxStatus.SENDING,
                        )
                    )
                ).all()
            )
        chats_in_flight = {address for _, address in in_flight}
        assert target_hash in chats_in_flight
        survivors = tuple(w for w in workers if w is not victim)

        async def done() -> bool:
            return await unsent(app) == 0

        await wait_for("the backlog to be delivered", done, WAIT, survivors)

        assert_limits_held(api)
        expected = {
            text_for(c, n) for c in range(FIRST_CHAT, FIRST_CHAT + CHATS) for n in range(PER_CHAT)
        }
        got = received(api)
        assert set(got) == expected, "nothing lost"
        by_hash = {
            app.vault.keyed_hash("telegram", str(c)): c
            for c in range(FIRST_CHAT, FIRST_CHAT + CHATS)
        }
        victim_chats = {by_hash[h] for h in chats_in_flight}
        twice = {text for text, n in got.items() if n > 1}
        # Telegram has no idempotency key: only what the dead worker had in flight may
        # have arrived twice (the crash rule: a duplicate reply is kinder than a lost one).
        assert all(int(text.rsplit(" ", 1)[1]) in victim_chats for text in twice), twice
        assert len(twice) <= len(in_flight)
        # Its chats went on within the lease and a little: the first send to each after
        # the kill.
        first_after = {
            chat: min(at for at, c in api.send_times if c == chat and at > killed_at)
            for chat in victim_chats
            if any(c == chat and at > killed_at for at, c in api.send_times)
        }
        assert set(first_after) == victim_chats
        gap = max(first_after.values()) - killed_at
        assert gap <= LEASE + 10, gap
        print(
            f"\nkill -9: {len(in_flight)} row(s) in flight, their chats went on after "
            f"{min(first_after.values()) - killed_at:.1f}-{gap:.1f} s (lease {LEASE} s); "
            f"{len(twice)} sent twice"
        )
    finally:
        for worker in workers:
            worker.kill()
        await app.close()
        await api.stop()
