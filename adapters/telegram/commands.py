"""The command menus Telegram shows next to the message field (``setMyCommands``).

The core hands over its menus (:class:`CommandMenus`, derived from its command table);
this module only turns them into Telegram's shape. Clients see their menu in every
private chat, in the practice's languages where Telegram knows the person's app language.
Practitioners see both menus, but only in their own chat: Telegram scopes menus per chat,
and only the core knows who practises.
"""

from __future__ import annotations

import re

from telegram import BotCommand

from feedback_bot.ports.menus import CommandMenu, CommandMenus

# setMyCommands takes a two-letter ISO 639-1 language code, or none for the default.
_LANGUAGE_CODE = re.compile(r"^[a-z]{2}$")


def bot_commands(menu: CommandMenu) -> list[BotCommand]:
    return [BotCommand(entry.name, entry.description) for entry in menu]


def client_commands(menus: CommandMenus, language: str | None = None) -> list[BotCommand]:
    return bot_commands(menus.client_menu(language))


def practitioner_commands(menus: CommandMenus, language: str | None = None) -> list[BotCommand]:
    """The client menu, then the practitioner's own commands (each name once)."""
    client = menus.client_menu(language)
    names = {entry.name for entry in client}
    own = tuple(e for e in menus.practitioner_menu(language) if e.name not in names)
    return bot_commands(client + own)


def client_menus_by_language(menus: CommandMenus) -> list[tuple[str | None, list[BotCommand]]]:
    """``(language_code, commands)`` for every private chat: the default menu (no code),
    then one per other language Telegram can match against a person's app language."""
    out: list[tuple[str | None, list[BotCommand]]] = [(None, client_commands(menus))]
    for language in menus.languages:
        if language != menus.default_language and _LANGUAGE_CODE.match(language):
            out.append((language, client_commands(menus, language)))
    return out
