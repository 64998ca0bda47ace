"""Tables. Columns ending in ``_enc`` hold ciphertext from :mod:`feedback_bot.privacy.crypto`;
those that name a person are read and written through a :class:`Sealed` attribute of the
same name without the suffix, and a ``_hash`` column beside it when they are looked up.

Every encrypted row has a random ``uid`` generated before insert, so its ciphertext can
be bound to the row without a flush round-trip.
"""

from __future__ import annotations

import unicodedata
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from feedback_bot.storage.sealed import Sealed
from feedback_bot.storage.states import (
    Cadence,
    CheckinKind,
    CheckinStatus,
    ClientStatus,
    Delivery,
    DigestKind,
    InboxStatus,
    ItemSource,
    ItemStatus,
    OutboxKind,
    OutboxStatus,
    Routing,
    StrEnumText,
    Valence,
)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite hands back naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def new_uid() -> str:
    return uuid.uuid4().hex


NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON}


class Practice(Base):
    __tablename__ = "practice"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(8), default="en")  # settings' default, mirrored
    feedback_contact_id: Mapped[int | None] = mapped_column(
        ForeignKey("practitioner.id", use_alter=True, ondelete="SET NULL")
    )
    # Deactivated by an admin: no schedules, no new people (people/directory.py).
    deactivated_at: Mapped[datetime | None]
    created_at: Mapped[datetime]


class PracticeSettingsRecord(Base):
    """A practice's settings (``people.practice_settings``): the validated document as
    exported to YAML, without the feedback contact (``practice.feedback_contact_id``)."""

    __tablename__ = "practice_settings"
    practice_id: Mapped[int] = mapped_column(
        ForeignKey("practice.id", ondelete="CASCADE"), primary_key=True
    )
    document: Mapped[dict[str, Any]] = mapped_column(JSON)
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[datetime]


def alias_key(alias: str) -> str:
    """What two aliases are compared by: NFKC, case-folded, whitespace collapsed."""
    return " ".join(unicodedata.normalize("NFKC", alias).casefold().split())


class Practitioner(Base):
    __tablename__ = "practitioner"
    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(32), unique=True, default=new_uid)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practice.id"))
    name_enc: Mapped[str] = mapped_column(Text)
    name: Sealed[str] = Sealed()
    timezone: Mapped[str | None] = mapped_column(String(64))
    digest_weekday: Mapped[int] = mapped_column(Integer, default=0)  # Monday
    digest_time: Mapped[str] = mapped_column(String(5), default="08:00")
    pre_session_hours: Mapped[int] = mapped_column(Integer, default=24)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # A user id on a platform whose adapter opens DMs (Matrix): the bot opens the DM itself.
    platform: Mapped[str | None] = mapped_column(String(16))  # where platform_user_id lives
    platform_user_id_enc: Mapped[str | None] = mapped_column(Text)
    platform_user_id: Sealed[str | None] = Sealed()
    # The last "Client N" given out: automatic aliases never reuse a number, even after an
    # erasure took the client with the highest one.
    auto_alias_counter: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # When the beat next has to look at this practitioner's weekly digest (stored, so a
    # beat reads only who is due: scheduling/due.py). None: never (inactive).
    next_digest_at: Mapped[datetime | None] = mapped_column(index=True)
    # When an admin deactivated them (``active`` is then False).
    deactivated_at: Mapped[datetime | None]
    created_at: Mapped[datetime]


