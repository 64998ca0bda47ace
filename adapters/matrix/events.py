"""Matrix event JSON → :class:`IncomingEvent`. Pure functions: no nio, no I/O.

Decrypted events reach us as the plaintext event dict (nio copies ``event_id``, ``sender``
and ``m.relates_to`` into it), so one translation serves encrypted and plain rooms.
"""

from __future__ import annotations

from collections.abc import Container, Mapping
from typing import Any

from feedback_bot.ports import EventKind, IncomingEvent

PLATFORM = "matrix"
COMMAND_PREFIX = "!"

# Reactions with these keys on a bot prompt answer the numbered list, like typing the digit.
# Element sends keycaps with U+FE0F; some clients omit it.
KEYCAP_DIGITS: dict[str, str] = {}
for _digit in "123456789":
    KEYCAP_DIGITS[f"{_digit}\ufe0f\u20e3"] = _digit
    KEYCAP_DIGITS[f"{_digit}\u20e3"] = _digit

_TEXT_MSGTYPES = frozenset({"m.text", "m.emote"})
# m.notice is how other bots talk; answering them risks two bots replying to each other forever.
_IGNORED_MSGTYPES = frozenset({"m.notice"})
_LEAVING = frozenset({"leave", "ban"})


def reaction_target(source: Mapping[str, Any]) -> str | None:
    """The event a keycap reaction points at, or None if this is not one we could use."""
    if source.get("type") != "m.reaction":
        return None
    relates = _relates_to(source.get("content"))
    key = relates.get("key")
    target = relates.get("event_id")
    if isinstance(key, str) and key in KEYCAP_DIGITS and isinstance(target, str):
        return target
    return None


def translate(
    room_id: str,
    source: Mapping[str, Any],
    own_user_id: str,
    bot_event_ids: Container[str] = (),
) -> IncomingEvent | None:
    """One timeline event from the other party, or None when it means nothing to the core.

    ``bot_event_ids`` are events the bot sent: a keycap reaction counts only on those.
    """
    sender = source.get("sender")
    event_id = source.get("event_id")
    if not isinstance(sender, str) or not isinstance(event_id, str) or sender == own_user_id:
        return None
    if "redacted_because" in (source.get("unsigned") or {}):
        return None
    content = source.get("content")
    if not isinstance(content, Mapping):
        return None

    def event(kind: EventKind, **fields: Any) -> IncomingEvent:
        return IncomingEvent(PLATFORM, event_id, room_id, kind, sender=sender, **fields)

    event_type = source.get("type")
    if event_type == "m.sticker":
        return event(EventKind.NON_TEXT)
    if event_type == "m.reaction":
        target = reaction_target(source)
        if target is None or target not in bot_event_ids:
            return None
        return event(EventKind.TEXT, text=KEYCAP_DIGITS[_relates_to(content)["key"]])
    if event_type != "m.room.message":
        return None

    relates = _relates_to(content)
    if relates.get("rel_type") == "m.replace":
        new_content = content.get("m.new_content")
        body = new_content.get("body") if isinstance(new_content, Mapping) else None
        return event(EventKind.EDIT, text=body if isinstance(body, str) else None)

    msgtype = content.get("msgtype")
    if msgtype in _IGNORED_MSGTYPES:
        return None
    body = content.get("body")
    if msgtype not in _TEXT_MSGTYPES or not isinstance(body, str):
        return event(EventKind.NON_TEXT)
    if "m.in_reply_to" in relates:
        body = strip_reply_fallback(body)
    command = parse_command(body)
    if command is not None:
        name, args = command
        return event(EventKind.COMMAND, text=body, command=name, args=args)
    return event(EventKind.TEXT, text=body)


def other_party_left(
    room_id: str, source: Mapping[str, Any], own_user_id: str
) -> IncomingEvent | None:
    """The client leaving (or being banned from) the DM makes the address unusable."""
    if source.get("type") != "m.room.member":
        return None
    target = source.get("state_key")
    content = source.get("content") or {}
    event_id = source.get("event_id")
    if target == own_user_id or not isinstance(target, str) or not isinstance(event_id, str):
        return None
    if content.get("membership") not in _LEAVING:
        return None
    return IncomingEvent(PLATFORM, event_id, room_id, EventKind.BLOCKED, sender=target)


def bot_removed(
    room_id: str, source: Mapping[str, Any], own_user_id: str, other_party: str | None
) -> IncomingEvent | None:
    """Someone else kicked or banned the bot, or the room was shut down."""
    if source.get("type") != "m.room.member" or source.get("state_key") != own_user_id:
        return None
    content = source.get("content") or {}
    event_id = source.get("event_id")
    if content.get("membership") not in _LEAVING or not isinstance(event_id, str):
        return None
    if source.get("sender") == own_user_id:
        return None  # we left on purpose and already told the core
    return IncomingEvent(PLATFORM, event_id, room_id, EventKind.BLOCKED, sender=other_party)


def parse_command(body: str) -> tuple[str, str] | None:
    """``"!start ABC"`` → ``("start", "ABC")``; anything else → None."""
    text = body.strip()
    if not text.startswith(COMMAND_PREFIX):
        return None
    rest = text[len(COMMAND_PREFIX) :]
    parts = rest.split(maxsplit=1)
    if not parts or rest[0].isspace() or not parts[0].replace("_", "").isalnum():
        return None
    return parts[0].lower(), parts[1].strip() if len(parts) > 1 else ""


def strip_reply_fallback(body: str) -> str:
    """Drop the ``> <@bot> quoted prompt`` lines clients prepend to replies."""
    lines = body.split("\n")
    index = 0
    while index < len(lines) and lines[index].startswith(">"):
        index += 1
    if index == 0:
        return body
    if index < len(lines) and lines[index] == "":
        index += 1
    return "\n".join(lines[index:])


def _relates_to(content: object) -> Mapping[str, Any]:
    if not isinstance(content, Mapping):
        return {}
    relates = content.get("m.relates_to")
    return relates if isinstance(relates, Mapping) else {}
