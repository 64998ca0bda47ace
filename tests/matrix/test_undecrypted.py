"""Holding the cursor behind events whose room key has not arrived yet."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from adapters.matrix.undecrypted import UndecryptedEvents


@dataclass
class FakeMegolm:
    event_id: str


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def never(event: Any) -> None:
    return None


def test_cursor_stays_before_the_oldest_held_event_until_it_decrypts() -> None:
    clock = Clock()
    held = UndecryptedEvents(grace_seconds=60, now=clock)
    held.hold("!a", FakeMegolm("$1"), token_before="t1")
    held.hold("!b", FakeMegolm("$2"), token_before="t2")
    assert held.cursor_floor() == (True, "t1")

    decrypted, expired = held.resolve(lambda e: "plaintext" if e.event_id == "$1" else None)

    assert decrypted == [("!a", "plaintext")] and expired == []
    assert held.cursor_floor() == (True, "t2")


def test_gives_up_after_the_grace_period() -> None:
    clock = Clock()
    held = UndecryptedEvents(grace_seconds=60, now=clock)
    held.hold("!a", FakeMegolm("$1"), token_before="t1")
    clock.now = 59
    assert held.resolve(never) == ([], [])
    clock.now = 60

    decrypted, expired = held.resolve(never)

    assert decrypted == [] and [h.event.event_id for h in expired] == ["$1"]
    assert held.cursor_floor() == (False, None) and len(held) == 0


def test_the_same_event_seen_twice_keeps_its_first_position() -> None:
    held = UndecryptedEvents(grace_seconds=60, now=Clock())
    held.hold("!a", FakeMegolm("$1"), token_before="t1")
    held.hold("!a", FakeMegolm("$1"), token_before="t5")
    assert held.cursor_floor() == (True, "t1") and len(held) == 1