class Client(Base):
    __tablename__ = "client"
    # One alias per practitioner as a person reads it ("Ann" is "ann"): the hash is of
    # alias_key, so the database itself refuses a second one.
    __table_args__ = (UniqueConstraint("practitioner_id", "alias_hash"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(32), unique=True, default=new_uid)
    practitioner_id: Mapped[int] = mapped_column(ForeignKey("practitioner.id"))
    alias_enc: Mapped[str] = mapped_column(Text)
    alias_hash: Mapped[str] = mapped_column(String(64))
    alias: Sealed[str] = Sealed(lambda value: alias_lookup(value))
    # invited → active (consented) ⇄ paused; stopped = consent withdrawn
    status: Mapped[ClientStatus] = mapped_column(
        StrEnumText(ClientStatus, 16), default=ClientStatus.INVITED
    )
    status_changed_at: Mapped[datetime | None]
    language: Mapped[str | None] = mapped_column(String(8))
    timezone: Mapped[str | None] = mapped_column(String(64))
    consent_version: Mapped[str | None] = mapped_column(String(32))
    consented_at: Mapped[datetime | None]
    risk_alerts: Mapped[bool] = mapped_column(Boolean, default=False)
    loop_notices: Mapped[bool] = mapped_column(Boolean, default=True)
    checkin_cadence: Mapped[Cadence] = mapped_column(
        StrEnumText(Cadence, 16), default=Cadence.AFTER_SESSION
    )
    checkin_weekday: Mapped[int] = mapped_column(Integer, default=3)
    checkin_time: Mapped[str] = mapped_column(String(5), default="18:00")
    after_session_hours: Mapped[int] = mapped_column(Integer, default=20)
    quiet_start: Mapped[str] = mapped_column(String(5), default="21:00")
    quiet_end: Mapped[str] = mapped_column(String(5), default="08:00")
    # The last item number given out: a client's items keep their numbers ("edit 2" is
    # always the same item), and a number is never given twice.
    item_counter: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Words came before the alerts question was answered (off until then): when to ask it
    # again, gently. None: nothing to ask.
    alerts_ask_at: Mapped[datetime | None] = mapped_column(index=True)
    # When the beat next has to plan this client's check-ins: the next slot, or an earlier
    # moment when a slot is owed. None: nothing will come (not active, off, no sessions).
    # Kept by scheduling/due.py on every change to a schedule input.
    next_checkin_at: Mapped[datetime | None] = mapped_column(index=True)
    # Since when their practitioner is theirs (None: from the start). After a move the
    # new practitioner reads only what came from then on (privacy/access.py).
    practitioner_since: Mapped[datetime | None]
    # Ended by an admin: stopped, and not to be resumed by the client.
    deactivated_at: Mapped[datetime | None]
    created_at: Mapped[datetime]


class Identity(Base):
    """A chat address on a platform, linked to exactly one client or practitioner."""

    __tablename__ = "identity"
    __table_args__ = (UniqueConstraint("platform", "address_hash"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(32), unique=True, default=new_uid)
    platform: Mapped[str] = mapped_column(String(16))
    address_enc: Mapped[str] = mapped_column(Text)
    address_hash: Mapped[str] = mapped_column(String(64))
    address: Sealed[str] = Sealed(lambda value: address_lookup(value))
    # Indexed: a check-in batch looks up its clients' chats (client_chat does it per turn).
    client_id: Mapped[int | None] = mapped_column(
        ForeignKey("client.id", ondelete="CASCADE"), index=True
    )
    # Indexed: every digest finds its practitioner's chats (practitioner_chats).
    practitioner_id: Mapped[int | None] = mapped_column(ForeignKey("practitioner.id"), index=True)
    # A practice admin's chat: they ask the bot for console sign-in links here.
    admin_id: Mapped[int | None] = mapped_column(ForeignKey("console_admin.id", ondelete="CASCADE"))
    reachable: Mapped[bool] = mapped_column(Boolean, default=True)
    language: Mapped[str | None] = mapped_column(String(8))
    # The person's own id on the platform (Matrix user id). A Matrix DM is a room, so a
    # person who leaves and opens a new DM arrives from a new address: this finds them.
    platform_user_enc: Mapped[str | None] = mapped_column(Text)
    platform_user_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    platform_user: Sealed[str | None] = Sealed(lambda value: platform_user_lookup(value))
    created_at: Mapped[datetime]


# The parts of each keyed hash (vault.keyed_hash(*parts)). The platform is a column of its
# own, compared beside the hash.
def address_lookup(address: str) -> tuple[str, ...]:
    return ("address", address)


def platform_user_lookup(user: str) -> tuple[str, ...]:
    return ("platform-user", user)


def alias_lookup(alias: str) -> tuple[str, ...]:
    return ("alias", alias_key(alias))


class InviteCode(Base):
    __tablename__ = "invite_code"
    id: Mapped[int] = mapped_column(primary_key=True)
    code_hash: Mapped[str] = mapped_column(
        String(64), unique=True
    )  # sha256; the code is never stored
    client_id: Mapped[int | None] = mapped_column(ForeignKey("client.id", ondelete="CASCADE"))
    practitioner_id: Mapped[int | None] = mapped_column(ForeignKey("practitioner.id"))
    admin_id: Mapped[int | None] = mapped_column(ForeignKey("console_admin.id", ondelete="CASCADE"))
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    created_at: Mapped[datetime]


class ConsentRecord(Base):
    __tablename__ = "consent_record"
    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("client.id", ondelete="CASCADE"))
    version: Mapped[str] = mapped_column(String(32))
    risk_alerts: Mapped[bool] = mapped_column(Boolean, default=False)
    given_at: Mapped[datetime]
    withdrawn_at: Mapped[datetime | None]


class FeedbackItem(Base):
    __tablename__ = "feedback_item"
    __table_args__ = (UniqueConstraint("client_id", "number"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(32), unique=True, default=new_uid)
    client_id: Mapped[int] = mapped_column(ForeignKey("client.id", ondelete="CASCADE"), index=True)
    valence: Mapped[Valence | None] = mapped_column(StrEnumText(Valence, 16))
    text_enc: Mapped[str | None] = mapped_column(Text)
    routing: Mapped[Routing | None] = mapped_column(StrEnumText(Routing, 16))
    # Who an item routed to the feedback contact is for: the contact at the moment the
    # client chose it. Only they read it, whoever is the contact later (never the
    # client's own practitioner); None for other routes, or once they are gone.
    # Indexed: every weekly digest asks whether items wait for its reader as the contact.
    contact_id: Mapped[int | None] = mapped_column(
        ForeignKey("practitioner.id", ondelete="SET NULL"), index=True
    )
    status: Mapped[ItemStatus] = mapped_column(
        StrEnumText(ItemStatus, 16), default=ItemStatus.DRAFT
    )
    source: Mapped[ItemSource] = mapped_column(
        StrEnumText(ItemSource, 16), default=ItemSource.ANYTIME
    )
    checkin_id: Mapped[int | None] = mapped_column(ForeignKey("checkin.id", ondelete="SET NULL"))
    risk: Mapped[bool] = mapped_column(Boolean, default=False)
    edit_count: Mapped[int] = mapped_column(Integer, default=0)
    # The client's own number for it, given at submission and never changed.
    number: Mapped[int | None] = mapped_column(Integer)
    # A draft: when the client last wrote to it or answered about it; when the clock next
    # acts on it (a gentle nudge, then submission with a skip's defaults); and whether the
    # nudge has gone. Words never wait forever in an unanswered draft.
    active_at: Mapped[datetime | None]
    draft_due_at: Mapped[datetime | None] = mapped_column(index=True)
    draft_nudged: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    digest_id: Mapped[int | None] = mapped_column(ForeignKey("digest.id", ondelete="SET NULL"))
    created_at: Mapped[datetime]
    submitted_at: Mapped[datetime | None]
    edited_at: Mapped[datetime | None]
    withdrawn_at: Mapped[datetime | None]
    # When the practitioner acknowledged it (the client is told once, whichever digest or
    # "ack ALIAS" covered it).
    acked_at: Mapped[datetime | None]


class PractitionerMessage(Base):
    """What a client was told on their practitioner's behalf: that they read it (and will
    bring it into the next session), or the practitioner's own words (``text_enc``)."""

    __tablename__ = "practitioner_message"
    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(32), unique=True, default=new_uid)
    client_id: Mapped[int] = mapped_column(ForeignKey("client.id", ondelete="CASCADE"), index=True)
    practitioner_id: Mapped[int] = mapped_column(ForeignKey("practitioner.id"))
    # The item it answers, if any (the client's latest one covered by an acknowledgement).
    item_id: Mapped[int | None] = mapped_column(ForeignKey("feedback_item.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(16))  # read | read_session | words
    text_enc: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]


class Conversation(Base):
    """Where a chat is in a dialogue. Holds ids and option keys only, never content."""

    __tablename__ = "conversation"
    identity_id: Mapped[int] = mapped_column(
        ForeignKey("identity.id", ondelete="CASCADE"), primary_key=True
    )
    state: Mapped[str] = mapped_column(String(32), default="idle")
    prompt_id: Mapped[str | None] = mapped_column(String(16))
    item_id: Mapped[int | None] = mapped_column(ForeignKey("feedback_item.id", ondelete="SET NULL"))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime]


class Appointment(Base):
    __tablename__ = "appointment"
    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("client.id", ondelete="CASCADE"), index=True)
    starts_at: Mapped[datetime]
    duration_minutes: Mapped[int] = mapped_column(Integer, default=50)
    weekly: Mapped[bool] = mapped_column(Boolean, default=False)
    # When the pre-session digest for the next occurrence is due (start − lead); None: no
    # occurrence to come.
    next_digest_at: Mapped[datetime | None] = mapped_column(index=True)
    created_at: Mapped[datetime]


