"""Matrix adapter (matrix-nio, end-to-end encrypted rooms): lifecycle and sending.

Receiving lives in :mod:`adapters.matrix.inbound`.
"""

from __future__ import annotations

import asyncio
import io
from contextlib import suppress
from typing import Any

from nio import (
    AsyncClient,
    AsyncClientConfig,
    EncryptionError,
    LocalProtocolError,
    RoomCreateResponse,
    RoomPreset,
    RoomSendResponse,
    UploadResponse,
)

from feedback_bot.ports import (
    AfterSend,
    Attachment,
    BaseAdapter,
    Capability,
    CursorStore,
    InboundSink,
    OutgoingMessage,
    RecipientUnavailable,
    SendReceipt,
    TransientSendError,
)

from .content import MAX_TEXT_CHARS, attachment_content, split_text, text_content
from .direct import DirectRooms
from .errors import NETWORK_ERRORS, send_error
from .events import PLATFORM
from .inbound import SyncLoop, SyncOptions, SyncState
from .logs import quiet_library_logs
from .rawapi import MatrixHTTPError
from .recent import Recent
from .session import check_settings, prepare_store
from .settings import MatrixSettings
from .trust import DeviceTrust

ENCRYPTION_STATE = {
    "type": "m.room.encryption",
    "state_key": "",
    "content": {"algorithm": "m.megolm.v1.aes-sha2"},
}


