"""Test doubles for the core side (cursor store, sink), a real nio client playing the client,
and the whole app started over Matrix with a person's DM read the way they would read it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from typing import Any

from nio import (
    AsyncClient,
    AsyncClientConfig,
    Event,
    LoginResponse,
    MegolmEvent,
    RoomCreateResponse,
    RoomMessage,
    RoomPreset,
    RoomSendResponse,
)

from adapters.matrix import MatrixAdapter
from feedback_bot.app.bootstrap import App, build_app
from feedback_bot.app.settings import Settings
from feedback_bot.ports import Adapter, CursorStore, IncomingEvent
from feedback_bot.privacy.crypto import generate_key
from tests import harness
from tests.fakes.synapse import MatrixUser, SynapseServer

WAIT = 20.0  # seconds; every wait in these tests is bounded by this
ENCRYPTION_STATE = {
    "type": "m.room.encryption",
    "state_key": "",
    "content": {"algorithm": "m.megolm.v1.aes-sha2"},
}


class MemoryCursorStore:
    def __init__(self) -> None:
        self.values: dict[str, str] = {}
        self.writes: list[tuple[str, str]] = []

    async def get(self, name: str) -> str | None:
        return self.values.get(name)

    async def set(self, name: str, value: str) -> None:
        self.values[name] = value
        self.writes.append((name, value))


class SinkCrash(Exception):
    """Stands in for the process dying before the inbox commit."""


class RecordingSink:
    """Plays the inbox: records committed events; ``fail_on`` simulates a crash before commit."""

    def __init__(self, fail_on: Callable[[IncomingEvent], bool] | None = None) -> None:
        self.events: list[IncomingEvent] = []
        self.failed: list[IncomingEvent] = []
        self._fail_on = fail_on
        self._changed = asyncio.Condition()

    async def __call__(self, event: IncomingEvent) -> None:
        async with self._changed:
            if self._fail_on is not None and self._fail_on(event):
                self.failed.append(event)
                self._changed.notify_all()
                raise SinkCrash(event.event_id)
            self.events.append(event)
            self._changed.notify_all()

    async def wait_for(
        self, predicate: Callable[[list[IncomingEvent]], bool], seconds: float = WAIT
    ) -> list[IncomingEvent]:
        async with asyncio.timeout(seconds), self._changed:
            await self._changed.wait_for(lambda: predicate(self.events))
        return self.events

    async def wait_for_failure(self, seconds: float = WAIT) -> IncomingEvent:
        async with asyncio.timeout(seconds), self._changed:
            await self._changed.wait_for(lambda: bool(self.failed))
        return self.failed[0]


class ClientUser:
    """A person using an e2e-capable Matrix client (its own device and key store)."""

    def __init__(self, synapse: SynapseServer, user: MatrixUser, store: Path) -> None:
        store.mkdir(parents=True, exist_ok=True)
        config = AsyncClientConfig(encryption_enabled=True, store_sync_tokens=False)
        self.user = user
        self.nio = AsyncClient(synapse.base_url, user.user_id, store_path=str(store), config=config)
        self.timeline: dict[str, list[Event]] = {}
        self._changed = asyncio.Condition()
        self._task: asyncio.Task[None] | None = None

    @property
    def user_id(self) -> str:
        return self.user.user_id

    async def start(self) -> None:
        response = await self.nio.login(self.user.password, device_name="test client")
        assert isinstance(response, LoginResponse), response
        self.nio.add_event_callback(self._on_event, Event)
        self._task = asyncio.create_task(self.nio.sync_forever(timeout=500))
        await self.wait_until(lambda: bool(self.nio.next_batch))

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task
        await self.nio.close()

    async def _on_event(self, room: Any, event: Event) -> None:
        async with self._changed:
            self.timeline.setdefault(room.room_id, []).append(event)
            self._changed.notify_all()

    async def wait_until(self, predicate: Callable[[], bool], seconds: float = WAIT) -> None:
        """Re-checked after every event and every sync turn."""
        async with asyncio.timeout(seconds):
            while not predicate():
                with suppress(TimeoutError):
                    async with asyncio.timeout(0.2), self._changed:
                        await self._changed.wait()

    async def create_dm(self, *invitees: str, encrypted: bool = True) -> str:
        """Like Element's "start chat": private, direct, encrypted from the first event."""
        response = await self.nio.room_create(
            is_direct=True,
            preset=RoomPreset.private_chat,
            invite=list(invitees),
            initial_state=[ENCRYPTION_STATE] if encrypted else [],
        )
        assert isinstance(response, RoomCreateResponse), response
        room_id = str(response.room_id)
        await self.wait_until(lambda: room_id in self.nio.rooms)
        return room_id

    async def wait_for_join(self, room_id: str, user_id: str) -> None:
        """Joined, and we hold the device keys, so our next message is encrypted for it."""

        def ready() -> bool:
            room = self.nio.rooms.get(room_id)
            member = room.users.get(user_id) if room else None
            if not member or member.invited:
                return False
            return not room.encrypted or bool(self.nio.device_store[user_id])

        await self.wait_until(ready)

    async def accept_invite(self, room_id: str) -> None:
        await self.wait_until(lambda: room_id in self.nio.invited_rooms)
        await self.nio.join(room_id)
        await self.wait_until(lambda: room_id in self.nio.rooms)

    async def send(
        self, room_id: str, content: dict[str, Any], kind: str = "m.room.message"
    ) -> str:
        response = await self.nio.room_send(room_id, kind, content, ignore_unverified_devices=True)
        assert isinstance(response, RoomSendResponse), response
        return str(response.event_id)

    async def say(self, room_id: str, text: str) -> str:
        return await self.send(room_id, {"msgtype": "m.text", "body": text})

    def messages_from(self, room_id: str, sender: str) -> list[Event]:
        """Messages (decrypted, or MegolmEvent if we could not) in arrival order."""
        return [
            e
            for e in self.timeline.get(room_id, [])
            if e.sender == sender and isinstance(e, RoomMessage | MegolmEvent)
        ]

    async def wait_for_messages(
        self, room_id: str, sender: str, count: int, seconds: float = WAIT
    ) -> list[Event]:
        await self.wait_until(lambda: len(self.messages_from(room_id, sender)) >= count, seconds)
        events = self.messages_from(room_id, sender)
        undecrypted = [e for e in events if isinstance(e, MegolmEvent)]
        assert not undecrypted, "the client could not decrypt the bot's messages"
        return events


