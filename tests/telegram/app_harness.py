"""The whole app on a real database with the Telegram adapter talking to the fake Bot API.

People are simulated at the Bot API: they "type" by having the fake queue an update and
"read" what the bot sent to their chat, buttons included.
"""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta
from typing import Any

from pydantic import SecretStr

from adapters.telegram import Backoff, TelegramAdapter
from adapters.telegram.settings import TelegramSettings
from feedback_bot.app.bootstrap import App, build_app
from feedback_bot.app.settings import Settings
from feedback_bot.ports import Adapter, CursorStore
from feedback_bot.scheduling.clock import FakeClock
from tests import harness
from tests.fakes.telegram_api import DEFAULT_TOKEN, FakeTelegramApi

Json = dict[str, Any]

SAM, ALEX = 1001, 2002


def app_settings(database_url: str, api: FakeTelegramApi, **overrides: object) -> Settings:
    telegram = TelegramSettings(
        token=SecretStr(DEFAULT_TOKEN),
        base_url=api.base_url,
        # App.start() refreshes invite links from getMe; these tests start only the adapter.
        bot_username=api.username,
        poll_timeout=5,
    )
    return harness.settings_for(database_url, telegram=telegram, **overrides)


def telegram_adapter(settings: Settings, cursors: CursorStore) -> TelegramAdapter:
    return TelegramAdapter(
        settings.telegram,
        cursors,
        request_timeout=2.0,
        backoff=Backoff(initial=0.02, maximum=0.1),
        stop_grace=1.0,
    )


async def build(settings: Settings, clock: FakeClock) -> App:
    async def sleep(seconds: float) -> None:
        clock.advance(timedelta(seconds=seconds))  # pacing waits cost no real time
        await asyncio.sleep(0)

    def factory(cursors: CursorStore) -> Adapter:
        return telegram_adapter(settings, cursors)

    return await build_app(settings, adapters=[factory], clock=clock, sleep=sleep)


def visible(message: Json) -> str:
    """What a person sees of one message: text or caption, file name, button labels."""
    parts = [message.get("text") or message.get("caption") or ""]
    parts.append(message.get("document", {}).get("file_name", ""))
    for row in message.get("reply_markup", {}).get("inline_keyboard", []):
        parts.extend(button["text"] for button in row)
    return "\n".join(parts)


class Person:
    """Someone's private Telegram chat with the bot.

    Each action waits until Telegram's copy of the update is confirmed (the adapter
    committed it and moved its offset), then runs the app's processing and delivery the
    way its loop would, with pacing waits on the fake clock.
    """

    def __init__(self, app: App, api: FakeTelegramApi, chat_id: int, name: str) -> None:
        self.app, self.api, self.chat_id = app, api, chat_id
        api.add_private_chat(chat_id, name)
        self.seen = 0
        self.presses_made: list[tuple[int, int]] = []  # (update id, message id) per press

    def messages(self) -> list[Json]:
        return self.api.sent(self.chat_id)

    async def says(self, text: str, until: str) -> list[Json]:
        if text.startswith("/"):
            command, _, args = text[1:].partition(" ")
            update_id = self.api.push_command(self.chat_id, command, args)
        else:
            update_id = self.api.push_text(self.chat_id, text)
        return await self.replies(update_id, until)

    async def presses(self, label: str, until: str) -> list[Json]:
        """Press the button labelled ``label`` under the latest message that has it."""
        for message in reversed(self.messages()):
            for row in message.get("reply_markup", {}).get("inline_keyboard", []):
                for button in row:
                    if button["text"] == label:
                        update_id = self.api.push_callback(
                            self.chat_id, message["message_id"], button["callback_data"]
                        )
                        self.presses_made.append((update_id, message["message_id"]))
                        return await self.replies(update_id, until)
        raise AssertionError(f"no button {label!r} in the chat")

    async def replies(self, update_id: int, until: str) -> list[Json]:
        """The bot's new messages after ``update_id`` was handled; one must show ``until``."""
        await settle(self.app, self.api, update_id)
        new = self.messages()[self.seen :]
        self.seen += len(new)
        assert any(until in visible(m) for m in new), (until, [visible(m) for m in new])
        return new


async def settle(app: App, api: FakeTelegramApi, update_id: int) -> None:
    await api.wait_until(lambda: update_id not in api.pending_update_ids, within=10)
    await app.drain()


def texts(messages: list[Json]) -> str:
    return "\n".join(m.get("text", "") for m in messages)


def t(app: App, key: str) -> str:
    return app.catalog.t(key, "en", p="/", practitioner="Sam")


async def linked(app: App, tg: FakeTelegramApi) -> tuple[Person, Person]:
    """Sam links with a code from the admin, invites Alex with /invite; Alex opens the deep
    link (Telegram then sends "/start CODE"), consents and declines alerts."""
    practice = await app.admin.create_practice("Riverside Practice", "Europe/London")
    _, code = await app.admin.add_practitioner(practice, "Sam")
    sam, alex = Person(app, tg, SAM, "Sam"), Person(app, tg, ALEX, "Alex")
    welcome = await sam.says(f"/start {code}", until="/digest")
    assert "!digest" not in texts(welcome)  # command hints use Telegram's prefix

    invite = await sam.says("/invite Alex", until="https://t.me/")
    link = re.search(r"https://t\.me/(\w+)\?start=([A-Za-z0-9_-]+)", texts(invite))
    assert link is not None and link.group(1) == tg.username

    consent = await alex.says(f"/start {link.group(2)}", until="I agree")
    assert "Riverside Practice" in texts(consent)
    assert t(app, "platform_note.telegram") in texts(consent)
    await alex.presses("I agree", until="No, thank you")
    await alex.presses("No, thank you", until=t(app, "onboarding.done")[:40])
    return sam, alex
