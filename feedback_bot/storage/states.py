"""The states and kinds stored in the database, as enums.

They are StrEnums kept in plain VARCHAR columns, so the schema is unchanged and a stored
value reads back as the member it was written as (an unknown value fails loudly)."""

from __future__ import annotations

import enum
from typing import Any, Generic, TypeVar

from sqlalchemy import Dialect, String
from sqlalchemy.types import TypeDecorator


class ClientStatus(enum.StrEnum):
    INVITED = "invited"  # has a code, has not consented
    ACTIVE = "active"
    PAUSED = "paused"  # no check-ins until they resume
    STOPPED = "stopped"  # consent withdrawn: nothing new is taken in


class ItemStatus(enum.StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    WITHDRAWN = "withdrawn"


class Valence(enum.StrEnum):
    GOOD = "good"
    NOT_RIGHT = "not_right"
    OTHER = "other"


class Routing(enum.StrEnum):
    SESSION = "session"  # bring it into the next session
    FYI = "fyi"  # just so you know
    CONTACT = "contact"  # the practice's feedback contact instead


class ItemSource(enum.StrEnum):
    ANYTIME = "anytime"
    CHECKIN = "checkin"


class CheckinKind(enum.StrEnum):
    WEEKLY = "weekly"
    AFTER_SESSION = "after_session"


class CheckinStatus(enum.StrEnum):
    # scheduled → sent → answered | snoozed → (reminded) → answered | expired; missed; skipped
    SCHEDULED = "scheduled"
    SENT = "sent"
    SNOOZED = "snoozed"
    ANSWERED = "answered"
    EXPIRED = "expired"
    MISSED = "missed"  # its slot passed while the bot was down
    SKIPPED = "skipped"


class Cadence(enum.StrEnum):
    AFTER_SESSION = "after_session"
    WEEKLY = "weekly"
    OFF = "off"


class DigestKind(enum.StrEnum):
    WEEKLY = "weekly"
    PRE_SESSION = "pre_session"
    ON_DEMAND = "on_demand"
    CONTACT = "contact"  # the feedback contact's digest of items routed to them


class InboxStatus(enum.StrEnum):
    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"
    QUARANTINED = "quarantined"  # cannot be decrypted (a key missing): set aside, kept


class OutboxStatus(enum.StrEnum):
    # pending → sending → sent | failed (retrying) | dead | unavailable | unknown
    # | quarantined (cannot be decrypted: set aside until the key is back)
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    DEAD = "dead"
    UNAVAILABLE = "unavailable"
    UNKNOWN = "unknown"  # lost in a crash on a platform without idempotent sends
    QUARANTINED = "quarantined"


class OutboxKind(enum.StrEnum):
    REPLY = "reply"
    EPHEMERAL = "ephemeral"  # to a chat nobody is linked to: deleted once sent
    SAFETY = "safety"
    CHECKIN = "checkin"
    REMINDER = "reminder"
    DIGEST = "digest"
    NOTICE = "notice"
    PRACTITIONER_WELCOME = "practitioner_welcome"


class Delivery(enum.StrEnum):
    """How the dispatcher treats a message, decided by whoever enqueues it.

    After a crash a message may be left claimed with its outcome unknown. Platforms
    with idempotent sends resend every such message; the others resend all but
    AT_MOST_ONCE ones (see the dispatcher's crash rule).
    """

    AT_LEAST_ONCE = "at_least_once"  # replies: a duplicate is kinder than a lost one
    URGENT = "urgent"  # at least once, and claimed before anything else waiting (safety)
    AT_MOST_ONCE = "at_most_once"  # nudges (check-ins, reminders): "never twice" comes first
    EPHEMERAL = "ephemeral"  # at least once, deleted once sent: replies to unlinked chats
    # Ephemeral, and once sent nothing about its chat is kept, its pacing row included:
    # the goodbye to a client whose data was just erased.
    FAREWELL = "farewell"


E = TypeVar("E", bound=enum.StrEnum)


class StrEnumText(TypeDecorator[E], Generic[E]):
    """A StrEnum in a VARCHAR column."""

    impl = String
    cache_ok = True

    def __init__(self, enum_type: type[E], length: int) -> None:
        super().__init__(length)
        self._enum_type = enum_type

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else self._enum_type(value).value

    def process_result_value(self, value: Any, dialect: Dialect) -> E | None:
        return None if value is None else self._enum_type(value)
