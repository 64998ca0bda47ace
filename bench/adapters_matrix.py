"""Adapter overhead on Matrix: the whole bot vs a bare matrix-nio echo bot, both on the
local Synapse the Matrix tests use (``tests/fakes/synapse.py``, started here the same way),
both answering one person's end-to-end encrypted direct chats.

Both sides E2E: that is how the bot is used (Element creates encrypted DMs, and our
adapter is built for them), and the encryption work (Olm/Megolm on the way in and out)
is then on both sides, not only on ours.

What one sample measures, the same on both sides: from the moment the person's client
starts sending a text (encrypting it, ``room_send``) to the moment its sync loop has
received and decrypted the bot's reply. Both bots sync with the same long-poll timeout.

* **bare**: a matrix-nio ``AsyncClient`` (E2E store, ``sync_forever``) that joins the DMs
  it is invited to and answers each text with ``room_send`` of the same text;
* **ours**: ``build_app`` + ``App.start`` with the Matrix adapter on SQLite (or
  PostgreSQL); each DM is a linked, consenting client's chat, and the text a free text,
  so: adapter → inbox commit → engine (a draft, the first question) → outbox row in the
  same transaction → dispatcher → ``room_send``.

Each round sends one text in each DM, one at a time, with a pause after each reply; a
room gets at most one message a round, so the 1 message/s per room pacing never waits. An
untimed round first: a room's first message on either side sets up its encryption
session (keys shared with the other's device), which is not what an update costs.
Between rounds (untimed) our conversations go back to idle, so every round does the same
work. Our bot runs first, then the bare one (separate accounts).
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from sqlalchemy import event

from bench.adapters import PAUSE, POLL_TIMEOUT, OverheadResult
from bench.common import Backend, bench_settings

TEXT = "the room was too cold today"


class MatrixUnavailable(Exception):
    """Synapse or matrix-nio could not be started here."""


@contextlib.contextmanager
def synapse_server(workdir: Path) -> Any:
    import pytest

    from tests.fakes.synapse import SynapseServer

    server = SynapseServer(workdir / "synapse")
    try:
        server.start()
    except pytest.skip.Exception as exc:  # how the test helper says "not here"
        raise MatrixUnavailable(str(exc)) from None
    try:
        yield server
    finally:
        server.stop()


async def _rooms_with(person: Any, bot_id: str, n: int) -> list[str]:
    """``n`` encrypted DMs of ``person`` with ``bot_id``, each joined by the bot with its
    device keys known to the person (so the first text is encrypted for it)."""
    rooms = [await person.create_dm(bot_id) for _ in range(n)]
    for room_id in rooms:
        await person.wait_for_join(room_id, bot_id)
    return rooms


async def _timed(person: Any, rooms: list[str], bot_id: str) -> tuple[list[float], float]:
    out: list[float] = []
    cpu0 = time.process_time()
    for room_id in rooms:
        before = len(person.messages_from(room_id, bot_id))
        t0 = time.perf_counter()
        await person.say(room_id, TEXT)
        await person.wait_until(
            lambda r=room_id, b=before: len(person.messages_from(r, bot_id)) > b, 30
        )
        out.append(time.perf_counter() - t0)
        await asyncio.sleep(PAUSE)
    return out, (time.process_time() - cpu0) * 1000 / len(rooms)


@contextlib.asynccontextmanager
async def bare_nio(server: Any, store: Path) -> AsyncIterator[str]:
    """A bare matrix-nio echo bot, E2E; yields its user id."""
    from nio import (
        AsyncClient,
        AsyncClientConfig,
        InviteMemberEvent,
        LoginResponse,
        MatrixRoom,
        RoomMessageText,
    )

    account = server.register(f"echo-{int(time.time() * 1000)}")
    await asyncio.to_thread(store.mkdir, parents=True, exist_ok=True)
    client = AsyncClient(
        server.base_url,
        account.user_id,
        store_path=str(store),
        config=AsyncClientConfig(encryption_enabled=True, store_sync_tokens=False),
    )
    response = await client.login(account.password, device_name="echo")
    assert isinstance(response, LoginResponse), response

    async def joined(room: MatrixRoom, event: InviteMemberEvent) -> None:
        if event.state_key == client.user_id and event.membership == "invite":
            await client.join(room.room_id)

    async def echo(room: MatrixRoom, event: RoomMessageText) -> None:
        if event.sender == client.user_id:
            return
        await client.room_send(
            room.room_id,
            "m.room.message",
            {"msgtype": "m.text", "body": event.body},
            ignore_unverified_devices=True,
        )

    client.add_event_callback(joined, InviteMemberEvent)  # type: ignore[arg-type]
    client.add_event_callback(echo, RoomMessageText)  # type: ignore[arg-type]
    task = asyncio.create_task(client.sync_forever(timeout=POLL_TIMEOUT * 1000))
    try:
        yield account.user_id
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await client.close()


@contextlib.asynccontextmanager
async def our_matrix_bot(
    server: Any, url: str, store: Path, person: Any, n_rooms: int
) -> AsyncIterator[tuple[str, list[str], Any, Callable[[], int]]]:
    """The whole bot over Matrix, started, with ``n_rooms`` DMs of ``person``, each a
    linked, consenting client's chat. Yields (bot id, rooms, app, statements so far)."""
    from adapters.matrix import MatrixAdapter
    from adapters.matrix.settings import MatrixSettings
    from bench.seed import seed_clients
    from feedback_bot.app.bootstrap import build_app
    from feedback_bot.ports import CursorStore
    from feedback_bot.scheduling.clock import SystemClock

    account = server.register(f"bot-{int(time.time() * 1000)}")
    matrix = MatrixSettings(
        homeserver=server.base_url,
        user_id=account.user_id,
        password=SecretStr(account.password),
        store_path=store,
        pickle_key=SecretStr("bench pickle key"),
        allow_unsigned_devices=True,  # the nio client has no cross-signing
        per_room_per_second=1.0,
    )
    settings = bench_settings(url).model_copy(update={"matrix": matrix})

    def factory(cursors: CursorStore) -> MatrixAdapter:
        return MatrixAdapter(settings.matrix, cursors, sync_timeout_ms=POLL_TIMEOUT * 1000)

    app = await build_app(settings, adapters=[factory], clock=SystemClock())
    counter = [0]

    def count(*_: object) -> None:
        counter[0] += 1

    engines = [app.engine] + ([app.receiving] if app.receiving is not None else [])
    try:
        # The rooms first (the bot joins them once it runs), then their clients as rows.
        rooms = [await person.create_dm(account.user_id) for _ in range(n_rooms)]
        await seed_clients(
            app.sessions,
            app.config,
            n_rooms,
            now=app.clock.now(),
            platform="matrix",
            addresses=rooms,
        )
        await app.start()
        for room_id in rooms:
            await person.wait_for_join(room_id, account.user_id)
        for engine in engines:
            event.listen(engine.sync_engine, "before_cursor_execute", count)
        yield account.user_id, rooms, app, lambda: counter[0]
    finally:
        await app.close()


