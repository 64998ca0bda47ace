"""The sync loop: homeserver events → sink, then (and only then) the saved cursor.

We run our own loop instead of nio's ``sync_forever`` because the cursor is ours: the
``next_batch`` token is saved only after the sink has committed every event it passed.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
import secrets
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any

from nio import (
    AsyncClient,
    EncryptionError,
    ErrorResponse,
    JoinResponse,
    LocalProtocolError,
    MegolmEvent,
    RoomGetEventResponse,
    RoomMessagesResponse,
    SyncResponse,
    UnknownToDeviceEvent,
)

from feedback_bot.ports import CursorStore, EventKind, InboundSink, IncomingEvent

from . import rawapi
from .cross_signing import ForeignIdentity, KeyFileError, NeedsAuth, ensure_cross_signed
from .direct import DirectRooms
from .errors import NETWORK_ERRORS, is_rate_limited, retry_after_seconds
from .events import PLATFORM, bot_removed, other_party_left, reaction_target, translate
from .logs import describe
from .recent import Recent
from .session import LoginFailed, open_session
from .settings import MatrixSettings
from .undecrypted import UndecryptedEvents

log = logging.getLogger(__name__)

CURSOR_NAME = "matrix:since"
WITHHELD = "m.room_key.withheld"
_MAX_GAP_PAGES = 50


@dataclass
class SyncState:
    """What the sending side needs to know about the sync loop."""

    progress: asyncio.Condition = field(default_factory=asyncio.Condition)
    synced: bool = False  # a sync has been processed: nio knows our rooms
    connected: bool = False
    pending_rooms: set[str] = field(default_factory=set)  # joined/created, not yet synced
    bot_events: Recent[None] = field(default_factory=Recent)  # our own event ids
    # Group rooms: feedback is one-to-one. The core is told (a GROUP event) and its note
    # is the only message that may still go there; the bot leaves once it is delivered.
    groups: set[str] = field(default_factory=set)
    told_groups: set[str] = field(default_factory=set)  # noted and left: leave on sight
    identity: str | None = None  # cross-signing outcome, or "error: ..." (see cross_signing)
    devices_changed: set[str] = field(default_factory=set)  # users to re-check (trust.py)
    direct: DirectRooms | None = None

    async def wait_for(self, predicate: Callable[[], bool], seconds: float) -> bool:
        """Re-checked after every processed sync; False if still untrue after ``seconds``."""
        with suppress(TimeoutError):
            async with asyncio.timeout(seconds), self.progress:
                await self.progress.wait_for(predicate)
        return bool(predicate())

    async def notify(self) -> None:
        async with self.progress:
            self.progress.notify_all()


class SyncFailed(Exception):
    def __init__(self, response: ErrorResponse) -> None:
        super().__init__(response.status_code or "sync error")
        self.response = response


@dataclass(frozen=True)
class SyncOptions:
    sync_timeout_ms: int = 30_000
    timeline_limit: int = 100
    backoff_max: float = 60.0
    undecryptable_grace: float = 300.0
    withheld_grace: float = 10.0  # after m.room_key.withheld: the key will not come
    held_sync_timeout_ms: int = 3_000  # shorter polls while we wait for a room key


class SyncLoop:
    def __init__(
        self,
        client: AsyncClient,
        settings: MatrixSettings,
        cursors: CursorStore,
        sink: InboundSink,
        state: SyncState,
        options: SyncOptions,
    ) -> None:
        self._client = client
        self._settings = settings
        self._cursors = cursors
        self._sink = sink
        self._state = state
        self._options = options
        self._filter = {
            "room": {
                "timeline": {"limit": options.timeline_limit},
                "state": {"lazy_load_members": False},  # e2e needs every member's devices
            },
            "presence": {"not_types": ["*"]},
        }
        self._refused: list[IncomingEvent] = []  # events the inbox did not take last turn
        self._undecrypted = UndecryptedEvents(
            options.undecryptable_grace, withheld_grace_seconds=options.withheld_grace
        )
        self._key_requested: Recent[None] = Recent()  # megolm session ids
        self._direct = state.direct or DirectRooms(client)
        self._not_bot_events: Recent[None] = Recent()
        self._since: str | None = None  # where the next sync starts
        self._saved: str | None = None  # what the cursor store holds
        self._disconnect_logged = False
        self._identity_retry_at = 0.0  # loop time; inf once settled for this run

    async def prepare(self) -> None:
        """Load the cursor and try to log in; an unreachable homeserver is retried later."""
        self._since = self._saved = await self._cursors.get(CURSOR_NAME)
        try:
            await open_session(self._client, self._settings)
        except NETWORK_ERRORS as exc:
            self._mark_disconnected(exc)

    async def run(self) -> None:
        client = self._client
        failures = 0
        while True:
            try:
                if not client.logged_in:
                    await open_session(client, self._settings)
                await self._maintain_keys()
                await self._cross_sign()
                await self._sync_once()
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
        delay = min(self._options.backoff_max, 0.5 * 2.0 ** min(failures, 16))
        return delay * random.uniform(0.8, 1.2)

    def _mark_connected(self) -> None:
        if not self._state.connected and self._disconnect_logged:
            log.info("Matrix homeserver reachable again")
        self._state.connected = True
        self._disconnect_logged = False

    def _mark_disconnected(self, exc: BaseException) -> None:
        self._state.connected = False
        if not self._disconnect_logged:
            log.warning("Matrix homeserver unreachable (%s); retrying", type(exc).__name__)
            self._disconnect_logged = True

    async def _maintain_keys(self) -> None:
        client = self._client
        if client.should_upload_keys:
            await client.keys_upload()
        if client.should_query_keys:
            await client.keys_query()
        if client.should_claim_keys:
            await client.keys_claim(client.get_users_for_key_claiming())
        await client.send_to_device_messages()

    async def _cross_sign(self) -> None:
        """Once per run: our device signed by our own identity (see cross_signing.py)."""
        loop = asyncio.get_running_loop()
        if loop.time() < self._identity_retry_at:
            return
        settings = self._settings
        assert settings.pickle_key
        password = settings.password.get_secret_value() if settings.password else None
        try:
            outcome = await ensure_cross_signed(
                self._client, settings.store_path, settings.pickle_key.get_secret_value(), password
            )
        except (ForeignIdentity, NeedsAuth, KeyFileError) as exc:
            # Operator action needed; say it once and keep serving (unsigned) meanwhile.
            log.error("Matrix identity: %s", exc)
            self._state.identity = f"error: {type(exc).__name__}"
            self._identity_retry_at = float("inf")
            return
        except rawapi.MatrixHTTPError as exc:
            log.warning("Matrix identity not set up yet (%s); retrying in a minute", exc)
            self._identity_retry_at = loop.time() + 60
            return
        self._state.identity = outcome.value
        self._identity_retry_at = float("inf")

    async def _sync_once(self) -> None:
        since = self._since
        first = not self._state.synced
        # nio skips a response whose next_batch it has seen; after a failed turn we ask for
        # the same range again and need it decrypted again.
        self._client.next_batch = ""
        timeout = self._options.sync_timeout_ms
        if len(self._undecrypted) or self._refused:
            # Shorter polls while we wait for a room key or hold events the inbox refused
            # (the inbox paces its own tries at the database).
            timeout = min(timeout, self._options.held_sync_timeout_ms)
        response = await self._client.sync(
            timeout=0 if first else timeout,
            sync_filter=self._filter,
            since=since,
            # nio keeps rooms in memory only; after a restart it needs the full state.
            full_state=True if first and since else None,
        )
        if not isinstance(response, SyncResponse):
            raise SyncFailed(response)
        await self._process(response, since)
        self._since = response.next_batch
        self._state.synced = True
        await self._state.notify()

    async def _process(self, response: SyncResponse, since: str | None) -> None:
        client, own = self._client, self._client.user_id
        self._state.devices_changed.update(response.device_list.changed)
        self._note_withheld(response)
        # Events held back for a missing room key come first: they are older.
        deliveries = self._resolve_undecrypted()
        to_leave: set[str] = set()
        newly_held: list[tuple[str, Any]] = []

        for room_id, invite in response.rooms.invite.items():
            await self._join(room_id, _direct_inviter(invite.invite_state, own))

        for room_id, info in response.rooms.join.items():
            self._state.pending_rooms.discard(room_id)
            room = client.rooms.get(room_id)
            if room is None:
                continue
            if room.member_count > 2:
                if room_id in self._state.told_groups:
                    to_leave.add(room_id)  # invited back: the core has said its piece
                elif room_id not in self._state.groups:
                    self._state.groups.add(room_id)
                    # Once per room and sync batch: replayed after a crash, the same id.
                    batch = hashlib.sha256((since or "").encode()).hexdigest()[:16]
                    event_id = f"group:{room_id}:{batch}"
                    deliveries.append(IncomingEvent(PLATFORM, event_id, room_id, EventKind.GROUP))
                continue
            if since is None:
                continue  # first ever sync: history from before we ran is not new
            events = list(info.timeline.events)
            if info.timeline.limited and info.timeline.prev_batch:
                events = await self._fill_gap(room_id, info.timeline.prev_batch, since) + events
            await self._learn_reaction_targets(room_id, events)
            for event in events:
                if isinstance(event, MegolmEvent):
                    self._undecrypted.hold(room_id, event, since)
                    newly_held.append((room_id, event))
                    continue
                source = getattr(event, "source", None)
                if not isinstance(source, dict):
                    continue
                incoming = translate(room_id, source, own, self._state.bot_events)
                if incoming is None:
                    incoming = other_party_left(room_id, source, own)
                    if incoming is not None:
                        to_leave.add(room_id)
                if incoming is not None:
                    deliveries.append(incoming)

        for room_id, info in response.rooms.leave.items():
            other = self._other_party(room_id)
            for event in info.timeline.events:
                source = getattr(event, "source", None)
                if isinstance(source, dict) and (
                    removed := bot_removed(room_id, source, own, other)
                ):
                    deliveries.append(removed)
            self._forget(room_id)
            await self._direct.remove(room_id)

        delivered = await self._deliver_all(deliveries)
        for room_id in to_leave:
            await self.leave(room_id)
        if delivered:
            await self._save_cursor(response.next_batch)
        await self._request_keys(newly_held)

    def _note_withheld(self, response: SyncResponse) -> None:
        for event in response.to_device_events:
            if not isinstance(event, UnknownToDeviceEvent) or event.type != WITHHELD:
                continue
            content = event.source.get("content") or {}
            session_id = content.get("session_id")
            if isinstance(session_id, str):
                log.info("Matrix: a sender's device withholds a room key (%s)", content.get("code"))
                self._undecrypted.withheld(session_id)

    async def _request_keys(self, events: list[tuple[str, Any]]) -> None:
        """Ask the sending device (and our own other devices) once per missing session."""
        client = self._client
        for room_id, event in events:
            session_id = getattr(event, "session_id", None)
            if not session_id or session_id in self._key_requested or not client.device_id:
                continue
            self._key_requested.put(session_id, None)
            content = {
                "action": "request",
                "body": {
                    "algorithm": event.algorithm,
                    "room_id": room_id,
                    "sender_key": event.sender_key,
                    "session_id": session_id,
                },
                "request_id": f"fb{secrets.token_hex(8)}",
                "requesting_device_id": client.device_id,
            }
            messages: dict[str, dict[str, Any]] = {event.sender: {event.device_id or "*": content}}
            if client.user_id and client.user_id != event.sender:
                messages[client.user_id] = {"*": content}
            with suppress(rawapi.MatrixHTTPError, *NETWORK_ERRORS):
                await rawapi.send_to_device(
                    client, "m.room_key_request", messages, content["request_id"]
                )

    def _resolve_undecrypted(self) -> list[IncomingEvent]:
        own = self._client.user_id
        decrypted, expired = self._undecrypted.resolve(self._try_decrypt)
        events = [
            incoming
            for room_id, event in decrypted
            if (incoming := translate(room_id, event.source, own, self._state.bot_events))
        ]
        for held in expired:
            log.warning("gave up waiting for the key of an encrypted event in %s", held.room_id)
            events.append(
                IncomingEvent(
                    PLATFORM,
                    held.event.event_id,
                    held.room_id,
                    EventKind.UNREADABLE,  # the core tells the client we could not read it
                    sender=held.event.sender,
                )
            )
        return events

    async def _deliver_all(self, deliveries: list[IncomingEvent]) -> bool:
        """Hand every event to the sink, in order, even after one was refused: the sink
        screens each one (a crisis text is answered however the database is), so nobody's
        message waits behind another's. Refused ones are kept and handed over first next
        turn; until all are taken the cursor is not saved, so a restart re-syncs them too.
        True when the sink took every event."""
        earlier, self._refused = self._refused, []
        ids = {event.event_id for event in deliveries}
        for event in [e for e in earlier if e.event_id not in ids] + deliveries:
            try:
                await self._sink(event)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.error("inbox refused Matrix event %s: %s", event.event_id, describe(exc))
                self._refused.append(event)
        return not self._refused

    async def _save_cursor(self, next_batch: str) -> None:
        holding, floor = self._undecrypted.cursor_floor()
        token = floor if holding else next_batch
        if token and token != self._saved:
            try:
                await self._cursors.set(CURSOR_NAME, token)
            except Exception as exc:
                # Everything before it is committed: a later turn saves it (a restart
                # meanwhile re-syncs a little more, and the inbox drops the copies).
                log.warning("Matrix cursor not saved (%s); saved on a later turn", describe(exc))
                return
            self._saved = token

    async def _join(self, room_id: str, direct_with: str | None) -> None:
        response = await self._client.join(room_id)
        if isinstance(response, JoinResponse):
            self._state.pending_rooms.add(room_id)
            if direct_with:
                await self._direct.add(direct_with, room_id)
            return
        if response.status_code in ("M_FORBIDDEN", "M_NOT_FOUND"):
            log.info("could not join %s (%s); invite withdrawn?", room_id, response.status_code)
            return
        # Anything else: fail this turn so the invite is seen again with the same cursor.
        raise SyncFailed(response)

    async def leave(self, room_id: str) -> None:
        with suppress(*NETWORK_ERRORS):
            await self._client.room_leave(room_id)
        self._forget(room_id)
        await self._direct.remove(room_id)

    def _forget(self, room_id: str) -> None:
        # nio ignores the "leave" section of a sync and would keep the room forever.
        self._client.rooms.pop(room_id, None)
        self._state.pending_rooms.discard(room_id)
        self._state.groups.discard(room_id)

    def _other_party(self, room_id: str) -> str | None:
        room = self._client.rooms.get(room_id)
        others = [u for u in (room.users if room else ()) if u != self._client.user_id]
        return others[0] if len(others) == 1 else None

    async def _fill_gap(self, room_id: str, prev_batch: str, since: str) -> list[Any]:
        """Events the limited timeline left out, oldest first (we were offline a while)."""
        newest_first: list[Any] = []
        start = prev_batch
        for _ in range(_MAX_GAP_PAGES):
            page = await self._client.room_messages(room_id, start=start, end=since, limit=100)
            if not isinstance(page, RoomMessagesResponse):
                raise SyncFailed(page)
            for event in page.chunk:
                if isinstance(event, MegolmEvent):
                    # nio does not decrypt /messages results: it lacks the room id there.
                    event.room_id = room_id
                    event = self._try_decrypt(event) or event
                newest_first.append(event)
            if not page.chunk or not page.end or page.end == start:
                break
            start = page.end
        else:
            log.warning("Matrix gap in %s longer than %d pages", room_id, _MAX_GAP_PAGES)
        return newest_first[::-1]

    def _try_decrypt(self, event: Any) -> Any | None:
        try:
            return self._client.decrypt_event(event)
        except (EncryptionError, LocalProtocolError):
            return None

    async def _learn_reaction_targets(self, room_id: str, events: list[Any]) -> None:
        """A keycap reaction counts only on the bot's own prompt; look up unknown targets."""
        known, not_ours = self._state.bot_events, self._not_bot_events
        for event in events:
            source = getattr(event, "source", None)
            target = reaction_target(source) if isinstance(source, dict) else None
            if target is None or target in known or target in not_ours:
                continue
            response = await self._client.room_get_event(room_id, target)
            is_ours = isinstance(response, RoomGetEventResponse) and (
                response.event.sender == self._client.user_id
            )
            (known if is_ours else not_ours).put(target, None)


def _direct_inviter(invite_state: list[Any], own_user_id: str) -> str | None:
    """Who invited us to a DM (``is_direct`` on our invite), or None for other rooms."""
    for event in invite_state:
        source = getattr(event, "source", None) or {}
        # nio moves an invite member event's content out of its source.
        content = getattr(event, "content", None) or source.get("content") or {}
        if (
            source.get("type") == "m.room.member"
            and source.get("state_key") == own_user_id
            and content.get("is_direct") is True
            and isinstance(source.get("sender"), str)
        ):
            return str(source["sender"])
    return None
