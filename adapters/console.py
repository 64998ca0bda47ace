"""A terminal chat, for trying the bot and for tests: the in-memory backend.

Several people can share one console: each has an address ("client", "alice", …), and
what the bot sends is kept per address and shown through ``output``.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel

from feedback_bot.app.platforms import Platform
from feedback_bot.delivery.attachments import private_dir, write_private
from feedback_bot.ports import (
    Adapter,
    BaseAdapter,
    Capability,
    CursorStore,
    EventKind,
    InboundSink,
    IncomingEvent,
    OutgoingMessage,
    RecipientUnavailable,
    SendReceipt,
)
from feedback_bot.ports.command_text import parse_command

Output = Callable[[OutgoingMessage], None]


class ConsoleAdapter(BaseAdapter):
    platform = "console"
    command_prefix = "!"
    capabilities = frozenset({Capability.IMAGES, Capability.FILES})
    max_text_length = 100_000
    idempotent_sends = True  # delivery is a local append: resending is harmless to detect

    def __init__(self, output: Output | None = None, attachments_dir: Path | None = None) -> None:
        self._sink: InboundSink | None = None
        self._output = output
        self._attachments_dir = attachments_dir
        self.sent: dict[str, list[OutgoingMessage]] = defaultdict(list)
        self.blocked: set[str] = set()
        self._delivered_ids: set[int] = set()

    async def start(self, sink: InboundSink) -> None:
        self._sink = sink

    async def stop(self) -> None:
        self._sink = None

    def is_connected(self) -> bool:
        return self._sink is not None

    async def send(self, message: OutgoingMessage) -> SendReceipt:
        if message.address in self.blocked:
            raise RecipientUnavailable("blocked")
        if message.outbox_id and message.outbox_id in self._delivered_ids:
            return SendReceipt(str(message.outbox_id))  # a resend after a crash: no duplicate
        self._delivered_ids.add(message.outbox_id)
        self.sent[message.address].append(message)
        if self._attachments_dir is not None and message.attachments:
            # Exports and digests hold clients' words: owner-only, like `digest render`.
            private_dir(self._attachments_dir)
            for att in message.attachments:
                write_private(self.attachment_path(message.address, att.filename), att.data)
        if self._output is not None:
            self._output(message)
        return SendReceipt(str(message.outbox_id))

    def attachment_path(self, address: str, filename: str) -> Path:
        """Where an attachment sent to ``address`` is saved (one folder for everyone: the
        recipient in the name keeps files apart)."""
        if self._attachments_dir is None:
            raise ValueError("this console does not save attachments")
        return self._attachments_dir / f"{address}-{Path(filename).name}"

    def event_for(self, address: str, text: str) -> IncomingEvent:
        eid = uuid.uuid4().hex
        parsed = parse_command(text, self.command_prefix)
        if parsed is not None:
            return IncomingEvent(
                self.platform,
                eid,
                address,
                EventKind.COMMAND,
                text=text,
                command=parsed[0],
                args=parsed[1],
            )
        return IncomingEvent(self.platform, eid, address, EventKind.TEXT, text=text)

    async def say(self, address: str, text: str) -> IncomingEvent:
        """What a person typing at the console does."""
        event = self.event_for(address, text)
        await self.deliver(event)
        return event

    async def deliver(self, event: IncomingEvent) -> None:
        if self._sink is None:
            raise RuntimeError("console adapter not started")
        await self._sink(event)

    async def press(self, address: str, choice_id: str) -> None:
        await self.deliver(
            IncomingEvent(
                self.platform, uuid.uuid4().hex, address, EventKind.CHOICE, choice_id=choice_id
            )
        )


class ConsoleSettings(BaseModel):
    """Nothing to set: the console is built in code (demo, ``chat``, tests)."""


def _build(settings: ConsoleSettings, cursors: CursorStore) -> Adapter:
    return ConsoleAdapter()


PLATFORM = Platform(
    name="console",
    settings_model=ConsoleSettings,
    is_configured=lambda settings: False,  # `run` never starts it
    build=_build,
)