class MatrixAdapter(BaseAdapter):
    platform = PLATFORM
    capabilities = frozenset({Capability.IMAGES, Capability.FILES})
    max_text_length = MAX_TEXT_CHARS

    def __init__(
        self,
        settings: MatrixSettings,
        cursors: CursorStore,
        *,
        sync_timeout_ms: int = 30_000,
        timeline_limit: int = 100,
        backoff_max: float = 60.0,
        undecryptable_grace: float = 300.0,
        withheld_grace: float = 10.0,
        room_wait: float = 10.0,
    ) -> None:
        check_settings(settings)
        self._settings = settings
        self._cursors = cursors
        self._options = SyncOptions(
            sync_timeout_ms, timeline_limit, backoff_max, undecryptable_grace, withheld_grace
        )
        self._trust: DeviceTrust | None = None
        self._room_wait = room_wait
        self._client: AsyncClient | None = None
        self._state = SyncState()
        self._task: asyncio.Task[None] | None = None
        self._loop: SyncLoop | None = None
        self._sent: Recent[str] = Recent()  # tx_id → event_id, spares re-uploads on retry

    # --- lifecycle ---------------------------------------------------------------------

    async def start(self, sink: InboundSink) -> None:
        quiet_library_logs()
        prepare_store(self._settings.store_path)
        assert self._settings.homeserver and self._settings.pickle_key
        config = AsyncClientConfig(
            store_sync_tokens=False,
            encryption_enabled=True,
            pickle_key=self._settings.pickle_key.get_secret_value(),
            # Our loop and the dispatcher own retries; nio retrying inside would hide
            # 429s from the dispatcher and hold a send hostage for minutes.
            max_limit_exceeded=0,
            max_timeouts=0,
            request_timeout=30,
        )
        client = AsyncClient(
            self._settings.homeserver,
            self._settings.user_id or "",
            store_path=str(self._settings.store_path),
            config=config,
        )
        self._client = client
        self._state = SyncState(direct=DirectRooms(client))
        self._trust = DeviceTrust(client, allow_unsigned=self._settings.allow_unsigned_devices)
        loop = SyncLoop(client, self._settings, self._cursors, sink, self._state, self._options)
        self._loop = loop
        await loop.prepare()
        self._task = asyncio.create_task(loop.run(), name="matrix-sync")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task
        client, self._client = self._client, None
        if client is not None:
            await client.close()
        self._state.connected = False

    def is_connected(self) -> bool:
        return self._state.connected and self._task is not None and not self._task.done()

    async def wait_until_synced(self, seconds: float) -> bool:
        """True once a sync has been processed (rooms are known, sends can go out)."""
        return await self._state.wait_for(lambda: self._state.synced, seconds)

    @property
    def user_id(self) -> str | None:
        return self._client.user_id if self._client else None

    # --- outbound ----------------------------------------------------------------------

    async def send(self, message: OutgoingMessage) -> SendReceipt:
        client = self._client
        if client is None or not client.logged_in:
            raise TransientSendError("not_ready")
        if message.address in self._state.groups and message.then is not AfterSend.LEAVE_CHAT:
            # Only the core's note about groups may go to a group room, nothing else.
            raise RecipientUnavailable("group_room")
        room = await self._room_for_send(client, message.address)
        try:
            if client.should_query_keys:
                # New devices of the client must get the room key, or it can't decrypt.
                with suppress(LocalProtocolError):
                    await client.keys_query()
            if room.encrypted and self._trust is not None:
                # Only devices their owner cross-signed get the room key (trust.py).
                self._trust.forget(self._state.devices_changed)
                self._state.devices_changed.clear()
                await self._trust.apply(list(room.users))
            first_id: str | None = None
            for index, part in enumerate(split_text(message.text)):
                tx_id = str(message.outbox_id) if index == 0 else f"{message.outbox_id}.{index}"
                event_id = await self._send_event(client, room.room_id, text_content(part), tx_id)
                first_id = first_id or event_id
            for index, attachment in enumerate(message.attachments):
                tx_id = f"{message.outbox_id}.a{index}"
                if tx_id not in self._sent:
                    content = await self._upload(client, attachment, room.encrypted)
                    event_id = await self._send_event(client, room.room_id, content, tx_id)
                    first_id = first_id or event_id
        except NETWORK_ERRORS:
            raise TransientSendError("network") from None
        except MatrixHTTPError as exc:
            raise TransientSendError(f"keys:{exc.status}") from None
        except (EncryptionError, LocalProtocolError) as exc:
            raise TransientSendError(f"encryption:{type(exc).__name__}") from None
        return SendReceipt(first_id)

    async def _room_for_send(self, client: AsyncClient, room_id: str) -> Any:
        state = self._state

        def not_known_yet() -> bool:
            return room_id not in client.rooms and (
                room_id in state.pending_rooms or not state.synced
            )

        if not_known_yet():
            await state.wait_for(lambda: not not_known_yet(), self._room_wait)
        room = client.rooms.get(room_id)
        if room is not None:
            if not any(user != client.user_id for user in room.users):
                # The client left; the message would sit in an empty room.
                raise RecipientUnavailable("left_room")
            return room
        if not_known_yet():
            raise TransientSendError("not_ready")
        raise RecipientUnavailable("not_in_room")

    async def _send_event(
        self, client: AsyncClient, room_id: str, content: dict[str, Any], tx_id: str
    ) -> str:
        if tx_id in self._sent:
            return self._sent[tx_id]
        # The homeserver deduplicates on (device, tx_id): a resend after a crash returns the
        # original event instead of posting a second copy.
        response = await client.room_send(
            room_id, "m.room.message", content, tx_id=tx_id, ignore_unverified_devices=True
        )
        if not isinstance(response, RoomSendResponse):
            raise send_error(response)
        event_id = str(response.event_id)
        self._sent.put(tx_id, event_id)
        self._state.bot_events.put(event_id, None)
        return event_id

    async def _upload(
        self, client: AsyncClient, attachment: Attachment, encrypted: bool
    ) -> dict[str, Any]:
        response, keys = await client.upload(
            io.BytesIO(attachment.data),
            content_type=attachment.mime_type,
            filename=attachment.filename,
            encrypt=encrypted,
            filesize=len(attachment.data),
        )
        if not isinstance(response, UploadResponse):
            raise send_error(response)
        return attachment_content(attachment, response.content_uri, keys)

    async def leave_chat(self, address: str) -> None:
        """The core's note to a group room was delivered: leave (again if invited back)."""
        self._state.told_groups.add(address)
        if self._loop is not None:
            await self._loop.leave(address)

    async def open_dm(self, user_id: str) -> str:
        """Create an encrypted direct chat with ``user_id`` and return its room id (address)."""
        client = self._client
        if client is None or not client.logged_in:
            raise TransientSendError("not_ready")
        try:
            response = await client.room_create(
                is_direct=True,
                preset=RoomPreset.private_chat,
                invite=[user_id],
                initial_state=[ENCRYPTION_STATE],
            )
        except NETWORK_ERRORS:
            raise TransientSendError("network") from None
        if not isinstance(response, RoomCreateResponse):
            raise send_error(response)
        room_id = str(response.room_id)
        self._state.pending_rooms.add(room_id)
        if self._state.direct is not None:
            await self._state.direct.add(user_id, room_id)
        # The room can show up in a sync before our invite does; a send in between would
        # find nobody to encrypt for.
        await self._state.wait_for(
            lambda: user_id in getattr(client.rooms.get(room_id), "users", ()), self._room_wait
        )
        return room_id
