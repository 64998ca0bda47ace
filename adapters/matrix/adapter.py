"""Matrix adapter (matrix-nio, end-to-end encrypted rooms).

We run our own sync loop instead of ``sync_forever`` because the cursor is ours: the
``next_batch`` token is saved only after the sink has committed every event it passed.
"""

from __future__ import annotations

import asyncio
import io
import logging
import random
from collections import OrderedDict
from collections.abc import Callable
from contextlib import suppress
from typing import Any

from nio import (
    AsyncClient,
    AsyncClientConfig,
    EncryptionError,
    ErrorResponse,
    JoinResponse,
    LocalProtocolError,
    MegolmEvent,
    RoomCreateResponse,
    RoomGetEventResponse,
    RoomMessagesResponse,
    RoomPreset,
    RoomSendResponse,
    SyncResponse,
    UploadResponse,
)

from feedback_bot.ports import (
    Attachment,
    Capability,
    CursorStore,
    EventKind,
    InboundSink,
    IncomingEvent,
    OutgoingMessage,
    RecipientUnavailable,
    SendReceipt,
    TransientSendError,
)
from feedback_bot.settings import MatrixSettings

from .content import MAX_TEXT_CHARS, attachment_content, split_text, text_content
from .errors import NETWORK_ERRORS, is_rate_limited, retry_after_seconds, send_error
from .events import PLATFORM, bot_removed, other_party_left, reaction_target, translate
from .logs import describe, quiet_library_logs
from .session import LoginFailed, check_settings, open_session, prepare_store
from .undecrypted import UndecryptedEvents

log = logging.getLogger(__name__)

CURSOR_NAME = "matrix:since"
ENCRYPTION_STATE = {
    "type": "m.room.encryption",
    "state_key": "",
    "content": {"algorithm": "m.megolm.v1.aes-sha2"},
}
GROUP_NOTE = "Sorry, I only work in one-to-one chats. Please start a direct chat with me instead."
_MAX_GAP_PAGES = 50
_REMEMBERED_EVENTS = 2048


class SyncFailed(Exception):
    def __init__(self, response: ErrorResponse) -> None:
        super().__init__(response.status_code or "sync error")
        self.response = response


