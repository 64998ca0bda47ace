"""Onboarding through the whole app: linking a chat with a code, and consent before anything
is stored. Wrong, expired, reused and malformed codes get a kind reply and leave nothing
behind about the chat that tried them."""

from __future__ import annotations

from datetime import timedelta

import pytest

from feedback_bot.people.codes import new_code
from feedback_bot.storage.models import (
    Client,
    ConsentRecord,
    FeedbackItem,
    Identity,
    InboxEvent,
    InviteCode,
    OutboxMessage,
    Practice,
    SafetyEvent,
)
from tests.harness import Harness, count, rows, t


async def identity_of(bot: Harness, address: str) -> Identity | None:
    found = await rows(bot, Identity, Identity.platform == "console", Identity.address == address)
    return found[0] if found else None


async def nothing_about(bot: Harness, address: str) -> None:
    """No identity for the chat, no pending work and no content left behind for it."""
    assert await identity_of(bot, address) is None
    chat_hash = bot.app.vault.keyed_hash("console", address)
    inbox = await rows(bot, InboxEvent, InboxEvent.chat_hash == chat_hash)
    assert inbox, "the test should have sent something from this chat"
    assert all(r.status == "done" and r.payload_enc is None for r in inbox)
    assert await count(bot, OutboxMessage, OutboxMessage.address == chat_hash) == 0


# -- consent -------------------------------------------------------------------------------


async def test_consent_text_names_practice_practitioner_storage_and_safety(bot: Harness) -> None:
    pid = await bot.practitioner("dr", name="Sam")
    invite = await bot.app.admin.invite_client(pid, "Alex")
    replies = await bot.says("alex", f"!start {invite.code}")
    consent = "\n".join(replies)

    async with bot.app.sessions() as s:
        practice = await s.get(Practice, bot.practice_id)
    assert practice is not None
    assert practice.name in consent
    assert "Sam" in consent
    assert t(bot, "onboarding.stored") in consent  # what is stored, who reads it
    assert t(bot, "common.not_monitored") in consent
    for res in bot.app.config.crisis_resources_for("en").all():
        assert res.contact in consent
    for command in ("!pause", "!stop", "!delete", "!export"):
        assert command in consent
    labels = [c.label for c in bot.last_with_choices("alex").choices]
    assert labels == [t(bot, "choices.agree"), t(bot, "choices.not_now")]
    # Linked, but not yet agreed: nothing is stored beyond the link.
    client = (await rows(bot, Client, Client.id == invite.client_id))[0]
    assert client.status == "invited"
    assert await count(bot, ConsentRecord) == 0


@pytest.mark.parametrize("alerts", [True, False])
async def test_agree_then_alerts_question_then_done(bot: Harness, alerts: bool) -> None:
    pid = await bot.practitioner("dr")
    invite = await bot.app.admin.invite_client(pid, "Alex")
    await bot.says("alex", f"!start {invite.code}")

    replies = await bot.presses("alex", "I agree")
    assert len(replies) == 1 and replies[0].startswith(t(bot, "onboarding.ask_alerts"))
    assert [c.label for c in bot.last_with_choices("alex").choices] == [
        "Yes, let them know",
        "No, thank you",
    ]
    # Agreeing to storage alone does not finish: the alerts question is still open.
    assert (await rows(bot, Client, Client.id == invite.client_id))[0].status == "invited"

    replies = await bot.presses("alex", "Yes, let them know" if alerts else "No, thank you")
    assert len(replies) == 1 and replies[0].startswith(t(bot, "onboarding.done"))

    client = (await rows(bot, Client, Client.id == invite.client_id))[0]
    assert client.status == "active"
    assert client.risk_alerts is alerts
    assert client.consent_version == bot.app.config.consent_version
    consents = await rows(bot, ConsentRecord, ConsentRecord.client_id == client.id)
    assert len(consents) == 1
    assert consents[0].risk_alerts is alerts and consents[0].withdrawn_at is None

    # And now free text is taken in.
    replies = await bot.says("alex", "the last session felt rushed")
    assert replies[0].startswith(t(bot, "feedback.ask_valence"))
    assert await count(bot, FeedbackItem, FeedbackItem.client_id == client.id) == 1


async def test_not_now_stores_nothing_but_the_link(bot: Harness) -> None:
    pid = await bot.practitioner("dr")
    invite = await bot.app.admin.invite_client(pid, "Alex")
    await bot.says("alex", f"!start {invite.code}")

    replies = await bot.presses("alex", "Not now")
    assert replies == [t(bot, "onboarding.not_now")]

    ident = await identity_of(bot, "alex")
    assert ident is not None and ident.client_id == invite.client_id
    client = (await rows(bot, Client, Client.id == invite.client_id))[0]
    assert client.status == "invited" and client.consented_at is None

    # Words sent now are not kept, and neither is a feedback command.
    assert await bot.says("alex", "actually I wanted to say something") == [
        t(bot, "onboarding.need_consent")
    ]
    assert await bot.says("alex", "!feedback") == [t(bot, "onboarding.need_consent")]
    assert await bot.says("alex", "!mine") == [t(bot, "onboarding.need_consent")]
    assert await count(bot, FeedbackItem) == 0
    assert await count(bot, ConsentRecord) == 0
    chat_hash = bot.app.vault.keyed_hash("console", "alex")
    inbox = await rows(bot, InboxEvent, InboxEvent.chat_hash == chat_hash)
    assert inbox and all(r.payload_enc is None for r in inbox)

    # "!start" again shows the consent text and the choice once more.
    replies = await bot.says("alex", "!start")
    assert t(bot, "onboarding.stored") in "\n".join(replies)
    assert replies[-1].startswith(t(bot, "onboarding.ask"))
    await bot.presses("alex", "I agree")
    await bot.presses("alex", "No, thank you")
    client = (await rows(bot, Client, Client.id == invite.client_id))[0]
    assert client.status == "active"


