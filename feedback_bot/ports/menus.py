"""The command menus a platform may show next to the message field.

A minimal shape for :meth:`feedback_bot.ports.Adapter.set_command_menus`; the command
table fills it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class MenuEntry:
    command: str  # without prefix ("help")
    description: str


@dataclass(frozen=True, slots=True)
class CommandMenus:
    client: tuple[MenuEntry, ...] = ()  # every private chat
    practitioner: tuple[MenuEntry, ...] = ()  # added in practitioners' own chats
