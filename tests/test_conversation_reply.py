"""The conversation as the practice promises it (issue 16, points 6–11): texts that carry
the ethos, short acknowledgements, truthful read notices, transparency about what the
practitioner sees, the practitioner's reply, and closing the loop without gaps."""

from __future__ import annotations

import json

from sqlalchemy import select

from feedback_bot.delivery.choice_ids import reply_choice
from feedback_bot.privacy.data_rights import export_client
from feedback_bot.storage.models import Digest, FeedbackItem, PractitionerMessage
from tests.harness import Harness, count, rows, t

# What a reader notices in each language: the sentences of point 6, one phrase each.
ETHOS = {
    "en": [
        "hard to tell the person helping you that something didn't work",
        "expert on your own experience",
        "never too late",
        "normal part of the work",
        "Nothing you say here changes how you're treated",
    ],
    "de": [
        "schwer sein, der Person, die einen begleitet",
        "Expertin bzw. der Experte für Ihr eigenes",
        "nie zu spät",
        "gehören zur Arbeit dazu",
        "ändert etwas daran, wie\nSie behandelt werden",
    ],
    "es": [
        "Puede costar decirle a la persona que te acompaña",
        "quien mejor conoce tu propia experiencia",
        "nunca es tarde",
        "parte normal del trabajo",
        "Nada de lo que digas aquí cambia",
    ],
}


def flat(text: str) -> str:
    return " ".join(text.split())


async def sam_and_alex(bot: Harness) -> tuple[int, int]:
    sam = await bot.practitioner("dr", "Sam")
    alex = await bot.client("alex", sam, alias="Alex")
    return sam, alex


# -- 6: the texts carry the ethos ----------------------------------------------------------


async def test_onboarding_says_the_ethos_once_in_each_language(bot: Harness) -> None:
    sam = await bot.practitioner("dr", "Sam")
    for lang, phrases in ETHOS.items():
        who = f"c_{lang}"
        invite = await bot.app.admin.invite_client(sam, who)
        await bot.says(who, f"!start {invite.code}")
        await bot.says(who, f"!language {lang}")
        onboarding = flat("\n".join(await bot.says(who, "!start")))
        for phrase in phrases:
            assert flat(phrase) in onboarding, (lang, phrase)
    # Said once: not again under every acknowledgement.
    await bot.presses("c_en", "I agree")
    await bot.presses("c_en", "No, thank you")
    after = await bot.shares("c_en", "the pace was good", "Something felt good", "Just so you know")
    assert all("expert on your own experience" not in flat(text) for text in after)


async def test_good_news_is_not_asked_what_happened(bot: Harness) -> None:
    await sam_and_alex(bot)
    await bot.says("alex", "!feedback")
    [question] = await bot.presses("alex", "Something felt good")
    assert "what happened" not in question.lower()
    assert "skip" in question.lower()


# -- 7: one short line, not the whole list, under every acknowledgement ---------------------


async def test_acknowledgement_is_short_with_one_not_monitored_line(bot: Harness) -> None:
    await sam_and_alex(bot)
    [ack] = await bot.shares(
        "alex",
        "The grounding exercise helped me sleep",
        "Something felt good",
        "Just so you know",
    )
    assert len(ack.splitlines()) <= 3, ack
    assert "isn't watched in real time" in ack and "112" in ack and "!urgent" in ack
    for resource in bot.app.config.crisis_resources_for("en").crisis_lines:
        assert resource.contact not in ack  # the full list is on request
    [urgent] = await bot.says("alex", "!urgent")
    for resource in bot.app.config.crisis_resources_for("en").all():
        assert resource.contact in urgent
    # The full list still comes at onboarding and with every crisis reply.
    assert "findahelpline.com" in bot.console.sent["alex"][0].text
    [crisis, *_] = await bot.says("alex", "I want to kill myself")
    assert "findahelpline.com" in crisis


# -- 8: the client hears only what the practitioner actually said --------------------------


async def test_read_notice_promises_nothing_the_practitioner_did_not_choose(bot: Harness) -> None:
    await sam_and_alex(bot)
    await bot.shares(
        "alex", "felt rushed", "Something didn't feel right", "Bring it into our next session"
    )
    bot.new_messages("alex")
    await bot.says("dr", "!digest")
    [question] = await bot.presses("dr", "I've read this")
    assert "Alex" in question
    await bot.presses("dr", "I've read it")
    [told] = [m.text for m in bot.new_messages("alex")]
    assert told == "Sam has read what you shared."
    assert "next session" not in told


# -- 9: the client knows what the practitioner sees -----------------------------------------


async def test_onboarding_and_mine_say_which_signals_the_practitioner_sees(bot: Harness) -> None:
    await sam_and_alex(bot)
    onboarding = flat(bot.console.sent["alex"][0].text)
    assert "What Sam sees" in onboarding and "pause or stop check-ins" in onboarding
    [mine] = await bot.says("alex", "!mine")
    assert "What Sam sees" in flat(mine) and "pause or stop check-ins" in flat(mine)
    # And the signal named is the one the digest really shows.
    await bot.says("alex", "!pause")
    digest = "\n".join(await bot.says("dr", "!digest"))
    assert "Alex paused check-ins" in digest


