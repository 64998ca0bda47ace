"""A digest as plain data: built from the database by ``build``, turned into text/HTML/PNG
by ``render`` and ``chart``. Rendering never touches the database."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from feedback_bot.storage.states import ClientStatus


@dataclass(frozen=True, slots=True)
class ItemView:
    item_id: int
    when: datetime  # aware UTC; rendered in the practitioner's time zone
    valence: str  # good | not_right | other
    routing: str  # session | fyi | contact
    text: str | None  # the client's own words, decrypted; None when they chose not to add any
    edited: bool = False
    withdrawn: bool = False  # withdrawn after an earlier digest: the practitioner is told
    risk: bool = False
    # In an earlier digest already, but not yet talked about in a session (pre-session).
    seen_before: bool = False


@dataclass(frozen=True, slots=True)
class ScorePoint:
    when: datetime
    item_key: str  # e.g. "heard", "goals", "approach"
    score: int  # 0–10


@dataclass(frozen=True, slots=True)
class Flag:
    client_alias: str
    rule: str  # not_right | low_score | score_drop | unanswered | paused | stopped | risk
    reason: str  # already in the reader's language, says why
    # When what it points at happened; None: always new (a crisis moment). A flag that
    # earlier digests already carried does not make a digest worth sending on its own.
    at: datetime | None = None


@dataclass(frozen=True, slots=True)
class ClientSection:
    client_id: int
    alias: str
    items: tuple[ItemView, ...]  # already ordered: session/not_right first, then fyi
    checkins_sent: int = 0
    checkins_answered: int = 0
    scores: tuple[ScorePoint, ...] = ()
    status: str = ClientStatus.ACTIVE
    practitioner_name: str | None = None  # only in the feedback contact's digest

    @property
    def response_rate(self) -> float | None:
        return None if self.checkins_sent == 0 else self.checkins_answered / self.checkins_sent


@dataclass(frozen=True, slots=True)
class DigestView:
    practitioner_name: str
    practice_name: str
    kind: str  # weekly | pre_session | on_demand | contact
    generated_at: datetime
    timezone: str
    since: datetime | None
    language: str = "en"
    flags: tuple[Flag, ...] = ()
    clients: tuple[ClientSection, ...] = ()
    reflective_prompt: str | None = None
    score_item_labels: dict[str, str] = field(default_factory=dict)

    @property
    def is_empty(self) -> bool:
        return not self.flags and not any(c.items for c in self.clients)
