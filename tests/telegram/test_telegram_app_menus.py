"""The whole app over Telegram: the command menus people see are the core's table."""

from __future__ import annotations

from feedback_bot.app.bootstrap import App
from feedback_bot.conversation.commands import COMMANDS
from tests.fakes.telegram_api import FakeTelegramApi
from tests.telegram.app_harness import SAM, linked

PRIVATE = '{"type": "all_private_chats"}|'


async def test_menus_come_from_the_command_table(app: App, tg: FakeTelegramApi) -> None:
    client_menu = [c.name for c in COMMANDS.client if c.menu is not None]
    assert [c["command"] for c in tg.commands[PRIVATE]] == client_menu
    descriptions = {c["command"]: c["description"] for c in tg.commands[PRIVATE]}
    assert descriptions["timezone"] == app.catalog.t("menu.timezone", "en")

    await linked(app, tg)  # Sam's welcome goes out: his chat gets the practitioner menu
    sam = [c["command"] for c in tg.commands[f'{{"chat_id": {SAM}, "type": "chat"}}|']]
    assert sam[: len(client_menu)] == client_menu
    assert sam[len(client_menu) :] == ["invite", "clients", "session", "digest", "ack", "reply"]
