"""The bot against Element's own SDK: matrix-js-sdk with Rust crypto, in a node process.

Every person here bootstraps cross-signing the way Element does on first login. Today's
Element excludes devices their owner has not signed ("exclude insecure devices", MSC4153,
``OnlySignedDevicesIsolationMode``): these tests show the bot's messages decrypt in both
isolation modes without the "unsigned device" shield, that an unsigned second device of a
client gets no room key, and that a withheld key gets the client a readable explanation.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from adapters.matrix import MatrixAdapter
from adapters.matrix.settings import MatrixSettings
from feedback_bot.app.bootstrap import App, build_app
from feedback_bot.app.settings import Settings
from feedback_bot.storage.models import AllianceScore
from tests.crash_runner import BotProcess, bot_env, wait_for
from tests.fakes.synapse import MatrixUser, SynapseServer
from tests.matrix.conftest import AdapterRunner, unique
from tests.matrix.element import ElementClient, require_node
from tests.matrix.support import MemoryCursorStore, RecordingSink, kill9_bot_env, start_app

WAIT = 45.0

pytestmark = pytest.mark.usefixtures("node")


@pytest.fixture(scope="module")
def node() -> str:
    return require_node()


@pytest.fixture
def strict_bot(bot_settings: MatrixSettings) -> MatrixSettings:
    """Today's Element behaviour: room keys only for devices their owner signed."""
    return bot_settings.model_copy(update={"allow_unsigned_devices": False})


@pytest.fixture
def strict_app_settings(app_settings: Settings, strict_bot: MatrixSettings) -> Settings:
    return app_settings.model_copy(update={"matrix": strict_bot})


@pytest.fixture
async def people(synapse: SynapseServer, tmp_path: Path) -> AsyncIterator[list[ElementClient]]:
    """Element devices started by a test; all closed at the end."""
    started: list[ElementClient] = []
    yield started
    for person in started:
        await person.close()


async def element(
    synapse: SynapseServer,
    people: list[ElementClient],
    tmp_path: Path,
    prefix: str,
    user: MatrixUser | None = None,
    **options: Any,
) -> ElementClient:
    user = user or synapse.register(unique(prefix))
    person = ElementClient(synapse, user, tmp_path / f"{prefix}-{len(people)}.log")
    people.append(person)
    info = await person.start(**options)
    assert info["cross_signing_ready"] is bool(options.get("bootstrap", True))
    return person


def assert_trusted(messages: list[dict[str, Any]]) -> None:
    """Decrypted, and no shield: not "unsigned device", not "unknown device"."""
    for message in messages:
        assert message["encrypted"], message
        assert message["decryption_failure"] is None, message
        assert message["shield"] == {"colour": "NONE", "reason": None}, message


class Chat:
    """A person's DM with the bot, read through their own js-sdk client."""

    def __init__(self, person: ElementClient, room_id: str, bot_id: str) -> None:
        self.person, self.room_id, self.bot_id = person, room_id, bot_id
        self.seen = 0

    @classmethod
    async def open(cls, person: ElementClient, bot_id: str) -> Chat:
        room_id = await person.create_dm(bot_id)
        await person.call("wait_member", room_id=room_id, user_id=bot_id, timeout_ms=30_000)
        return cls(person, room_id, bot_id)

    async def says(self, text: str, until: str, seconds: float = WAIT) -> list[dict[str, Any]]:
        await self.person.say(self.room_id, text)
        return await self.replies(until, seconds)

    async def replies(self, until: str, seconds: float = WAIT) -> list[dict[str, Any]]:
        everything = await self.person.wait_messages(
            self.room_id, self.bot_id, after=self.seen, contains=until, seconds=seconds
        )
        new = everything[self.seen :]
        self.seen = len(everything)
        assert_trusted(new)
        return new

    async def all(self) -> list[dict[str, Any]]:
        return await self.person.messages(self.room_id, self.bot_id)


def bodies(messages: list[dict[str, Any]]) -> list[str]:
    return [m["body"] or "" for m in messages]


