"""The two ports between the core and a chat platform.

An adapter turns platform updates into :class:`IncomingEvent` and hands them to an
:class:`InboundSink`; the sink returns only after the event is committed to the inbox,
so the adapter may then (and only then) advance its platform cursor.

The dispatcher hands :class:`OutgoingMessage` to :meth:`Adapter.send`; the adapter
raises one of the ``Send*`` errors so the dispatcher can decide about retries without
knowing any platform library.

Everything the core asks of a platform is a member of :class:`Adapter`; the optional
part has a default in :class:`BaseAdapter`, which adapters inherit. An adapter never
says anything to a person by itself: what it cannot handle (a group chat, a sticker)
becomes an event, and the core's answer comes back through the outbox.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from feedback_bot.ports.menus import CommandMenus


class EventKind(enum.StrEnum):
    TEXT = "text"
    COMMAND = "command"
    CHOICE = "choice"
    NON_TEXT = "non_text"  # stickers, photos, voice: we only read text for now
    UNREADABLE = "unreadable"  # encrypted, and its key never came: the client should resend
    EDIT = "edit"  # an edited message; we don't rewrite stored feedback behind the client's back
    BLOCKED = "blocked"  # the person blocked the bot / left the room
    UNBLOCKED = "unblocked"
    # Something arrived from (or the bot was added to) a group chat; feedback is one-to-one.
    # The core answers once per group, with the message's AfterSend.LEAVE_CHAT.
    GROUP = "group"
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


class AfterSend(enum.StrEnum):
    """What the platform is asked to do once a message is delivered (chosen at enqueue)."""

    NOTHING = "nothing"
    PRACTITIONER_MENU = "practitioner_menu"  # Adapter.register_practitioner(address)
    LEAVE_CHAT = "leave_chat"  # the refusal note to a group chat: Adapter.leave_chat(address)


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
    then: AfterSend = AfterSend.NOTHING  # the dispatcher acts on it after the send


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
    """One chat platform as the core sees it. Inherit :class:`BaseAdapter` for the defaults.

    Attachments go out with :meth:`send` on platforms whose ``capabilities`` include
    IMAGES or FILES; choices become buttons with BUTTONS, else a numbered list the core
    writes. Group chats are refused by emitting :attr:`EventKind.GROUP`; the core's
    localized note comes back through :meth:`send`, then :meth:`leave_chat` is called.
    """

    platform: str  # the registry name, the settings section, the inbox/outbox column
    capabilities: frozenset[Capability]
    max_text_length: int
    command_prefix: str  # how the core writes command hints ("send /help", "send !help")
    idempotent_sends: bool  # resending an outbox id after a crash cannot show it twice

    @property
    def invite_link_template(self) -> str | None:
        """A link that opens a chat with the bot and sends ``start <code>``: a
        ``str.format`` template with ``{code}``, or None. Read again after :meth:`start`."""
        ...

    async def start(self, sink: InboundSink) -> None:
        """Begin receiving. Pass each event to ``sink``; advance cursors only after it returns."""

    async def stop(self) -> None: ...

    async def send(self, message: OutgoingMessage) -> SendReceipt:
        """Deliver one message or raise a :class:`SendError` subclass."""
        ...

    def is_connected(self) -> bool: ...

    async def open_dm(self, user_id: str) -> str | None:
        """Open a direct chat with a platform user and return its address; None when this
        platform cannot (the person then links with a code). Raise SendError on failure."""
        ...

    async def register_practitioner(self, address: str) -> None:
        """After the practitioner's welcome: show the practitioner commands in this chat."""
        ...

    def set_command_menus(self, menus: CommandMenus) -> None:
        """The command menus to show next to the message field, where the platform has one.
        Called once, before ``start``."""
        ...

    async def leave_chat(self, address: str) -> None:
        """After the refusal note to a group chat was delivered: leave it, or stay."""
        ...


class BaseAdapter:
    """Defaults for the optional part of :class:`Adapter`: adapters inherit them."""

    command_prefix: str = "!"
    idempotent_sends: bool = False

    @property
    def invite_link_template(self) -> str | None:
        return None

    async def open_dm(self, user_id: str) -> str | None:
        return None

    async def register_practitioner(self, address: str) -> None:
        return None

    def set_command_menus(self, menus: CommandMenus) -> None:
        return None

    async def leave_chat(self, address: str) -> None:
        return None


class CursorStore(Protocol):
    """Durable platform cursors (Telegram offset, Matrix sync token), kept in our database.

    Adapters save a cursor only after every event it passes has gone through the sink.
    """

    async def get(self, name: str) -> str | None: ...

    async def set(self, name: str, value: str) -> None: ...