async def test_crisis_words_before_consent_get_help_but_nothing_is_recorded(bot: Harness) -> None:
    pid = await bot.practitioner("dr")
    invite = await bot.app.admin.invite_client(pid, "Alex")
    await bot.says("alex", f"!start {invite.code}")
    await bot.presses("alex", "Not now")

    replies = await bot.says("alex", "honestly I don't see the point anymore")
    assert replies[0].startswith(t(bot, "safety.reply"))
    assert await count(bot, SafetyEvent) == 0
    assert await count(bot, FeedbackItem) == 0


# -- codes ---------------------------------------------------------------------------------


MALFORMED = [
    "hello!!",
    "short",
    "x" * 65,
    "'; DROP TABLE client; --",
    "ＡＢＣＤＥＦＧＨＩＪＫＬＭＮＯＰ",
]


async def test_unknown_malformed_or_missing_code_is_refused_kindly(bot: Harness) -> None:
    await bot.practitioner("dr")
    assert await bot.says("stranger", f"!start {new_code()}") == [t(bot, "code.invalid")]
    await nothing_about(bot, "stranger")
    assert await bot.says("codeless", "!start") == [t(bot, "unlinked")]
    await nothing_about(bot, "codeless")
    for n, code in enumerate(MALFORMED):
        replies = await bot.says(f"stranger{n}", f"!start {code}")
        assert replies == [t(bot, "code.invalid")], code
        await nothing_about(bot, f"stranger{n}")


async def test_expired_code_is_refused_but_works_until_then(bot: Harness) -> None:
    pid = await bot.practitioner("dr")
    early = await bot.app.admin.invite_client(pid, "Alex")
    late = await bot.app.admin.invite_client(pid, "Robin")
    valid = timedelta(days=bot.app.settings.invite_valid_days)

    bot.clock.advance(valid - timedelta(minutes=1))
    replies = await bot.says("robin", f"!start {late.code}")
    assert replies[-1].startswith(t(bot, "onboarding.ask"))
    assert await identity_of(bot, "robin") is not None

    bot.clock.advance(timedelta(minutes=2))
    replies = await bot.says("alex", f"!start {early.code}")
    assert replies == [t(bot, "code.invalid")]
    await nothing_about(bot, "alex")
    client = (await rows(bot, Client, Client.id == early.client_id))[0]
    assert client.status == "invited"


async def test_codes_work_only_once(bot: Harness) -> None:
    pid = await bot.practitioner("dr")
    invite = await bot.app.admin.invite_client(pid, "Alex")
    await bot.says("alex", f"!start {invite.code}")

    replies = await bot.says("someone-else", f"!start {invite.code}")
    assert replies == [t(bot, "code.invalid")]
    await nothing_about(bot, "someone-else")
    ident = await identity_of(bot, "alex")
    assert ident is not None and ident.client_id == invite.client_id
    assert await count(bot, Identity, Identity.client_id == invite.client_id) == 1

    # The same for a practitioner's link code.
    kim, code = await bot.app.admin.add_practitioner(bot.practice_id, "Kim")
    replies = await bot.says("kim", f"!start {code}")
    assert replies[0].startswith(
        t(bot, "practitioner.welcome", name="Kim", practice="Riverside Practice")
    )
    ident = await identity_of(bot, "kim")
    assert ident is not None and ident.practitioner_id == kim
    assert await bot.says("intruder", f"!start {code}") == [t(bot, "code.invalid")]
    await nothing_about(bot, "intruder")


async def test_linked_chat_does_not_use_up_another_code(bot: Harness) -> None:
    pid = await bot.practitioner("dr")
    await bot.client("alex", pid)
    other = await bot.app.admin.invite_client(pid, "Robin")

    assert await bot.says("alex", f"!start {other.code}") == [t(bot, "code.already_linked")]
    invite_rows = await rows(bot, InviteCode, InviteCode.client_id == other.client_id)
    assert [r.used_at for r in invite_rows] == [None]
    # The code is still good for the person it was made for.
    replies = await bot.says("robin", f"!start {other.code}")
    assert replies[-1].startswith(t(bot, "onboarding.ask"))


async def test_repeated_wrong_codes_are_throttled(bot: Harness) -> None:
    pid = await bot.practitioner("dr")
    invite = await bot.app.admin.invite_client(pid, "Alex")

    answers = []
    for _ in range(5):
        answers.append(await bot.says("guesser", f"!start {new_code()}"))
    assert answers == [[t(bot, "code.invalid")]] * 5

    # From now on even a real code is not tried from this chat...
    assert await bot.says("guesser", f"!start {invite.code}") == [t(bot, "code.throttled")]
    await nothing_about(bot, "guesser")
    invite_rows = await rows(bot, InviteCode, InviteCode.client_id == invite.client_id)
    assert [r.used_at for r in invite_rows] == [None]

    # ...while another chat is not slowed down by it.
    replies = await bot.says("alex", f"!start {invite.code}")
    assert replies[-1].startswith(t(bot, "onboarding.ask"))
