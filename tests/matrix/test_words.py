"""Words never lost or misread, over encrypted Matrix (issue 16, points 0–5): no buttons
here, so everything is typed. A client agrees, writes instead of answering the alerts
question, types commands without the "!" and in German, comes back after a pause with
something new, and leaves a question unanswered until the clock files it."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from feedback_bot.app.bootstrap import App
from feedback_bot.app.settings import Settings
from feedback_bot.storage.models import Client, Conversation, FeedbackItem, Identity
from tests.matrix.support import ClientUser, open_chat, start_app


async def earlier(app: App, client_id: int, hours: float) -> None:
    """Time passes for the client's draft: its stored times move back (this bot runs on
    the real clock, as Synapse does). Quiet hours are off, whenever the test runs."""
    async with app.sessions() as session, session.begin():
        client = await session.get(Client, client_id)
        assert client is not None
        client.quiet_start = client.quiet_end = "00:00"
        drafts = await session.execute(
            select(FeedbackItem).where(
                FeedbackItem.client_id == client_id, FeedbackItem.status == "draft"
            )
        )
        for item in drafts.scalars():
            for name in ("created_at", "active_at", "draft_due_at"):
                if getattr(item, name) is not None:
                    setattr(item, name, getattr(item, name) - timedelta(hours=hours))
        conv = (
            await session.execute(
                select(Conversation)
                .join(Identity, Identity.id == Conversation.identity_id)
                .where(Identity.client_id == client_id)
            )
        ).scalar_one()
        conv.updated_at -= timedelta(hours=hours)
        if client.alerts_ask_at is not None:
            client.alerts_ask_at -= timedelta(hours=hours)


async def test_typed_words_and_commands_are_kept_and_understood(
    app_settings: Settings, running: list[App], client: ClientUser, practitioner: ClientUser
) -> None:
    bot_id = str(app_settings.matrix.user_id)
    app = await start_app(app_settings, running)

    def t(key: str, lang: str = "en", **params: object) -> str:
        return app.catalog.t(key, lang, p="!", practitioner="Sam", **params)

    async def tick(hours: float) -> None:
        await earlier(app, invite.client_id, hours)
        await app.tick()

    practice = await app.admin.create_practice("Riverside Practice", "Europe/London")
    pid, code = await app.admin.add_practitioner(practice, "Sam")
    sam = await open_chat(practitioner, bot_id)
    await sam.says(f"!start {code}", until="!digest")
    invite = await app.admin.invite_client(pid, "Alex")
    alex = await open_chat(client, bot_id)
    await alex.says(f"!start {invite.code}", until="2. Not now")
    await alex.says("1", until="2. No, thank you")

    # 1: words instead of the alerts answer: consent kept, and the words too.
    replies = await alex.says("The homework felt like too much", until="4. Skip")
    assert replies[0] == t("words.consent_kept")
    await alex.says("2", until=t("feedback.ask_routing"))
    await alex.says("Just so you know", until="Thank you for telling me")

    # 4: commands without the "!", and in the client's language.
    await alex.says("?", until=t("help.intro.client")[:30])
    await alex.says("language de", until=t("language.done", "de"))
    await alex.says("hilfe", until=t("help.intro.client", "de")[:30])
    await alex.says("sprache en", until=t("language.done"))

    # 3: after a pause, new words are asked about, not merged.
    await alex.says("The receptionist was short with me", until="4. Skip")
    await alex.says("2", until=t("feedback.ask_routing"))
    await earlier(app, invite.client_id, 1)
    await alex.says("The session itself was lovely though", until=t("words.ask_belongs"))
    [reply] = await alex.says("2", until=t("words.new_one"))
    assert '"!withdraw 2"' in reply  # the earlier one went as it was, and they were told

    # 0: this one is left unanswered: asked once more, then filed.
    await tick(5)
    [nudge] = await alex.replies(until=t("words.nudge")[:30])
    assert "1. Something felt good" in nudge
    await tick(21)
    # Filed, and they are told; and the alerts question, open since onboarding, is asked
    # again now that no other question is open.
    told = await alex.replies(until=t("words.ask_alerts_again")[:30])
    assert '"!withdraw 3"' in told[0]

    # 5: numbers stay as they were; withdrawing twice says so.
    [listing] = await alex.says("mine", until="3. ")
    assert "\n1. " in listing and "\n2. " in listing
    await alex.says("withdraw 2", until=t("mine.withdrawn"))
    await alex.says("withdraw 2", until=t("words.already_withdrawn", n="2"))

    digest = await sam.says("!digest", until=".html")
    assert any("Alex" in body for body in digest)
