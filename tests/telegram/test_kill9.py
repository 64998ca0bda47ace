"""``kill -9`` between receiving a Telegram update and committing it: the bot runs as a real
process against the fake Bot API (served from this test process), dies inside the inbox
write, and a second process handles the update exactly once.

The module name is not ``test_telegram_*`` like its neighbours: it is unique anyway
(``tests/matrix/test_kill9.py`` is imported as ``tests.matrix.test_kill9``).
"""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Any

from sqlalchemy import select

from feedback_bot.app.bootstrap import build_app
from feedback_bot.privacy.crypto import generate_key
from feedback_bot.storage.models import FeedbackItem, InboxEvent
from tests import harness
from tests.crash_runner import DYING_NOTE, BotProcess, bot_env, outbox, quiet, wait_for
from tests.fakes.telegram_api import FakeTelegramApi
from tests.telegram.app_harness import visible
from tests.telegram.killed_bot import WAIT, Chat, bot_settings

ALEX = 2002
MARKER = "KILL9-MARKER-7f3a"


def send_calls(api: FakeTelegramApi, since: int = 0) -> list[Any]:
    return [c for c in api.calls[since:] if c.method.lower().startswith("send")]


async def test_update_lost_to_kill9_before_commit_is_answered_once_after_restart(
    tmp_path: Path,
) -> None:
    began = time.monotonic()
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite3'}"
    key = generate_key()
    api = FakeTelegramApi()
    await api.start()
    env = bot_settings(database_url, key, api)
    # The admin side, in this process, on the same SQLite file the bot will use.
    app = await build_app(harness.settings_for(database_url, encryption_key=key))
    running: list[BotProcess] = []
    try:
        practice = await app.admin.create_practice("Riverside Practice", "Europe/London")
        practitioner_id, _ = await app.admin.add_practitioner(practice, "Sam")
        invite = await app.admin.invite_client(practitioner_id, "Alex")

        def t(key: str) -> str:
            return app.catalog.t(key, "en", p="/", practitioner="Sam")

        first = BotProcess("bot-1", tmp_path, bot_env(env, marker=MARKER))
        running.append(first)
        alex = Chat(api, running, ALEX, "Alex")
        await alex.command("start", invite.code, until="I agree")
        await alex.press("I agree", until="No, thank you")
        await alex.press("No, thank you", until=t("onboarding.done")[:40])
        # Settled: every update confirmed to Telegram, processed, and its replies sent.
        await wait_for("the first process to settle", lambda: quiet(app), WAIT, (first,))
        await wait_for("all updates confirmed", lambda: not api.pending_update_ids, WAIT)
        delivered_before = [(m["message_id"], visible(m)) for m in api.sent(ALEX)]
        outbox_before = await outbox(app)
        calls_before = len(api.calls)
        settled_at = time.monotonic()

        text = f"the last session felt rushed {MARKER}"
        update_id = api.push_text(ALEX, text)
        code = await first.wait_exit(WAIT)
        killed_at = time.monotonic()
        calls_at_kill = len(api.calls)

        assert code == -signal.SIGKILL, first.output()
        assert DYING_NOTE.decode().strip() in first.output()
        assert update_id in api.pending_update_ids  # its offset was never confirmed
        async with app.sessions() as session:
            stored = (await session.execute(select(InboxEvent.event_id))).scalars().all()
        assert str(update_id) not in stored  # killed after its INSERT, before its COMMIT
        assert send_calls(api, calls_before) == []  # nothing was answered yet

        second = BotProcess("bot-2", tmp_path, bot_env(env))
        running.append(second)
        [answer] = await alex.reply(until=t("feedback.ask_valence")[:30])
        answered_at = time.monotonic()
        await wait_for("the second process to settle", lambda: quiet(app), WAIT, (second,))
        await wait_for("the update confirmed", lambda: not api.pending_update_ids, WAIT)
        assert await second.stop() == 0, second.output()
        assert "ERROR" not in second.log.read_text(), second.output()  # a clean stop

        # Telegram gave it again because the restarted bot asked from the unconfirmed offset.
        polls = [c for c in api.calls[calls_at_kill:] if c.method.lower() == "getupdates"]
        assert polls[0].params.get("offset") == update_id
        # Answered exactly once, and nothing process 1 had delivered was delivered again.
        after = send_calls(api, calls_before)
        assert [(c.method, c.chat_id, c.status) for c in after] == [("sendMessage", ALEX, 200)]
        assert after[0].params["text"] == answer["text"]
        assert [(m["message_id"], visible(m)) for m in api.sent(ALEX)] == [
            *delivered_before,
            (answer["message_id"], visible(answer)),
        ]
        outbox_after = await outbox(app)
        assert outbox_after[: len(outbox_before)] == outbox_before  # not one resend attempt
        assert [(s, a) for _, s, a in outbox_after[len(outbox_before) :]] == [("sent", 1)]
        # Stored exactly once: one inbox row, one feedback item holding the words.
        async with app.sessions() as session:
            rows = (
                await session.execute(
                    select(InboxEvent.status).where(
                        InboxEvent.platform == "telegram", InboxEvent.event_id == str(update_id)
                    )
                )
            ).all()
            items = (await session.execute(select(FeedbackItem))).scalars().all()
        assert [r.status for r in rows] == ["done"]
        assert len(items) == 1 and items[0].text_enc is not None
        assert app.vault.open("feedback_item", "text", items[0].uid, items[0].text_enc) == text
        print(
            f"\ntelegram kill -9: set-up {settled_at - began:.1f} s, "
            f"marker → SIGKILL {killed_at - settled_at:.1f} s, "
            f"restart → answer {answered_at - killed_at:.1f} s"
        )
    finally:
        for process in running:
            process.kill()
        await app.close()
        await api.stop()
