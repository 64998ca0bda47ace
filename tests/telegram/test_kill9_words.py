"""Nothing is stranded when the bot dies (``kill -9``) while clients write: three clients
write over Telegram, the bot process is killed inside an inbox write again and again and
restarted, nobody presses a single button, and afterwards the clock files every draft so
that each word reaches the practitioner's digest.

A real process against the fake Bot API, as in ``test_kill9``; the clock's part runs in
this process afterwards, days later on a fake clock, on the same database.
"""

from __future__ import annotations

import signal
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from feedback_bot.app.bootstrap import build_app
from feedback_bot.privacy.crypto import generate_key
from feedback_bot.scheduling.clock import FakeClock
from feedback_bot.storage.models import FeedbackItem
from tests import harness
from tests.crash_runner import BotProcess, bot_env, quiet, wait_for
from tests.fakes.telegram_api import FakeTelegramApi
from tests.telegram.killed_bot import WAIT, Chat, bot_settings

SAM = 1001
CLIENTS = {2002: "Alex", 2003: "Kim", 2004: "Robin"}
ROUNDS = 6


async def test_kill9_while_three_clients_write_strands_no_word(tmp_path: Path) -> None:
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite3'}"
    key = generate_key()
    api = FakeTelegramApi()
    await api.start()
    env = bot_settings(database_url, key, api)
    app = await build_app(harness.settings_for(database_url, encryption_key=key))
    running: list[BotProcess] = []
    written: dict[int, list[str]] = {chat: [] for chat in CLIENTS}
    try:
        practice = await app.admin.create_practice("Riverside Practice", "Europe/London")
        practitioner_id, code = await app.admin.add_practitioner(practice, "Sam")
        bot = BotProcess("bot-0", tmp_path, bot_env(env, marker="KILL9-ROUND-0"))
        running.append(bot)
        await Chat(api, running, SAM, "Sam").command("start", code, until="/digest")
        ids: dict[int, int] = {}
        for chat, name in CLIENTS.items():
            client = Chat(api, running, chat, name)
            invite = await app.admin.invite_client(practitioner_id, name)
            ids[chat] = invite.client_id
            await client.command("start", invite.code, until="I agree")
            await client.press("I agree", until="No, thank you")
            await client.press("No, thank you", until="all set")

        for round_ in range(ROUNDS):
            marker = f"KILL9-ROUND-{round_}"
            chats = list(CLIENTS)
            dying = chats[round_ % len(chats)]
            for chat in chats:
                if chat != dying:
                    text = f"{CLIENTS[chat]} writes in round {round_}"
                    api.push_text(chat, text)
                    written[chat].append(text)
            text = f"{CLIENTS[dying]} writes as the bot dies, round {round_} {marker}"
            api.push_text(dying, text)
            written[dying].append(text)
            assert await bot.wait_exit(WAIT) == -signal.SIGKILL, bot.output()
            last = round_ + 1 == ROUNDS
            bot = BotProcess(
                f"bot-{round_ + 1}",
                tmp_path,
                bot_env(env, marker=None if last else f"KILL9-ROUND-{round_ + 1}"),
            )
            running.append(bot)
        await wait_for("every update confirmed", lambda: not api.pending_update_ids, WAIT, (bot,))
        await wait_for("the last process to settle", lambda: quiet(app), WAIT, (bot,))
        assert await bot.stop() == 0, bot.output()
    finally:
        for process in running:
            process.kill()
        await app.close()
        await api.stop()

    # Days later, nobody having pressed anything: the clock nudges once, then files.
    clock = FakeClock(datetime.now(UTC).replace(hour=12, minute=0) + timedelta(days=1))
    later = await build_app(harness.settings_for(database_url, encryption_key=key), clock=clock)
    try:
        await later.tick()  # the nudges
        clock.advance(timedelta(days=1))
        await later.tick()  # the drafts filed
        for _ in range(8 * 24):  # a week of the clock's beats: the weekly digest
            clock.advance(timedelta(hours=1))
            await later.tick()
        async with later.sessions() as session:
            items = (await session.execute(select(FeedbackItem))).scalars().all()
        assert [i.status for i in items if i.status == "draft"] == []
        reached = {
            i.client_id: later.vault.open("feedback_item", "text", i.uid, i.text_enc or "")
            for i in items
            if i.digest_id is not None and i.text_enc is not None
        }
        for chat, texts in written.items():
            for text in texts:
                assert text in reached.get(ids[chat], ""), (text, reached)
    finally:
        await later.close()