async def run_matrix_overhead(backend: Backend, *, updates: int, rounds: int) -> OverheadResult:
    """Raises :class:`MatrixUnavailable` when Synapse can't run here."""
    from bench.common import reset_conversations_of
    from tests.matrix.support import ClientUser

    result = OverheadResult("matrix", backend.name, updates)
    with tempfile.TemporaryDirectory(prefix="fbbench-matrix-") as tmp_name:
        tmp = Path(tmp_name)
        with synapse_server(tmp) as server:
            person = ClientUser(server, server.register("person"), tmp / "person")
            await person.start()
            try:
                async with (
                    backend.database() as url,
                    our_matrix_bot(server, url, tmp / "bot-store", person, updates) as (
                        bot_id,
                        rooms,
                        app,
                        statements,
                    ),
                ):
                    # Warm-up, untimed: each room's first message on either side sets
                    # up its encryption session (key sharing); that is not per update.
                    await _timed(person, rooms, bot_id)
                    for _ in range(rounds):
                        await reset_conversations_of(app)
                        n0 = statements()
                        lat, cpu = await _timed(person, rooms, bot_id)
                        result.statements = (statements() - n0) / len(rooms)
                        result.ours_s.append(lat)
                        result.ours_cpu_ms.append(cpu)
                async with bare_nio(server, tmp / "echo-store") as echo_id:
                    echo_rooms = await _rooms_with(person, echo_id, updates)
                    await _timed(person, echo_rooms, echo_id)
                    for _ in range(rounds):
                        lat, cpu = await _timed(person, echo_rooms, echo_id)
                        result.bare_s.append(lat)
                        result.bare_cpu_ms.append(cpu)
            finally:
                await person.close()
    return result
