"""The whole app over encrypted Matrix: link, consent by number, feedback, restart, digest."""

from __future__ import annotations

from datetime import timedelta

from nio import MemoryDownloadResponse, RoomEncryptedFile, RoomEncryptedImage
from nio.crypto import decrypt_attachment
from sqlalchemy import select

from feedback_bot.app.bootstrap import App
from feedback_bot.app.settings import Settings
from feedback_bot.storage.models import AllianceScore, InboxEvent
from tests.fakes.synapse import SynapseServer
from tests.matrix.conftest import unique
from tests.matrix.support import Chat, ClientUser, open_chat, start_app


async def onboard(
    app: App, practitioner: ClientUser, client: ClientUser, bot_id: str
) -> tuple[Chat, Chat, int]:
    """Sam links with the admin's code; Alex redeems an invite, consents by number and
    declines alerts with a reaction. Returns both chats and Alex's client id."""
    practice = await app.admin.create_practice("Riverside Practice", "Europe/London")
    practitioner_id, code = await app.admin.add_practitioner(practice, "Sam")
    sam = await open_chat(practitioner, bot_id)
    await sam.says(f"!start {code}", until="!digest")
    invite = await app.admin.invite_client(practitioner_id, "Alex")
    alex = await open_chat(client, bot_id)

    consent = await alex.says(f"!start {invite.code}", until="2. Not now")
    assert "Riverside Practice" in "\n".join(consent) and "1. I agree" in consent[-1]
    await alex.says("1", until="2. No, thank you")
    done_text = app.catalog.t("onboarding.done", "en", p="!", practitioner="Sam")
    [done] = await alex.react_to_last("2\ufe0f\u20e3", until=done_text[:40])
    assert done.startswith(done_text)
    return sam, alex, invite.client_id


async def test_after_the_crisis_reply_nothing_routine_follows_and_the_words_wait(
    app_settings: Settings, running: list[App], client: ClientUser, practitioner: ClientUser
) -> None:
    bot_id = str(app_settings.matrix.user_id)
    app = await start_app(app_settings, running)

    def t(key: str) -> str:
        return app.catalog.t(key, "en", p="!", practitioner="Sam")

    sam, alex, _ = await onboard(app, practitioner, client, bot_id)
    told_sam = len(sam.bodies())
    replies = await alex.says("I have been thinking about ending my life", until="kept what")
    assert replies[0].startswith(t("safety.reply")) and "112" in replies[0]
    assert replies[-1] == t("safety.kept")  # and no numbered question after the help
    assert not any("1. " in r for r in replies)
    later = await alex.says("!feedback", until="Something didn't feel right")
    assert t("feedback.kept_words") in later[-1]
    assert len(sam.bodies()) == told_sam  # Alex declined alerts: Sam is not told now


async def test_group_rooms_are_refused_politely(
    app_settings: Settings, running: list[App], synapse: SynapseServer, client: ClientUser
) -> None:
    bot_id = str(app_settings.matrix.user_id)
    app = await start_app(app_settings, running)
    third = synapse.register(unique("friend"))

    room_id = await client.create_dm(bot_id, third.user_id)
    await client.say(room_id, "hello everyone")

    def bot_gone() -> bool:
        room = client.nio.rooms.get(room_id)
        return (
            bool(room) and bot_id not in room.users and bool(client.messages_from(room_id, bot_id))
        )

    await client.wait_until(bot_gone)
    [note] = client.messages_from(room_id, bot_id)
    assert "one-to-one" in note.body
    assert note.body == app.catalog.t("group_refused", "en")  # the core's words, localized
    async with app.sessions() as session:
        received = (await session.execute(select(InboxEvent.event_id))).scalars().all()
    # Nothing said in the group reaches the core; only that this chat is a group.
    assert [e.startswith(f"group:{room_id}:") for e in received] == [True]


