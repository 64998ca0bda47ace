"""The command menus Telegram shows next to the message field (``setMyCommands``).

Clients see their menu in every private chat. Practitioners see both menus, but only in
their own chat: Telegram scopes menus per chat, and only the core knows who practises.
"""

from __future__ import annotations

from telegram import BotCommand

CLIENT_COMMANDS: tuple[BotCommand, ...] = (
    BotCommand("help", "What I can do"),
    BotCommand("feedback", "Give feedback about a session"),
    BotCommand("mine", "See what you have shared"),
    BotCommand("pause", "Pause check-ins"),
    BotCommand("resume", "Resume check-ins"),
    BotCommand("stop", "Stop using the bot"),
    BotCommand("export", "Get a copy of your data"),
    BotCommand("delete", "Delete your data"),
    BotCommand("language", "Change the language"),
    BotCommand("checkins", "Choose when check-ins arrive"),
)

PRACTITIONER_COMMANDS: tuple[BotCommand, ...] = (
    BotCommand("invite", "Invite a client"),
    BotCommand("clients", "List your clients"),
    BotCommand("session", "Record a session"),
    BotCommand("digest", "Get your feedback digest"),
    BotCommand("ack", "Acknowledge a message"),
)
