"""Command menus: the commands a platform may offer next to the message field.

The core derives them from its command table (``feedback_bot.conversation.commands``),
with each description in every language it has texts for; an adapter shows them as its
platform allows (Telegram: ``setMyCommands``) or not at all.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CommandMenuEntry:
    name: str  # without prefix, lower-case ("feedback")
    description: str  # one short line in the menu's language


CommandMenu = tuple[CommandMenuEntry, ...]


@dataclass(frozen=True, slots=True)
class CommandMenus:
    """What clients and practitioners may use, by language ("en", "de", …)."""

    default_language: str  # the menu for people whose language the platform can't tell
    client: Mapping[str, CommandMenu]
    practitioner: Mapping[str, CommandMenu]

    @property
    def languages(self) -> list[str]:
        return sorted(self.client)

    def client_menu(self, language: str | None = None) -> CommandMenu:
        return self.client[language or self.default_language]

    def practitioner_menu(self, language: str | None = None) -> CommandMenu:
        return self.practitioner[language or self.default_language]
