"""Mapping a reply onto the question that is pending: a button press, a number, or the
option's words typed out."""

from __future__ import annotations

import unicodedata

from feedback_bot.conversation.turn import Turn
from feedback_bot.delivery.choice_ids import decode
from feedback_bot.ports import EventKind


def _norm(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).casefold().replace("’", "'")
    return " ".join(text.strip().strip(".!?").split())


STALE = "__stale__"


async def resolve(turn: Turn) -> str | None:
    """The chosen option key, STALE for a button from an old question, or None when the
    message is not an answer (free text)."""
    conv = await turn.conv()
    options: list[str] = list(conv.data.get("options", []))
    event = turn.event
    if event.kind is EventKind.CHOICE and event.choice_id:
        choice = decode(event.choice_id)
        if conv.prompt_id and choice.head == conv.prompt_id and choice.option in options:
            return choice.option
        return STALE
    if event.kind is EventKind.TEXT and options and event.text:
        said = _norm(event.text)
        if said.isdigit() and 1 <= int(said) <= len(options) and not options[0].isdigit():
            return options[int(said) - 1]
        if said.isdigit() and said in options:
            return said  # 0–10 scales: the number is the answer
        for key in options:
            if said == _norm(turn.option_label(key)):
                return key
    return None