# -- 10: the practitioner's reply ------------------------------------------------------------


async def test_reply_reaches_the_client_as_the_practitioners_words_and_is_kept_safely(
    bot: Harness,
) -> None:
    _, alex = await sam_and_alex(bot)
    bot.new_messages("alex")
    words = "Thank you for telling me, let's talk about it on Tuesday"
    assert await bot.says("dr", f"!reply Alex {words}") == [t(bot, "reply.sent", alias="Alex")]
    [note] = bot.new_messages("alex")
    assert words in note.text and "Sam" in note.text and "own words" in note.text
    assert note.choices == ()  # never asked to answer
    [stored] = await rows(bot, PractitionerMessage, PractitionerMessage.client_id == alex)
    assert stored.text_enc is not None and "Tuesday" not in stored.text_enc
    # The client's next words are feedback as always, not an "answer".
    [next_q] = await bot.says("alex", "that's kind")
    assert next_q.startswith(t(bot, "feedback.ask_valence"))

    async with bot.app.sessions() as s:
        exported = json.dumps(await export_client(s, bot.app.vault, alex))
    assert words.replace("'", "\\u0027") in exported or words in exported
    await bot.says("alex", "!delete")
    await bot.presses("alex", "Yes, delete everything")
    assert await count(bot, PractitionerMessage) == 0


async def test_reply_button_under_the_digest_asks_for_the_words(bot: Harness) -> None:
    await sam_and_alex(bot)
    await bot.shares("alex", "felt rushed", "Something didn't feel right", "Just so you know")
    bot.new_messages("alex")
    await bot.says("dr", "!digest")
    labels = [c.label for c in bot.last_with_choices("dr").choices]
    assert labels == ["I've read this", "Reply to Alex"]
    [ask] = await bot.presses("dr", "Reply to Alex")
    assert "Alex" in ask and "won't be asked to reply" in ask
    [sent] = await bot.says("dr", "Thank you, let's look at the ending together")
    assert sent.startswith(t(bot, "reply.sent", alias="Alex"))
    # The digest is still unread: its "I've read this" is offered again.
    assert [c.label for c in bot.last_with_choices("dr").choices] == ["I've read this"]
    [note] = [m.text for m in bot.new_messages("alex")]
    assert "let's look at the ending together" in note
    [message] = await rows(bot, PractitionerMessage)
    assert message.item_id is not None  # it answers that item


async def test_only_own_clients_and_never_contact_routed_items(bot: Harness) -> None:
    sam = await bot.practitioner("dr", "Sam")
    kim = await bot.practitioner("kim", "Kim", feedback_contact=True)
    await bot.client("alex", sam, alias="Alex")
    await bot.client("blake", kim, alias="Blake")
    bot.new_messages("blake")
    assert await bot.says("dr", "!reply Blake hello") == [
        t(bot, "practitioner.no_such_client", alias="Blake")
    ]
    # Alex sends something to the feedback contact (Kim) instead of Sam.
    await bot.shares(
        "alex",
        "please tell the practice",
        "Something didn't feel right",
        "To the practice's feedback contact instead",
    )
    [item] = await rows(bot, FeedbackItem)
    bot.new_messages("alex")
    for who in ("dr", "kim"):  # a forged or old button is not honoured
        await bot.console.press(who, reply_choice(item.id))
        await bot.app.drain()
    assert [m.text for m in bot.new_messages("dr")] == [t(bot, "reply.not_yours")]
    assert [m.text for m in bot.new_messages("kim")] == [t(bot, "reply.not_found")]
    # Kim's contact digest has no "Reply" buttons.
    await bot.says("kim", "!digest")
    assert [c.label for c in bot.last_with_choices("kim").choices] == ["I've read this"]
    assert bot.new_messages("alex") == [] and bot.new_messages("blake") == []
    assert await count(bot, PractitionerMessage) == 0
    # Kim can say she read it, but has no session with Alex to promise.
    await bot.presses("kim", "I've read this")
    assert [c.label for c in bot.last_with_choices("kim").choices] == [
        "I've read it",
        "In my own words",
    ]
    await bot.presses("kim", "I've read it")
    assert [m.text for m in bot.new_messages("alex")] == ["Kim has read what you shared."]


async def test_ack_in_own_words(bot: Harness) -> None:
    await sam_and_alex(bot)
    await bot.shares("alex", "felt rushed", "Something didn't feel right", "Just so you know")
    bot.new_messages("alex")
    await bot.says("dr", "!digest")
    await bot.presses("dr", "I've read this")
    [ask] = await bot.presses("dr", "In my own words")
    assert "Alex" in ask
    assert await bot.says("dr", "Thank you, that matters to me") == [
        t(bot, "reply.acked", names="Alex")
    ]
    [told] = [m.text for m in bot.new_messages("alex")]
    assert told.startswith("Sam has read what you shared") and "that matters to me" in told


# -- 11: closing the loop without gaps -------------------------------------------------------


