"""The two ports between the core and a chat platform.

An adapter turns platform updates into :class:`IncomingEvent` and hands them to an
:class:`InboundSink`; the sink returns only after the event is committed to the inbox,
so the adapter may then (and only then) advance its platform cursor.

The dispatcher hands :class:`OutgoingMessage` to :meth:`Adapter.send`; the adapter
raises one of the ``Send*`` errors so the dispatcher can decide about retries without
knowing any platform library.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable


class EventKind(enum.StrEnum):
    TEXT = "text"
    COMMAND = "command"
    CHOICE = "choice"
    NON_TEXT = "non_text"  # stickers, photos, voice: we only read text for now
    UNREADABLE = "unreadable"  # encrypted, and its key never came: the client should resend
    EDIT = "edit"  # an edited message; we don't rewrite stored feedback behind the client's back
    BLOCKED = "blocked"  # the person blocked the bot / left the room
    UNBLOCKED = "unblocked"
    GROUP = "group"  # something arrived from a group chat; feedback is one-to-one
    THROTTLED = "throttled"  # set by the core's inbox for a flooding chat, never by adapters


class Capability(enum.StrEnum):
    BUTTONS = "buttons"  # native choice buttons; otherwise the core's numbered list is shown
    IMAGES = "images"
    FILES = "files"
    PROTECT_CONTENT = "protect_content"


@dataclass(frozen=True, slots=True)
class IncomingEvent:
    platform: str
    event_id: str  # unique per platform; the inbox deduplicates on (platform, event_id)
    address: str  # chat address as a string that round-trips through Adapter.send
    kind: EventKind
    text: str | None = None
    command: str | None = None  # lower-case, without prefix ("start", "help")
    args: str = ""
    choice_id: str | None = None  # opaque id from Choice.id, echoed back by the platform
    sender: str | None = None  # platform user id (Matrix: to tell the inviter from others)


@dataclass(frozen=True, slots=True)
class Choice:
    id: str  # short and opaque (fits Telegram's 64-byte callback_data)
    label: str


@dataclass(frozen=True, slots=True)
class Attachment:
    filename: str
    mime_type: str
    data: bytes
    is_image: bool = False


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    outbox_id: int  # stable per message: adapters use it as an idempotency key (Matrix tx_id)
    platform: str
    address: str
    text: str
    choices: tuple[Choice, ...] = ()
    attachments: tuple[Attachment, ...] = ()
    protect: bool = False  # sensitive content: ask the platform not to allow forwarding/saving
    attempt: int = 1


@dataclass(frozen=True, slots=True)
class SendReceipt:
    platform_message_id: str | None = None


class SendError(Exception):
    """Base for send failures. Messages must never include message content."""


class TransientSendError(SendError):
    """Try again later; ``retry_after`` (seconds) when the platform told us how long."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class RecipientUnavailable(SendError):
    """Permanent for this address: blocked bot, left room, deleted chat."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class AddressMigrated(SendError):
    """The chat moved (Telegram group → supergroup); resend to ``new_address``."""

    def __init__(self, new_address: str) -> None:
        super().__init__("address migrated")
        self.new_address = new_address


InboundSink = Callable[[IncomingEvent], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class RateLimit:
    per_chat_per_second: float
    overall_per_second: float


@runtime_checkable
class Adapter(Protocol):
    platform: str
    capabilities: frozenset[Capability]
    max_text_length: int

    async def start(self, sink: InboundSink) -> None:
        """Begin receiving. Pass each event to ``sink``; advance cursors only after it returns."""

    async def stop(self) -> None: ...

    async def send(self, message: OutgoingMessage) -> SendReceipt:
        """Deliver one message or raise a :class:`SendError` subclass."""
        ...

    def is_connected(self) -> bool: ...


@dataclass(slots=True)
class AdapterInfo:
    """What ``feedback-bot invite`` needs to know to print a link (e.g. a Telegram deep link)."""

    platform: str
    invite_link_template: str | None = None  # "https://t.me/<bot>?start={code}"
    extra: dict[str, str] = field(default_factory=dict)


class CursorStore(Protocol):
    """Durable platform cursors (Telegram offset, Matrix sync token), kept in our database.

    Adapters save a cursor only after every event it passes has gone through the sink.
    """

    async def get(self, name: str) -> str | None: ...

    async def set(self, name: str, value: str) -> None: ...