@pytest.mark.parametrize("isolation", ["default", "only_signed"])
async def test_element_client_onboards_gives_feedback_and_practitioner_gets_digest(
    isolation: str,
    synapse: SynapseServer,
    strict_app_settings: Settings,
    running: list[App],
    people: list[ElementClient],
    tmp_path: Path,
) -> None:
    settings = strict_app_settings
    bot_id = str(settings.matrix.user_id)
    app = await start_app(settings, running)

    def t(key: str) -> str:
        return app.catalog.t(key, "en", p="!", practitioner="Sam")

    sam_device = await element(synapse, people, tmp_path, "practitioner", isolation=isolation)
    alex_device = await element(synapse, people, tmp_path, "client", isolation=isolation)

    practice = await app.admin.create_practice("Riverside Practice", "Europe/London")
    practitioner_id, code = await app.admin.add_practitioner(practice, "Sam")
    sam = await Chat.open(sam_device, bot_id)
    await sam.says(f"!start {code}", until="!digest")
    invite = await app.admin.invite_client(practitioner_id, "Alex")

    alex = await Chat.open(alex_device, bot_id)
    consent = await alex.says(f"!start {invite.code}", until="2. Not now")
    assert "Riverside Practice" in "\n".join(bodies(consent))
    await alex.says("1", until="2. No, thank you")
    await alex.says("2", until=t("onboarding.done")[:40])

    # Anytime feedback.
    await alex.says("!feedback", until=t("feedback.ask_valence")[:30])
    await alex.says("Something felt good", until=t("feedback.ask_words")[:30])
    await alex.says("the breathing exercise helped", until=t("feedback.ask_routing")[:30])
    [ack] = [
        b
        for b in bodies(await alex.says("1", until="Thank you for telling me"))
        if "Thank you" in b
    ]
    assert "Sam will see this" in ack

    # The DMs the clients opened are the bot's m.direct rooms.
    client = app_client(app)
    direct = await account_data(client, "m.direct")
    assert direct[alex_device.user_id] == [alex.room_id]
    assert direct[sam_device.user_id] == [sam.room_id]

    # The digest: text, trend chart (m.image) and HTML file (m.file), all decryptable.
    async with app.sessions() as session, session.begin():
        now = app.clock.now()
        for weeks, score in ((3, 8), (2, 7), (1, 4)):
            session.add(
                AllianceScore(
                    client_id=invite.client_id,
                    item_key="heard",
                    score=score,
                    at=now - timedelta(weeks=weeks),
                )
            )
    await sam.says("!digest", until=".html")
    await asyncio.sleep(2)  # the image and file follow the text
    messages = await sam.all()
    assert_trusted(messages)
    [html_event] = [m for m in messages if m["msgtype"] == "m.file"]
    [image_event] = [m for m in messages if m["msgtype"] == "m.image"]
    html = (await sam_device.download(html_event["file"])).decode()
    assert "the breathing exercise helped" in html
    chart = await sam_device.download(image_event["file"])
    assert chart.startswith(b"\x89PNG") and len(chart) > 5000
    assert_trusted(await alex.all())


def app_client(app: App) -> Any:
    [adapter] = [a for a in app.adapters.values() if isinstance(a, MatrixAdapter)]
    return adapter._client


async def account_data(client: Any, kind: str) -> dict[str, Any]:
    from adapters.matrix import rawapi

    return await rawapi.get_account_data(client, kind) or {}


async def test_unsigned_second_device_of_a_client_gets_no_room_key(
    synapse: SynapseServer,
    strict_bot: MatrixSettings,
    adapters: AdapterRunner,
    people: list[ElementClient],
    tmp_path: Path,
) -> None:
    sink = RecordingSink()
    bot = await adapters.start(strict_bot, MemoryCursorStore(), sink)
    bot_id = str(bot.user_id)
    signed = await element(synapse, people, tmp_path, "client")
    chat = await Chat.open(signed, bot_id)
    await signed.say(chat.room_id, "hello")
    await sink.wait_for(lambda evs: bool(evs), WAIT)

    # The same person logs in somewhere else and never verifies that session.
    unsigned = await element(synapse, people, tmp_path, "client", user=signed.user, bootstrap=False)
    await unsigned.call("join", room_id=chat.room_id, timeout_ms=30_000)
    nio = bot._client
    assert nio is not None

    await wait_for(
        "the bot to see the new device",
        lambda: unsigned.device_id in nio.device_store[signed.user_id],
        WAIT,
    )

    from feedback_bot.ports import OutgoingMessage

    await bot.send(OutgoingMessage(1, "matrix", chat.room_id, "only for signed devices"))
    [message] = await signed.wait_messages(chat.room_id, bot_id, contains="only for signed devices")
    assert_trusted([message])
    seen = await unsigned.wait_messages(chat.room_id, bot_id, count=1)
    await asyncio.sleep(3)  # a room key that was sent would have arrived by now
    [mine] = [m for m in await unsigned.messages(chat.room_id, bot_id)]
    assert seen and mine["body"] is None and mine["decryption_failure"] is not None
    assert nio.device_store[signed.user_id][unsigned.device_id].blacklisted
    assert not nio.device_store[signed.user_id][signed.device_id].blacklisted