async def test_ack_covers_every_unread_digest(bot: Harness) -> None:
    sam, _ = await sam_and_alex(bot)
    await bot.client("robin", sam, alias="Robin")
    await bot.shares("alex", "one", "Something felt good", "Just so you know")
    await bot.says("dr", "!digest")
    await bot.shares("robin", "two", "Something felt good", "Just so you know")
    await bot.says("dr", "!digest")
    bot.new_messages("alex")
    bot.new_messages("robin")
    [question] = await bot.says("dr", "!ack")
    assert question.startswith(t(bot, "reply.ask_how", names="Alex, Robin"))
    await bot.says("dr", "1")
    assert [m.text for m in bot.new_messages("alex")] == [t(bot, "loop.read")]
    assert [m.text for m in bot.new_messages("robin")] == [t(bot, "loop.read")]
    acked = [d.acked_at for d in await rows(bot, Digest, Digest.sent_at.is_not(None))]
    assert len(acked) == 2 and all(acked)


async def test_ack_one_client(bot: Harness) -> None:
    sam, _ = await sam_and_alex(bot)
    await bot.client("robin", sam, alias="Robin")
    await bot.shares("alex", "one", "Something felt good", "Just so you know")
    await bot.shares("robin", "two", "Something felt good", "Just so you know")
    await bot.says("dr", "!digest")
    bot.new_messages("alex")
    bot.new_messages("robin")
    [question] = await bot.says("dr", "!ack Robin")
    assert question.startswith(t(bot, "reply.ask_how", names="Robin"))
    await bot.says("dr", "I've read it")
    assert bot.new_messages("alex") == []
    assert [m.text for m in bot.new_messages("robin")] == [t(bot, "loop.read")]
    [question] = await bot.says("dr", "!ack")  # what is left: Alex
    assert question.startswith(t(bot, "reply.ask_how", names="Alex"))


async def test_typing_the_number_or_words_of_a_digest_button(bot: Harness) -> None:
    await sam_and_alex(bot)
    await bot.shares("alex", "one", "Something felt good", "Just so you know")
    bot.new_messages("alex")
    await bot.says("dr", "!digest")
    [ask] = await bot.says("dr", "2")  # "Reply to Alex", typed
    assert ask == t(bot, "reply.ask_words", alias="Alex")
    await bot.says("dr", "Glad it helped")
    [question] = await bot.says("dr", "i've read this")
    assert question.startswith(t(bot, "reply.ask_how", names="Alex"))
    await bot.says("dr", "In my own words")
    await bot.says("dr", "Thank you")
    told = [m.text for m in bot.new_messages("alex")]
    assert len(told) == 2 and "Glad it helped" in told[0] and "Thank you" in told[1]


async def test_an_older_digests_button_still_works_and_never_zero_clients(bot: Harness) -> None:
    sam, _ = await sam_and_alex(bot)
    await bot.client("robin", sam, alias="Robin")
    await bot.shares("alex", "one", "Something felt good", "Just so you know")
    await bot.says("dr", "!digest")
    older = bot.last_with_choices("dr").choices[0]
    await bot.shares("robin", "two", "Something felt good", "Just so you know")
    await bot.says("dr", "!digest")
    bot.new_messages("alex")
    bot.new_messages("robin")
    await bot.console.press("dr", older.id)
    await bot.app.drain()
    [question] = [m.text for m in bot.new_messages("dr")]
    assert question.startswith(t(bot, "reply.ask_how", names="Alex"))
    await bot.presses("dr", "I've read it")
    assert [m.text for m in bot.new_messages("alex")] == [t(bot, "loop.read")]
    assert bot.new_messages("robin") == []
    # Robin turned read notices off: the newer digest is marked read, nobody "0 clients".
    await bot.says("robin", "!notices off")
    replies = await bot.says("dr", "!ack")
    assert replies == [t(bot, "reply.acked_notices_off")]
    assert all("0 clients" not in r for r in bot.all_text("dr").splitlines())
    assert await bot.says("dr", "!ack") == [t(bot, "practitioner.nothing_to_ack")]
    async with bot.app.sessions() as s:
        unread = (await s.execute(select(Digest.id).where(Digest.acked_at.is_(None)))).all()
    assert unread == []


async def test_reply_asks_kindly_for_what_is_missing_and_never_sends_late_words(
    bot: Harness,
) -> None:
    await sam_and_alex(bot)
    bot.new_messages("alex")
    assert await bot.says("dr", "!reply") == [t(bot, "reply.usage")]
    assert await bot.says("dr", "!reply Alex " + "x" * 1001) == [
        t(bot, "reply.too_long", limit=1000)
    ]
    assert await bot.says("dr", "!reply Alex") == [t(bot, "reply.ask_words", alias="Alex")]
    # A command in between lets the question go: its words are not sent to Alex.
    await bot.says("dr", "!clients")
    await bot.says("dr", "note to self")
    assert bot.new_messages("alex") == []
    # Nor are words typed hours after being asked.
    await bot.says("dr", "!reply Alex")
    await bot.tick(hours=3)
    await bot.says("dr", "shopping list: milk")
    assert bot.new_messages("alex") == []
    assert await count(bot, PractitionerMessage) == 0