class MatrixAdapter:
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
        room_wait: float = 10.0,
    ) -> None:
        check_settings(settings)
        self._settings = settings
        self._cursors = cursors
        self._sync_timeout_ms = sync_timeout_ms
        self._backoff_max = backoff_max
        self._room_wait = room_wait
        self._filter = {
            "room": {
                "timeline": {"limit": timeline_limit},
                "state": {"lazy_load_members": False},  # e2e needs every member's devices
            },
            "presence": {"not_types": ["*"]},
        }
        self._client: AsyncClient | None = None
        self._sink: InboundSink | None = None
        self._task: asyncio.Task[None] | None = None
        self._since: str | None = None  # where the next sync starts
        self._saved: str | None = None  # what the cursor store holds
        self._synced = False
        self._connected = False
        self._disconnect_logged = False
        self._progress: asyncio.Condition | None = None
        self._undecrypted = UndecryptedEvents(undecryptable_grace)
        self._pending_rooms: set[str] = set()  # joined or created, not yet seen in a sync
        self._bot_events: OrderedDict[str, None] = OrderedDict()
        self._not_bot_events: OrderedDict[str, None] = OrderedDict()
        self._sent: OrderedDict[str, str] = OrderedDict()  # tx_id → event_id

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
        self._client = AsyncClient(
            self._settings.homeserver,
            self._settings.user_id or "",
            store_path=str(self._settings.store_path),
            config=config,
        )
        self._sink = sink
        self._progress = asyncio.Condition()
        self._since = self._saved = await self._cursors.get(CURSOR_NAME)
        try:
            await open_session(self._client, self._settings)
        except NETWORK_ERRORS as exc:
            self._mark_disconnected(exc)
        self._task = asyncio.create_task(self._run(), name="matrix-sync")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task
        client, self._client = self._client, None
        if client is not None:
            await client.close()
        self._connected = False

    def is_connected(self) -> bool:
        return self._connected and self._task is not None and not self._task.done()

    async def wait_until_synced(self, seconds: float) -> bool:
        """True once a sync has been processed (rooms are known, sends can go out)."""
        return await self._wait_for(lambda: self._synced, seconds)

    @property
    def user_id(self) -> str | None:
        return self._client.user_id if self._client else None

    # --- sync loop ---------------------------------------------------------------------

    async def _run(self) -> None:
        failures = 0
        while True:
            client = self._require_client()
            try:
                if not client.logged_in:
                    await open_session(client, self._settings)
                await self._maintain_keys(client)
                await self._sync_once(client)
            except asyncio.CancelledError:
                raise
            except NETWORK_ERRORS as exc:
                self._mark_disconnected(exc)
            except SyncFailed as exc:
                if is_rate_limited(exc.response):
                    await asyncio.sleep(retry_after_seconds(exc.response) or 5.0)
                    continue
                if exc.response.status_code == "M_UNKNOWN_TOKEN":
                    client.access_token = ""  # log in again (same device) on the next turn
                log.warning("Matrix sync refused: %s", exc.response.status_code)
            except LoginFailed as exc:
                log.error("Matrix login failed: %s", exc)
            except Exception as exc:
                log.error("Matrix sync loop error: %s", describe(exc))
            else:
                failures = 0
                self._mark_connected()
                continue
            failures += 1
            await asyncio.sleep(self._backoff(failures))

    def _backoff(self, failures: int) -> float:
        delay = min(self._backoff_max, 0.5 * 2.0 ** min(failures, 16))
        return delay * random.uniform(0.8, 1.2)

    def _mark_connected(self) -> None:
        if not self._connected and self._disconnect_logged:
            log.info("Matrix homeserver reachable again")
        self._connected = True
        self._disconnect_logged = False

    def _mark_disconnected(self, exc: BaseException) -> None:
        self._connected = False
        if not self._disconnect_logged:
            log.warning("Matrix homeserver unreachable (%s); retrying", type(exc).__name__)
            self._disconnect_logged = True

    async def _maintain_keys(self, client: AsyncClient) -> None:
        if client.should_upload_keys:
            await client.keys_upload()
        if client.should_query_keys:
            await client.keys_query()
        if client.should_claim_keys:
            await client.keys_claim(client.get_users_for_key_claiming())
        await client.send_to_device_messages()

    async def _sync_once(self, client: AsyncClient) -> None:
        since = self._since
        first = not self._synced
        # nio skips a response whose next_batch it has seen; after a failed turn we ask for
        # the same range again and need it decrypted again.
        client.next_batch = ""
        response = await client.sync(
            timeout=0 if first else self._sync_timeout_ms,
            sync_filter=self._filter,
            since=since,
            # nio keeps rooms in memory only; after a restart it needs the full state.
            full_state=True if first and since else None,
        )
        if not isinstance(response, SyncResponse):
            raise SyncFailed(response)
        await self._process(client, response, since)
        self._since = response.next_batch
        self._synced = True
        assert self._progress is not None
        async with self._progress:
            self._progress.notify_all()

    async def _process(
        self, client: AsyncClient, response: SyncResponse, since: str | None
    ) -> None:
        own = client.user_id
        deliveries: list[IncomingEvent] = []
        to_leave: dict[str, str | None] = {}  # room → note to send first

        for room_id in response.rooms.invite:
            await self._join(client, room_id)

        for room_id, info in response.rooms.join.items():
            self._pending_rooms.discard(room_id)
            room = client.rooms.get(room_id)
            if room is None:
                continue
            if room.member_count > 2:
                to_leave[room_id] = GROUP_NOTE
                deliveries.append(
                    IncomingEvent(PLATFORM, f"group:{room_id}", room_id, EventKind.BLOCKED)
                )
                continue
            if since is None:
                continue  # first ever sync: history from before we ran is not new
            events = list(info.timeline.events)
            if info.timeline.limited and info.timeline.prev_batch:
                events = (
                    await self._fill_gap(client, room_id, info.timeline.prev_batch, since) + events
                )
            await self._learn_reaction_targets(client, room_id, events)
            for event in events:
                if isinstance(event, MegolmEvent):
                    self._undecrypted.hold(room_id, event, since)
                    continue
                source = getattr(event, "source", None)
                if not isinstance(source, dict):
                    continue
                incoming = translate(room_id, source, own, self._bot_events)
                if incoming is None:
                    incoming = other_party_left(room_id, source, own)
                    if incoming is not None:
                        to_leave[room_id] = None
                if incoming is not None:
                    deliveries.append(incoming)

        for room_id, info in response.rooms.leave.items():
            other = self._other_party(client, room_id)
            for event in info.timeline.events:
                source = getattr(event, "source", None)
                removed = (
                    bot_removed(room_id, source, own, other) if isinstance(source, dict) else None
                )
                if removed is not None:
                    deliveries.append(removed)
            self._forget(client, room_id)

        decrypted, expired = self._undecrypted.resolve(lambda e: self._try_decrypt(client, e))
        for room_id, event in decrypted:
            incoming = translate(room_id, event.source, own, self._bot_events)
            if incoming is not None:
                deliveries.append(incoming)
        for held in expired:
            log.warning("gave up waiting for the key of an encrypted event in %s", held.room_id)
            deliveries.append(
                IncomingEvent(
                    PLATFORM,
                    held.event.event_id,
                    held.room_id,
                    EventKind.NON_TEXT,
                    sender=held.event.sender,
                )
            )

        for incoming in deliveries:
            await self._deliver(incoming)
        for room_id, note in to_leave.items():
            await self._leave(client, room_id, note)
        await self._save_cursor(response.next_batch)

    async def _deliver(self, event: IncomingEvent) -> None:
        """Retry until the sink commits: skipping would lose the event, stopping the loop
        would stall every other chat. A restart re-syncs from the saved cursor anyway."""
        assert self._sink is not None
        failures = 0
        while True:
            try:
                await self._sink(event)
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                failures += 1
                log.error(
                    "inbox refused Matrix event %s (attempt %d): %s",
                    event.event_id,
                    failures,
                    describe(exc),
                )
                await asyncio.sleep(self._backoff(failures))

    async def _save_cursor(self, next_batch: str) -> None:
        holding, floor = self._undecrypted.cursor_floor()
        token = floor if holding else next_batch
        if token and token != self._saved:
            await self._cursors.set(CURSOR_NAME, token)
            self._saved = token

    async def _join(self, client: AsyncClient, room_id: str) -> None:
        response = await client.join(room_id)
        if isinstance(response, JoinResponse):
            self._pending_rooms.add(room_id)
            return
        if response.status_code in ("M_FORBIDDEN", "M_NOT_FOUND"):
            log.info("could not join %s (%s); invite withdrawn?", room_id, response.status_code)
            return
        # Anything else: fail this turn so the invite is seen again with the same cursor.
        raise SyncFailed(response)

    async def _leave(self, client: AsyncClient, room_id: str, note: str | None) -> None:
        if note is not None and room_id in client.rooms:
            with suppress(*NETWORK_ERRORS, LocalProtocolError, EncryptionError):
                await client.room_send(
                    room_id,
                    "m.room.message",
                    text_content(note),
                    tx_id=f"group-note:{room_id}",
                    ignore_unverified_devices=True,
                )
        with suppress(*NETWORK_ERRORS):
            await client.room_leave(room_id)
        self._forget(client, room_id)

    def _forget(self, client: AsyncClient, room_id: str) -> None:
        # nio ignores the "leave" section of a sync and would keep the room forever.
        client.rooms.pop(room_id, None)
        self._pending_rooms.discard(room_id)

    @staticmethod
    def _other_party(client: AsyncClient, room_id: str) -> str | None:
        room = client.rooms.get(room_id)
        others = [u for u in (room.users if room else ()) if u != client.user_id]
        return others[0] if len(others) == 1 else None

    async def _fill_gap(
        self, client: AsyncClient, room_id: str, prev_batch: str, since: str
    ) -> list[Any]:
        """Events the limited timeline left out, oldest first (we were offline a while)."""
        newest_first: list[Any] = []
        start = prev_batch
        for _ in range(_MAX_GAP_PAGES):
            page = await client.room_messages(room_id, start=start, end=since, limit=100)
            if not isinstance(page, RoomMessagesResponse):
                raise SyncFailed(page)
            for event in page.chunk:
                if isinstance(event, MegolmEvent):
                    # nio does not decrypt /messages results: it lacks the room id there.
                    event.room_id = room_id
                    event = self._try_decrypt(client, event) or event
                newest_first.append(event)
            if not page.chunk or not page.end or page.end == start:
                break
            start = page.end
        else:
            log.warning("Matrix gap in %s longer than %d pages", room_id, _MAX_GAP_PAGES)
        return newest_first[::-1]

    @staticmethod
    def _try_decrypt(client: AsyncClient, event: Any) -> Any | None:
        try:
            return client.decrypt_event(event)
        except (EncryptionError, LocalProtocolError):
            return None

    async def _learn_reaction_targets(
        self, client: AsyncClient, room_id: str, events: list[Any]
    ) -> None:
        """A keycap reaction counts only on the bot's own prompt; look up unknown targets."""
        for event in events:
            source = getattr(event, "source", None)
            target = reaction_target(source) if isinstance(source, dict) else None
            if target is None or target in self._bot_events or target in self._not_bot_events:
                continue
            response = await client.room_get_event(room_id, target)
            is_ours = isinstance(response, RoomGetEventResponse) and (
                response.event.sender == client.user_id
            )
            _remember(self._bot_events if is_ours else self._not_bot_events, target)

    async def _wait_for(self, predicate: Callable[[], bool], seconds: float) -> bool:
        if predicate():
            return True
        if self._progress is None:
            return False
        with suppress(TimeoutError):
            async with asyncio.timeout(seconds), self._progress:
                await self._progress.wait_for(predicate)
        return bool(predicate())

    # --- outbound ----------------------------------------------------------------------

    async def send(self, message: OutgoingMessage) -> SendReceipt:
        client = self._client
        if client is None or not client.logged_in:
            raise TransientSendError("not_ready")
        room = await self._room_for_send(client, message.address)
        try:
            if client.should_query_keys:
                # New devices of the client must get the room key, or it can't decrypt.
                with suppress(LocalProtocolError):
                    await client.keys_query()
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
        except (EncryptionError, LocalProtocolError) as exc:
            raise TransientSendError(f"encryption:{type(exc).__name__}") from None
        return SendReceipt(first_id)

    async def _room_for_send(self, client: AsyncClient, room_id: str) -> Any:
        if room_id not in client.rooms and (room_id in self._pending_rooms or not self._synced):
            await self._wait_for(lambda: room_id in client.rooms, self._room_wait)
        room = client.rooms.get(room_id)
        if room is not None:
            if not any(user != client.user_id for user in room.users):
                # The client left; the message would sit in an empty room.
                raise RecipientUnavailable("left_room")
            return room
        if room_id in self._pending_rooms or not self._synced:
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
        _remember(self._sent, tx_id, response.event_id)
        _remember(self._bot_events, response.event_id)
        return str(response.event_id)

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
        self._pending_rooms.add(room_id)
        # The room can show up in a sync before our invite does; a send in between would
        # find nobody to encrypt for.
        await self._wait_for(
            lambda: user_id in getattr(client.rooms.get(room_id), "users", ()), self._room_wait
        )
        return room_id

    def _require_client(self) -> AsyncClient:
        if self._client is None:
            raise RuntimeError("MatrixAdapter is not started")
        return self._client


def _remember(cache: OrderedDict[str, Any], key: str, value: Any = None) -> None:
    cache[key] = value
    cache.move_to_end(key)
    while len(cache) > _REMEMBERED_EVENTS:
        cache.popitem(last=False)