async def test_withheld_key_gets_a_readable_explanation_within_a_minute(
    synapse: SynapseServer,
    strict_app_settings: Settings,
    running: list[App],
    people: list[ElementClient],
    tmp_path: Path,
) -> None:
    settings = strict_app_settings
    bot_id = str(settings.matrix.user_id)
    app = await start_app(settings, running)
    person = await element(synapse, people, tmp_path, "client")
    # Element's "Never send encrypted messages to unverified sessions": the bot's device is
    # cross-signed by the bot, but this person has not verified the bot, so it is withheld.
    await person.call("set_blacklist_unverified", value=True)
    chat = await Chat.open(person, bot_id)
    sent = time.monotonic()
    await person.say(chat.room_id, "!start SOMECODE")
    explanation = app.catalog.t("unreadable", "en", p="!")[:40]
    [reply] = await chat.replies(until=explanation, seconds=60)
    took = time.monotonic() - sent
    assert took < 60
    print(f"\nwithheld key → readable explanation in {took:.1f} s")


KILL_MARKER = "KILL9-ELEMENT-7d2a"


async def test_kill9_restart_keeps_the_device_cross_signed_and_uploads_nothing(
    synapse: SynapseServer,
    bot_account: MatrixUser,
    people: list[ElementClient],
    tmp_path: Path,
) -> None:
    settings, env = kill9_bot_env(
        synapse, bot_account, tmp_path, pickle_key="kill9 element pickle key"
    )
    app = await build_app(settings)
    processes: list[BotProcess] = []
    try:
        practice = await app.admin.create_practice("Riverside Practice", "Europe/London")
        practitioner_id, _ = await app.admin.add_practitioner(practice, "Sam")
        invite = await app.admin.invite_client(practitioner_id, "Alex")
        t = lambda key: app.catalog.t(key, "en", p="!", practitioner="Sam")  # noqa: E731

        first = BotProcess("bot-1", tmp_path, bot_env(env, marker=KILL_MARKER))
        processes.append(first)
        person = await element(synapse, people, tmp_path, "client", isolation="only_signed")
        alex = await Chat.open(person, bot_account.user_id)
        await alex.says(f"!start {invite.code}", until="2. Not now", seconds=60)
        await alex.says("1", until="2. No, thank you")
        await alex.says("2", until=t("onboarding.done")[:40])
        master_before = published_master(synapse, bot_account)

        await person.say(alex.room_id, f"the last session felt rushed {KILL_MARKER}")
        assert await first.wait_exit(WAIT) == -signal.SIGKILL, first.output()

        second = BotProcess("bot-2", tmp_path, bot_env(env))
        processes.append(second)
        await alex.replies(until=t("feedback.ask_valence")[:30], seconds=60)
        await alex.says("Something felt good", until=t("feedback.ask_routing")[:30])
        assert_trusted(await alex.all())
        assert published_master(synapse, bot_account) == master_before
        assert await second.stop() == 0, second.output()

        first_log, second_log = first.log.read_text(), second.log.read_text()
        assert "uploaded the bot's cross-signing identity" in first_log
        assert "cross-signed the bot's device" in first_log
        assert "cross-signing" not in second_log, second.output()  # nothing uploaded or signed
        assert "ERROR" not in second_log and "WARNING" not in second_log, second.output()
    finally:
        for process in processes:
            process.kill()
        await app.close()


def published_master(synapse: SynapseServer, user: MatrixUser) -> str:
    body = {"device_keys": {user.user_id: []}}
    answer = synapse.request("POST", "/_matrix/client/v3/keys/query", body, user.access_token)
    [key] = answer["master_keys"][user.user_id]["keys"].values()
    return str(key)


async def test_dm_the_bot_opens_is_in_its_m_direct_and_reads_cleanly_in_element(
    synapse: SynapseServer,
    strict_bot: MatrixSettings,
    adapters: AdapterRunner,
    people: list[ElementClient],
    tmp_path: Path,
) -> None:
    bot = await adapters.start(strict_bot, MemoryCursorStore(), RecordingSink())
    person = await element(synapse, people, tmp_path, "practitioner", isolation="only_signed")
    room_id = await bot.open_dm(person.user_id)
    await person.call("join", room_id=room_id, timeout_ms=30_000)
    await wait_for(
        "the bot to see the join",
        lambda: person.user_id in getattr(bot._client.rooms.get(room_id), "users", ()),  # type: ignore[union-attr]
        WAIT,
    )

    from feedback_bot.ports import OutgoingMessage

    await bot.send(OutgoingMessage(1, "matrix", room_id, "welcome, Sam"))
    messages = await person.wait_messages(room_id, str(bot.user_id), contains="welcome, Sam")
    assert_trusted(messages)
    assert (await account_data(bot._client, "m.direct")) == {person.user_id: [room_id]}
