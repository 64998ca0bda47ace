"""Telegram ``Update`` → :class:`IncomingEvent`. Pure functions: no network, no state.

Only the person's own words in a private chat are passed on as text. Group, channel and
edited messages carry no text into the core: the core answers them with a fixed reply, and
feedback it never asked for should not be stored.
"""

from __future__ import annotations

import re

from telegram import CallbackQuery, ChatMemberUpdated, Message, Update
from telegram.constants import ChatMemberStatus, ChatType

from feedback_bot.ports import EventKind, IncomingEvent

PLATFORM = "telegram"

# The update types we ask getUpdates / setWebhook for; anything else is never delivered.
ALLOWED_UPDATES: tuple[str, ...] = (
    "message",
    "edited_message",
    "channel_post",
    "callback_query",
    "my_chat_member",
)

# Telegram commands are 1-32 of [A-Za-z0-9_]; "/cmd@bot_name" addresses one bot in a group.
_COMMAND = re.compile(r"/([A-Za-z0-9_]{1,32})(?:@[A-Za-z0-9_]+)?(?:\s+(.*))?", re.DOTALL)
_PRESENT = (ChatMemberStatus.MEMBER, ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.OWNER)


def parse_command(text: str) -> tuple[str, str] | None:
    """``"/Start@my_bot  CODE"`` → ``("start", "CODE")``; None when ``text`` is no command."""
    match = _COMMAND.fullmatch(text.strip())
    if match is None:
        return None
    return match.group(1).lower(), (match.group(2) or "").strip()


def translate(update: Update) -> IncomingEvent | None:
    """The event for the core, or None for updates the core has no use for."""
    event_id = str(update.update_id)
    if update.callback_query is not None:
        return _choice(event_id, update.callback_query)
    if update.my_chat_member is not None:
        return _membership(event_id, update.my_chat_member)
    if update.channel_post is not None:
        return _event(event_id, update.channel_post, EventKind.GROUP)
    if update.edited_message is not None:
        if update.edited_message.chat.type != ChatType.PRIVATE:
            return None  # the group already got its one reply for the original message
        return _event(event_id, update.edited_message, EventKind.EDIT)
    if update.message is not None:
        return _message(event_id, update.message)
    return None


def _event(
    event_id: str,
    message: Message,
    kind: EventKind,
    *,
    text: str | None = None,
    command: str | None = None,
    args: str = "",
) -> IncomingEvent:
    return IncomingEvent(
        platform=PLATFORM,
        event_id=event_id,
        address=str(message.chat.id),
        kind=kind,
        text=text,
        command=command,
        args=args,
        sender=str(message.from_user.id) if message.from_user is not None else None,
    )


def _message(event_id: str, message: Message) -> IncomingEvent | None:
    if message.chat.type != ChatType.PRIVATE:
        return _event(event_id, message, EventKind.GROUP)
    text = message.text
    if text is None:
        # Service messages (pins, "write access allowed"...) have no attachment: not worth a
        # reply. Anything the person sent on purpose gets the core's "I only read text".
        if message.effective_attachment is None:
            return None
        return _event(event_id, message, EventKind.NON_TEXT)
    command = parse_command(text)
    if command is not None:
        name, args = command
        return _event(event_id, message, EventKind.COMMAND, text=text, command=name, args=args)
    return _event(event_id, message, EventKind.TEXT, text=text)


def _choice(event_id: str, query: CallbackQuery) -> IncomingEvent | None:
    if query.data is None:
        return None  # game buttons; we never send those
    # The message can be missing for very old buttons; in a private chat the chat id is
    # the user id, so the reply still reaches the right person.
    address = query.message.chat.id if query.message is not None else query.from_user.id
    # A button under a message in a group (a forwarded check-in): a group gets the refusal
    # only, and the press is nobody's answer.
    private = query.message is None or query.message.chat.type == ChatType.PRIVATE
    return IncomingEvent(
        platform=PLATFORM,
        event_id=event_id,
        address=str(address),
        kind=EventKind.CHOICE if private else EventKind.GROUP,
        choice_id=query.data if private else None,
        sender=str(query.from_user.id),
    )


def _membership(event_id: str, change: ChatMemberUpdated) -> IncomingEvent | None:
    status = change.new_chat_member.status
    kind: EventKind | None = None
    if change.chat.type == ChatType.PRIVATE:
        if status == ChatMemberStatus.BANNED:
            kind = EventKind.BLOCKED
        elif status == ChatMemberStatus.MEMBER:
            kind = EventKind.UNBLOCKED
    elif status in _PRESENT and change.old_chat_member.status not in _PRESENT:
        kind = EventKind.GROUP  # someone added the bot to a group: say once it is one-to-one
    if kind is None:
        return None
    return IncomingEvent(
        platform=PLATFORM,
        event_id=event_id,
        address=str(change.chat.id),
        kind=kind,
        sender=str(change.from_user.id),
    )
