"""The bot as a real process against the fake Bot API, for the ``kill -9`` tests: its
settings, and a private chat driven at the Bot API while processes die and restart."""

from __future__ import annotations

from typing import Any

from tests import harness
from tests.crash_runner import BotProcess, wait_for
from tests.fakes.telegram_api import DEFAULT_TOKEN, FakeTelegramApi
from tests.telegram.app_harness import visible

Json = dict[str, Any]
WAIT = 60.0  # seconds; every wait is bounded by this


def bot_settings(database_url: str, key: str, api: FakeTelegramApi) -> dict[str, str]:
    """What the bot process is configured with: the database, and fast polling and sending
    so that a test is not kept waiting on the real-time pacing."""
    return {
        "FEEDBACK_BOT_DATABASE_URL": database_url,
        "FEEDBACK_BOT_ENCRYPTION_KEY": key,
        "FEEDBACK_BOT_PROMPTS_FILE": str(harness.REPO / "config" / "prompts.yaml"),
        "FEEDBACK_BOT_LOG_LEVEL": "INFO",
        "FEEDBACK_BOT_TELEGRAM__TOKEN": DEFAULT_TOKEN,
        "FEEDBACK_BOT_TELEGRAM__BASE_URL": api.base_url,
        "FEEDBACK_BOT_TELEGRAM__POLL_TIMEOUT": "2",
        "FEEDBACK_BOT_TELEGRAM__PER_CHAT_PER_SECOND": "20",
        "FEEDBACK_BOT_SCHEDULING__DISPATCH_SECONDS": "0.2",
    }


class Chat:
    """Someone's private chat, driven at the Bot API the way the Telegram app would."""

    def __init__(self, api: FakeTelegramApi, bots: list[BotProcess], chat_id: int, name: str):
        self.api, self.bots, self.chat_id = api, bots, chat_id  # the last bot is answering
        api.add_private_chat(chat_id, name)
        self.seen = 0

    async def reply(self, until: str) -> list[Json]:
        """The bot's new messages, once one of them shows ``until``; the bot must live."""

        def arrived() -> bool:
            return any(until in visible(m) for m in self.api.sent(self.chat_id)[self.seen :])

        await wait_for(repr(until), arrived, WAIT, must_live=tuple(self.bots[-1:]))
        new = self.api.sent(self.chat_id)[self.seen :]
        self.seen += len(new)
        return new

    async def command(self, command: str, args: str, until: str) -> list[Json]:
        self.api.push_command(self.chat_id, command, args)
        return await self.reply(until)

    async def press(self, label: str, until: str) -> list[Json]:
        for message in reversed(self.api.sent(self.chat_id)):
            for row in message.get("reply_markup", {}).get("inline_keyboard", []):
                for button in row:
                    if button["text"] == label:
                        data = button["callback_data"]
                        self.api.push_callback(self.chat_id, message["message_id"], data)
                        return await self.reply(until)
        raise AssertionError(f"no button {label!r} in the chat")
