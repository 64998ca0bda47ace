"""Every button id the bot puts on a choice, and reading one back: the only place that
knows their format.

A platform echoes a pressed button's id back as ``IncomingEvent.choice_id``. Ids are
``<head>.<option>``; the head's first letter says what the button answers:

- ``q<hex>.<option>``: the question pending in the conversation (``Turn.ask``); the head
  is the conversation's ``prompt_id``, so a button from an older question is stale.
- ``c<check-in id>.<option>``: a check-in's answer, valid while that check-in is open.
- ``d<digest id>.ack``: a practitioner's "I've read it" under a digest.
- ``r<item id>.reply``: a practitioner's "Reply to …" under a digest, answering that item.

Ids stay short (Telegram's callback data holds at most 64 bytes) and carry no content.
"""

from __future__ import annotations

import enum
import secrets
from dataclasses import dataclass

ACK = "ack"
REPLY = "reply"


class ChoiceKind(enum.StrEnum):
    PROMPT = "q"
    CHECKIN = "c"
    DIGEST_ACK = "d"
    REPLY = "r"


@dataclass(frozen=True, slots=True)
class ChoiceId:
    kind: ChoiceKind | None  # None: no button of ours (a forged or foreign id)
    head: str  # everything before the first "." ("q1a2b3c", "c42", "d7")
    option: str  # everything after it

    @property
    def number(self) -> int | None:
        """The check-in or digest id in the head, if it is one."""
        digits = self.head[1:]
        return int(digits) if digits.isascii() and digits.isdigit() else None


def _encode(head: str, option: str) -> str:
    # The head never holds a ".", so an option may (it is everything after the first one).
    return f"{head}.{option}"


def new_prompt_id() -> str:
    """A fresh head for the buttons of one question (stored as the conversation's prompt_id)."""
    return ChoiceKind.PROMPT + secrets.token_hex(3)


def prompt_choice(prompt_id: str, option: str) -> str:
    return _encode(prompt_id, option)


def checkin_choice(checkin_id: int, option: str) -> str:
    return _encode(f"{ChoiceKind.CHECKIN}{checkin_id}", option)


def digest_ack(digest_id: int) -> str:
    return _encode(f"{ChoiceKind.DIGEST_ACK}{digest_id}", ACK)


def reply_choice(item_id: int) -> str:
    return _encode(f"{ChoiceKind.REPLY}{item_id}", REPLY)


def decode(choice_id: str | None) -> ChoiceId:
    """Any string is read; ``kind`` is None when it is none of ours."""
    head, _, option = (choice_id or "").partition(".")
    kinds = {k.value: k for k in ChoiceKind}
    return ChoiceId(kind=kinds.get(head[:1]), head=head, option=option)


def acked_digest(choice_id: str | None) -> int | None:
    """The digest id behind an "I've read it" button, or None for anything else."""
    choice = decode(choice_id)
    if choice.kind is ChoiceKind.DIGEST_ACK and choice.option == ACK:
        return choice.number
    return None


def replied_item(choice_id: str | None) -> int | None:
    """The item id behind a "Reply to …" button, or None for anything else."""
    choice = decode(choice_id)
    if choice.kind is ChoiceKind.REPLY and choice.option == REPLY:
        return choice.number
    return None