class Checkin(Base):
    __tablename__ = "checkin"
    __table_args__ = (
        UniqueConstraint("client_id", "kind", "slot_at"),
        # What a beat asks: due slots, reminders due, open check-ins to expire.
        Index("ix_checkin_status_due_at", "status", "due_at"),
        Index("ix_checkin_status_remind_at", "status", "remind_at"),
        Index("ix_checkin_status_sent_at", "status", "sent_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("client.id", ondelete="CASCADE"), index=True)
    kind: Mapped[CheckinKind] = mapped_column(StrEnumText(CheckinKind, 16))
    slot_at: Mapped[datetime]  # the nominal slot: the idempotency key
    due_at: Mapped[datetime]  # after quiet hours and jitter
    status: Mapped[CheckinStatus] = mapped_column(
        StrEnumText(CheckinStatus, 16), default=CheckinStatus.SCHEDULED
    )
    sent_at: Mapped[datetime | None]
    remind_at: Mapped[datetime | None]
    reminded: Mapped[bool] = mapped_column(Boolean, default=False)
    response: Mapped[str | None] = mapped_column(String(16))
    answered_at: Mapped[datetime | None]
    created_at: Mapped[datetime]


class AllianceScore(Base):
    __tablename__ = "alliance_score"
    id: Mapped[int] = mapped_column(primary_key=True)
    checkin_id: Mapped[int | None] = mapped_column(ForeignKey("checkin.id", ondelete="CASCADE"))
    client_id: Mapped[int] = mapped_column(ForeignKey("client.id", ondelete="CASCADE"), index=True)
    item_key: Mapped[str] = mapped_column(String(32))
    score: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime]


class SafetyEvent(Base):
    """A risk-detector hit. No content: the flag and whether the practitioner was alerted."""

    __tablename__ = "safety_event"
    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("client.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime]
    alerted: Mapped[bool] = mapped_column(Boolean, default=False)
    digest_id: Mapped[int | None] = mapped_column(ForeignKey("digest.id", ondelete="SET NULL"))


class Digest(Base):
    __tablename__ = "digest"
    __table_args__ = (UniqueConstraint("practitioner_id", "kind", "slot_key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(32), unique=True, default=new_uid)
    practitioner_id: Mapped[int] = mapped_column(ForeignKey("practitioner.id"), index=True)
    kind: Mapped[DigestKind] = mapped_column(StrEnumText(DigestKind, 16))
    slot_key: Mapped[str] = mapped_column(String(64))  # idempotency key of the scheduled slot
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    acked_at: Mapped[datetime | None]
    # The ids of the buttons under it, in order: a number or a label typed on a platform
    # without buttons is read against them (``conversation/closing_loop.py``).
    choices: Mapped[list[str] | None] = mapped_column(JSON)
    # No body is stored: digests are rendered into the (encrypted, then wiped) outbox only.


class InboxEvent(Base):
    __tablename__ = "inbox"
    __table_args__ = (
        UniqueConstraint("platform", "event_id"),
        Index("ix_inbox_status_id", "status", "id"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(32), unique=True, default=new_uid)
    platform: Mapped[str] = mapped_column(String(16))
    event_id: Mapped[str] = mapped_column(String(255))
    # Keyed hash of the chat address: enough for per-chat order and throttling, while the
    # address itself lives only in the encrypted payload, which is cleared once processed.
    chat_hash: Mapped[str] = mapped_column(String(64), index=True)
    payload_enc: Mapped[str | None] = mapped_column(Text)
    status: Mapped[InboxStatus] = mapped_column(
        StrEnumText(InboxStatus, 16), default=InboxStatus.PENDING
    )
    received_at: Mapped[datetime]
    processed_at: Mapped[datetime | None]


class OutboxMessage(Base):
    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_status_next", "status", "next_attempt_at"),
        # The id is the adapters' idempotency key (Matrix tx_id), so it must never be
        # reused; plain SQLite rowids are, once the newest row is deleted.
        {"sqlite_autoincrement": True},
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(32), unique=True, default=new_uid)
    platform: Mapped[str] = mapped_column(String(16))
    address: Mapped[str] = mapped_column(String(255))
    identity_id: Mapped[int | None] = mapped_column(ForeignKey("identity.id", ondelete="CASCADE"))
    # What it is (metrics, admin); how it is delivered and what follows are decided at
    # enqueue: the dispatcher reads those two, never the kind.
    kind: Mapped[OutboxKind] = mapped_column(StrEnumText(OutboxKind, 24), default=OutboxKind.REPLY)
    delivery: Mapped[Delivery] = mapped_column(
        StrEnumText(Delivery, 16), default=Delivery.AT_LEAST_ONCE
    )
    after_send: Mapped[str] = mapped_column(String(24), default="nothing")  # ports.AfterSend
    payload_enc: Mapped[str] = mapped_column(Text)
    attachments_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    status: Mapped[OutboxStatus] = mapped_column(
        StrEnumText(OutboxStatus, 16), default=OutboxStatus.PENDING
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(String(64))  # a reason code, never content
    platform_message_id: Mapped[str | None] = mapped_column(String(64))
    digest_id: Mapped[int | None] = mapped_column(ForeignKey("digest.id", ondelete="SET NULL"))
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]


class PlatformPace(Base):
    """One of a platform's send tokens: the overall rate, shared by every worker of the
    deployment (delivery/shared_pacing.py). No personal data."""

    __tablename__ = "platform_pace"
    platform: Mapped[str] = mapped_column(String(16), primary_key=True)
    token: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    free_at: Mapped[datetime]
    held_by: Mapped[str | None] = mapped_column(String(64))


class ChatPace(Base):
    """When a chat may next receive a message, for every worker (delivery/shared_pacing.py).
    The chat only as the outbox's keyed hash of its address."""

    __tablename__ = "chat_pace"
    platform: Mapped[str] = mapped_column(String(16), primary_key=True)
    chat_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    next_allowed_at: Mapped[datetime] = mapped_column(index=True)


class AuditEvent(Base):
    __tablename__ = "audit_event"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    # The practice it concerns, found when it is recorded (privacy/audit.py), so it can be
    # listed per practice even after the client it names was erased.
    practice_id: Mapped[int | None] = mapped_column(Integer, index=True)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(48))
    subject_type: Mapped[str | None] = mapped_column(String(32))
    subject_id: Mapped[int | None] = mapped_column(Integer)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # ids and counts only


class Cursor(Base):
    __tablename__ = "cursor"
    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime]


class KeyMaterial(Base):
    """Secrets the deployment keeps in its own database, sealed by the encryption key, so
    they outlive a key rotation (the keyed-hash key: :mod:`feedback_bot.privacy.hash_key`)."""

    __tablename__ = "key_material"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(32), unique=True)
    uid: Mapped[str] = mapped_column(String(32), unique=True, default=new_uid)
    value_enc: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]


class ConsoleAdmin(Base):
    """A practice admin: signs in to the web console for their own practice only."""

    __tablename__ = "console_admin"
    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(32), unique=True, default=new_uid)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practice.id"), index=True)
    name_enc: Mapped[str] = mapped_column(Text)
    name: Sealed[str] = Sealed()
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]


class ConsoleLoginLink(Base):
    """A one-time sign-in link: only the SHA-256 of its token is stored."""

    __tablename__ = "console_login_link"
    id: Mapped[int] = mapped_column(primary_key=True)
    admin_id: Mapped[int] = mapped_column(ForeignKey("console_admin.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime] = mapped_column(index=True)
    used_at: Mapped[datetime | None]
    created_at: Mapped[datetime]


class ConsoleSession(Base):
    """A signed-in browser. The cookie holds the token; the table only its SHA-256."""

    __tablename__ = "console_session"
    id: Mapped[int] = mapped_column(primary_key=True)
    admin_id: Mapped[int] = mapped_column(ForeignKey("console_admin.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)