async def test_client_links_consents_gives_feedback_and_practitioner_gets_digest(
    app_settings: Settings,
    running: list[App],
    client: ClientUser,
    practitioner: ClientUser,
) -> None:
    bot_id = str(app_settings.matrix.user_id)
    app = await start_app(app_settings, running)

    def t(key: str) -> str:
        return app.catalog.t(key, "en", p="!", practitioner="Sam")

    sam, alex, alex_id = await onboard(app, practitioner, client, bot_id)

    await alex.says("the last session felt rushed", until="4. Skip")
    await alex.says("2", until=t("feedback.ask_routing"))
    [ack] = await alex.says("1", until="Thank you for telling me")
    assert "Sam will see this" in ack

    # The bot goes down and comes back on the same database and key store.
    await app.close()
    running.remove(app)
    await alex.person.say(alex.room_id, "!feedback")
    app = await start_app(app_settings, running)
    await alex.replies(until=t("feedback.ask_valence"))
    await alex.says("Something felt good", until=t("feedback.ask_words")[:30])
    await alex.says("the breathing exercise helped", until=t("feedback.ask_routing"))
    await alex.says("Just so you know", until="Thank you for telling me")
    assert sum("Sam will see this" in b for b in alex.bodies()) == 2  # nothing re-sent

    # Alliance scores from earlier check-ins put a trend chart into the digest.
    async with app.sessions() as session, session.begin():
        now = app.clock.now()
        for weeks, score in ((3, 8), (2, 7), (1, 4)):
            session.add(
                AllianceScore(
                    client_id=alex_id,
                    item_key="heard",
                    score=score,
                    at=now - timedelta(weeks=weeks),
                )
            )
    digest = await sam.says("!digest", until=".html")
    assert any("Alex" in body for body in digest)
    html = (await _download(practitioner, sam.room_id, bot_id, RoomEncryptedFile)).decode()
    assert "the last session felt rushed" in html
    assert "the breathing exercise helped" in html
    chart = await _download(practitioner, sam.room_id, bot_id, RoomEncryptedImage)
    assert chart.startswith(b"\x89PNG") and len(chart) > 5000


async def _download(person: ClientUser, room_id: str, bot_id: str, kind: type) -> bytes:
    [file] = [m for m in person.messages_from(room_id, bot_id) if isinstance(m, kind)]
    response = await person.nio.download(file.url)
    assert isinstance(response, MemoryDownloadResponse), response
    return bytes(decrypt_attachment(response.body, file.key["k"], file.hashes["sha256"], file.iv))


async def test_practitioner_replies_and_acknowledges_by_typing_numbers(
    app_settings: Settings, running: list[App], client: ClientUser, practitioner: ClientUser
) -> None:
    """Matrix has no buttons: the digest's choices are answered by typing their number."""
    bot_id = str(app_settings.matrix.user_id)
    app = await start_app(app_settings, running)

    def t(key: str, **params: object) -> str:
        return app.catalog.t(key, "en", p="!", practitioner="Sam", **params)

    sam, alex, _ = await onboard(app, practitioner, client, bot_id)
    await alex.says("the ending felt rushed", until="4. Skip")
    await alex.says("2", until=t("feedback.ask_routing"))
    [ack] = await alex.says("2", until="Thank you for telling me")
    assert "!urgent" in ack and "findahelpline" not in ack

    digest = await sam.says("!digest", until="2. Reply to Alex")
    assert any("1. I've read this" in body for body in digest)
    await sam.says("2", until="won't be asked to reply")
    await sam.says("Thank you for telling me, let's talk about it on Tuesday", until="Sent to Alex")
    [note] = await alex.replies(until="talk about it on Tuesday")
    assert "own words" in note and "1. " not in note  # nothing for Alex to answer

    await sam.says("1", until="3. In my own words")  # "I've read this", typed
    await sam.says("2", until=t("reply.acked", names="Alex"))
    [told] = await alex.replies(until="has read what you shared")
    assert told == t("loop.read_session")
