"""Encrypted events we could not decrypt yet.

The room key usually arrives (as a to-device message) before or with the event, but it can
lag. Until it arrives, the sync cursor must not move past the event: after a restart the
event comes again and, with the key in the store by then, decrypts. After a grace period we
stop waiting and hand the core an UNREADABLE event, so the client hears that we could not read
the message instead of hearing nothing. When the sender's device tells us it withholds the key
(``m.room_key.withheld``), the key will not come: we stop waiting after a short grace instead.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass
class Held:
    room_id: str
    event: Any  # nio MegolmEvent
    token_before: str | None  # the `since` of the sync that brought it
    first_seen: float


class UndecryptedEvents:
    def __init__(
        self,
        grace_seconds: float,
        now: Callable[[], float] = time.monotonic,
        withheld_grace_seconds: float = 10.0,
    ) -> None:
        self._grace = grace_seconds
        self._withheld_grace = withheld_grace_seconds
        self._now = now
        self._held: dict[str, Held] = {}
        self._withheld: dict[str, float] = {}  # megolm session id → when we were told

    def withheld(self, session_id: str) -> None:
        """The sender's device will not send this session's key."""
        self._withheld.setdefault(session_id, self._now())
        while len(self._withheld) > 1000:
            del self._withheld[next(iter(self._withheld))]

    def __len__(self) -> int:
        return len(self._held)

    def hold(self, room_id: str, event: Any, token_before: str | None) -> None:
        if event.event_id not in self._held:
            self._held[event.event_id] = Held(room_id, event, token_before, self._now())

    def resolve(
        self, decrypt: Callable[[Any], Any | None]
    ) -> tuple[list[tuple[str, Any]], list[Held]]:
        """Try again; returns (decrypted (room_id, event) pairs, events given up on)."""
        decrypted: list[tuple[str, Any]] = []
        expired: list[Held] = []
        for event_id, held in list(self._held.items()):
            event = decrypt(held.event)
            if event is not None:
                decrypted.append((held.room_id, event))
            elif self._given_up(held):
                expired.append(held)
            else:
                continue
            del self._held[event_id]
        return decrypted, expired

    def _given_up(self, held: Held) -> bool:
        now = self._now()
        if now - held.first_seen >= self._grace:
            return True
        told = self._withheld.get(getattr(held.event, "session_id", None) or "")
        return told is not None and now - max(told, held.first_seen) >= self._withheld_grace

    def cursor_floor(self) -> tuple[bool, str | None]:
        """(held anything, the oldest held event's `since`): the cursor may not pass it."""
        for held in self._held.values():
            return True, held.token_before
        return False, None