def kill9_bot_env(
    synapse: SynapseServer,
    bot_account: MatrixUser,
    tmp_path: Path,
    *,
    pickle_key: str,
    **extra: str,
) -> tuple[Settings, dict[str, str]]:
    """Settings for the admin side in the test and the environment of a bot process (kill -9
    tests) sharing one SQLite file under ``tmp_path``; ``extra`` adds variables."""
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite3'}"
    settings = harness.settings_for(database_url, encryption_key=generate_key())
    assert settings.encryption_key is not None
    env = {
        "FEEDBACK_BOT_DATABASE_URL": database_url,
        "FEEDBACK_BOT_ENCRYPTION_KEY": settings.encryption_key.get_secret_value(),
        "FEEDBACK_BOT_PROMPTS_FILE": str(harness.REPO / "config" / "prompts.yaml"),
        "FEEDBACK_BOT_LOG_LEVEL": "INFO",
        "FEEDBACK_BOT_MATRIX__HOMESERVER": synapse.base_url,
        "FEEDBACK_BOT_MATRIX__USER_ID": bot_account.user_id,
        "FEEDBACK_BOT_MATRIX__PASSWORD": bot_account.password,
        "FEEDBACK_BOT_MATRIX__STORE_PATH": str(tmp_path / "bot-store"),
        "FEEDBACK_BOT_MATRIX__PICKLE_KEY": pickle_key,
        "FEEDBACK_BOT_MATRIX__PER_ROOM_PER_SECOND": "20",
        "FEEDBACK_BOT_SCHEDULING__DISPATCH_SECONDS": "0.2",
        **extra,
    }
    return settings, env


async def start_app(settings: Settings, running: list[App]) -> App:
    """The whole app over Matrix, real clock and scheduler: per-room rate limits and the
    dispatch job pace replies. ``running`` is the fixture that closes it at the end."""

    def matrix(cursors: CursorStore) -> Adapter:
        return MatrixAdapter(settings.matrix, cursors, sync_timeout_ms=2_000)

    app = await build_app(settings, adapters=[matrix])
    running.append(app)
    await app.start()
    return app


class Chat:
    """One person's DM with the bot, read the way they would read it."""

    def __init__(self, person: ClientUser, room_id: str, bot_id: str) -> None:
        self.person, self.room_id, self.bot_id = person, room_id, bot_id
        self.seen = 0

    def bodies(self) -> list[str]:
        return [m.body for m in self.person.messages_from(self.room_id, self.bot_id)]

    async def says(self, text: str, until: str) -> list[str]:
        """Send ``text``; return the bot's new messages once one of them contains ``until``."""
        await self.person.say(self.room_id, text)
        return await self.replies(until)

    async def replies(self, until: str) -> list[str]:
        await self.person.wait_until(lambda: any(until in b for b in self.bodies()[self.seen :]))
        new = self.bodies()[self.seen :]
        self.seen += len(new)
        return new

    async def react_to_last(self, key: str, until: str) -> list[str]:
        last = self.person.messages_from(self.room_id, self.bot_id)[-1]
        relation = {"rel_type": "m.annotation", "event_id": last.event_id, "key": key}
        await self.person.send(self.room_id, {"m.relates_to": relation}, "m.reaction")
        return await self.replies(until)


async def open_chat(person: ClientUser, bot_id: str) -> Chat:
    room_id = await person.create_dm(bot_id)
    await person.wait_for_join(room_id, bot_id)
    return Chat(person, room_id, bot_id)
