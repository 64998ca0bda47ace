"""One :class:`OutgoingMessage` → the Telegram messages that carry it. Pure: no network.

Text comes first, split to fit, with the choice buttons under its last part (where the
question ends); attachments follow. Telegram's limits are counted in UTF-16 code units.
"""

from __future__ import annotations

from dataclasses import dataclass

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from feedback_bot.delivery.textsplit import split_text
from feedback_bot.ports import Attachment, Choice, OutgoingMessage

MAX_TEXT = 4096
MAX_CALLBACK_DATA = 64  # bytes


@dataclass(frozen=True, slots=True)
class TextPart:
    text: str
    choices: tuple[Choice, ...] = ()

    def keyboard(self) -> InlineKeyboardMarkup | None:
        if not self.choices:
            return None
        # One button per row: labels are sentences, not single words.
        return InlineKeyboardMarkup(
            [[InlineKeyboardButton(c.label, callback_data=c.id)] for c in self.choices]
        )


@dataclass(frozen=True, slots=True)
class FilePart:
    attachment: Attachment


Part = TextPart | FilePart


def check_choice(choice: Choice) -> None:
    size = len(choice.id.encode())
    if not 1 <= size <= MAX_CALLBACK_DATA:
        # A core bug, not a delivery problem: Telegram would reject the whole message.
        raise ValueError(f"choice id must be 1-{MAX_CALLBACK_DATA} bytes, got {size}")
    if not choice.label.strip():
        raise ValueError("choice label is empty")


def plan(message: OutgoingMessage) -> list[Part]:
    for choice in message.choices:
        check_choice(choice)
    chunks = split_text(message.text, MAX_TEXT, units="utf16")
    if message.choices and not chunks:
        raise ValueError("a message with choices needs text to hang the buttons on")
    parts: list[Part] = [TextPart(chunk) for chunk in chunks]
    if message.choices:
        parts[-1] = TextPart(chunks[-1], message.choices)
    parts.extend(FilePart(a) for a in message.attachments)
    return parts
