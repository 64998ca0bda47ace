"""Words that must not get lost or misread (issue 16, points 0–5), as conversations through
the whole app: an unanswered draft is nudged once and then filed, consent given is kept
when words come before the alerts answer, words typed at a 0–10 question are kept, a pause
is asked about rather than merged, commands are understood without their prefix and in the
client's language, and item numbers never shift."""

from __future__ import annotations

from datetime import UTC, datetime

from feedback_bot.conversation.commands import Role
from feedback_bot.privacy.access import read_own_text
from feedback_bot.storage.models import Client, ConsentRecord, FeedbackItem
from tests.harness import Harness, help_text, rows, t


async def items(bot: Harness, cid: int) -> list[FeedbackItem]:
    found = await rows(bot, FeedbackItem, FeedbackItem.client_id == cid)
    return sorted(found, key=lambda i: i.id)


def words(bot: Harness, item: FeedbackItem) -> str | None:
    return read_own_text(bot.app.vault, item.client_id, item)


async def setup(bot: Harness) -> tuple[int, int]:
    pid = await bot.practitioner("dr", name="Sam")
    cid = await bot.client("alex", pid)
    bot.new_messages("dr")
    bot.new_messages("alex")
    return pid, cid


# -- 0: an unanswered draft is asked about once more, then filed ---------------------------


async def test_unanswered_words_are_nudged_once_then_filed_and_reach_the_practitioner(
    bot: Harness,
) -> None:
    _, cid = await setup(bot)
    said = "I felt rushed at the end of our session"
    [question] = await bot.says("alex", said)
    assert question.startswith(t(bot, "feedback.ask_valence"))

    await bot.tick(hours=3)  # Monday 12:00: not yet
    assert bot.new_messages("alex") == []
    await bot.tick(hours=2)  # 14:00: asked once more, gently, with the same choices
    [nudge] = bot.new_messages("alex")
    assert nudge.text.startswith(t(bot, "words.nudge"))
    assert t(bot, "feedback.ask_valence") in nudge.text
    assert [c.label for c in nudge.choices][:2] == [
        t(bot, "choices.good"),
        t(bot, "choices.not_right"),
    ]
    await bot.tick(hours=19)  # Tuesday 09:00: nothing more yet
    assert bot.new_messages("alex") == []
    [item] = await items(bot, cid)
    assert item.status == "draft"

    await bot.tick(hours=2)  # 11:00: filed as a skip would file it, and they are told
    [told] = bot.new_messages("alex")
    [item] = await items(bot, cid)
    assert (item.status, item.valence, item.routing) == ("submitted", "other", "fyi")
    assert item.number == 1
    assert words(bot, item) == said
    assert told.text.startswith(t(bot, "words.filed", when="", n=1)[:40])
    assert '"!withdraw 1"' in told.text
    await bot.tick(days=3)
    assert bot.new_messages("alex") == []  # once: nothing is nudged or filed twice

    # It reaches Sam, and until then Alex can still take it back.
    await bot.says("dr", "!digest")
    assert said in bot.all_text("dr")


async def test_the_nudge_waits_for_the_end_of_quiet_hours(bot: Harness) -> None:
    _, cid = await setup(bot)
    bot.clock.set(datetime(2026, 11, 16, 19, 30, tzinfo=UTC))
    await bot.says("alex", "!feedback")
    await bot.presses("alex", "Something felt good")  # now at "in your own words"
    await bot.tick(hours=5)  # 00:30: due, but inside 21:00–08:00
    assert bot.new_messages("alex") == []
    await bot.tick(hours=8)  # 08:30
    [nudge] = bot.new_messages("alex")
    assert nudge.text.startswith(t(bot, "words.nudge"))
    assert t(bot, "feedback.ask_words") in nudge.text
    # Answering the nudge carries on where they were.
    await bot.says("alex", "The breathing exercise helped")
    await bot.presses("alex", "Just so you know")
    [item] = await items(bot, cid)
    assert item.status == "submitted" and words(bot, item) == "The breathing exercise helped"


# -- 1: "I agree", then words instead of the alerts answer ---------------------------------


async def test_words_before_the_alerts_answer_are_kept_and_alerts_asked_again_later(
    bot: Harness,
) -> None:
    pid = await bot.practitioner("dr", name="Sam")
    invite = await bot.app.admin.invite_client(pid, "Alex")
    await bot.says("alex", f"!start {invite.code}")
    await bot.presses("alex", "I agree")
    said = "Honestly the last session was hard to sit through"
    replies = await bot.says("alex", said)
    assert replies[0] == t(bot, "words.consent_kept")
    assert replies[1].startswith(t(bot, "feedback.ask_valence"))
    assert t(bot, "onboarding.need_consent") not in "\n".join(replies)
    [client] = await rows(bot, Client, Client.id == invite.client_id)
    assert client.status == "active" and client.risk_alerts is False
    [consent] = await rows(bot, ConsentRecord, ConsentRecord.client_id == client.id)
    assert consent.risk_alerts is False

    await bot.presses("alex", "Something didn't feel right")
    await bot.presses("alex", "Just so you know")
    [item] = await items(bot, client.id)
    assert item.status == "submitted" and words(bot, item) == said

    await bot.tick(hours=4)  # asked again, gently, once
    [again] = bot.new_messages("alex")
    assert again.text.startswith(t(bot, "words.ask_alerts_again"))
    assert await bot.presses("alex", "Yes, let them know") == [t(bot, "words.alerts_on")]
    [client] = await rows(bot, Client, Client.id == invite.client_id)
    [consent] = await rows(bot, ConsentRecord, ConsentRecord.client_id == client.id)
    assert client.risk_alerts is True and consent.risk_alerts is True
    await bot.tick(days=2)
    assert bot.new_messages("alex") == []


# -- 2: words at a 0–10 question ----------------------------------------------------------


async def test_words_typed_at_a_scale_question_are_kept_as_a_note_or_as_something_new(
    bot: Harness,
) -> None:
    _, cid = await setup(bot)
    await bot.says("alex", "!checkins weekly thursday 18:00")
    bot.clock.set(datetime(2026, 11, 19, 18, 5, tzinfo=UTC))
    await bot.tick()
    await bot.presses("alex", "Nothing today")
    heard = bot.app.config.alliance.items[0].question
    assert bot.last_with_choices("alex").text.startswith(heard)

    said = "It's hard to put a number on it, the session felt mixed"
    [ask] = await bot.says("alex", said)
    assert ask.startswith(t(bot, "words.ask_note_or_new"))
    replies = await bot.presses("alex", "A note to this check-in")
    assert replies[0] == t(bot, "words.noted", n=1)
    assert replies[1].startswith(heard)  # back to the question they were on
    [note] = await items(bot, cid)
    assert (note.status, note.source, note.checkin_id is not None) == ("submitted", "checkin", True)
    assert words(bot, note) == said

    await bot.says("alex", "7")
    [ask] = await bot.says("alex", "Can I say something about the homework instead?")
    assert ask.startswith(t(bot, "words.ask_note_or_new"))
    [reply] = await bot.presses("alex", "Something new to share")
    assert reply.startswith(t(bot, "words.new_one") + " " + t(bot, "feedback.ask_valence"))
    await bot.presses("alex", "Something didn't feel right")
    await bot.presses("alex", "Bring it into our next session")
    _, new = await items(bot, cid)
    assert (new.status, new.source, new.valence, new.routing) == (
        "submitted",
        "anytime",
        "not_right",
        "session",
    )
    assert words(bot, new) == "Can I say something about the homework instead?"


# -- 3: a pause is asked about, never merged silently -------------------------------------


async def test_after_a_pause_new_words_are_asked_about_not_merged(bot: Harness) -> None:
    _, cid = await setup(bot)
    await bot.says("alex", "The receptionist was rude to me")
    await bot.presses("alex", "Something didn't feel right")  # now "where should this go?"
    bot.clock.advance(hours=2)
    [ask] = await bot.says("alex", "The session itself was great though")
    assert ask.startswith(t(bot, "words.ask_belongs"))

    [reply] = await bot.presses("alex", "Something new")
    # The earlier draft is kept as it was, filed, and they are told where it went.
    assert '"!withdraw 1"' in reply
    assert t(bot, "words.new_one") + " " + t(bot, "feedback.ask_valence") in reply
    await bot.presses("alex", "Something felt good")
    await bot.presses("alex", "Just so you know")
    first, second = await items(bot, cid)
    assert (first.status, first.valence, first.routing) == ("submitted", "not_right", "fyi")
    assert words(bot, first) == "The receptionist was rude to me"
    assert (second.status, second.valence, second.number) == ("submitted", "good", 2)
    assert words(bot, second) == "The session itself was great though"


async def test_after_a_pause_words_join_only_when_the_client_says_so(bot: Harness) -> None:
    _, cid = await setup(bot)
    await bot.says("alex", "!feedback")
    await bot.presses("alex", "Something didn't feel right")
    await bot.says("alex", "We ran over time")  # now at "where should this go?"
    await bot.says("alex", "!mine")  # a command in between
    bot.clock.advance(hours=1)
    [ask] = await bot.says("alex", "and nobody mentioned it")
    assert ask.startswith(t(bot, "words.ask_belongs"))
    [reply] = await bot.presses("alex", "Part of what I was saying")
    assert reply.startswith(t(bot, "words.joined") + " " + t(bot, "feedback.ask_routing"))
    await bot.presses("alex", "Just so you know")
    [item] = await items(bot, cid)
    assert item.status == "submitted"
    assert words(bot, item) == "We ran over time\n\nand nobody mentioned it"


async def test_an_unanswered_pause_question_files_both_apart(bot: Harness) -> None:
    _, cid = await setup(bot)
    await bot.says("alex", "The receptionist was rude to me")
    bot.clock.advance(hours=3)
    await bot.says("alex", "Hours later: the session was great")
    await bot.tick(hours=4)  # nudged: the same question
    [nudge] = bot.new_messages("alex")
    assert t(bot, "words.ask_belongs") in nudge.text
    await bot.tick(days=1)
    [told] = bot.new_messages("alex")
    assert '"!withdraw 1"' in told.text and '"!withdraw 2"' in told.text
    first, second = await items(bot, cid)
    assert words(bot, first) == "The receptionist was rude to me"
    assert words(bot, second) == "Hours later: the session was great"
    assert first.status == second.status == "submitted"


# -- 4: commands without the prefix, and in the client's language --------------------------


async def test_commands_are_understood_without_the_prefix_and_in_the_clients_language(
    bot: Harness,
) -> None:
    _, cid = await setup(bot)
    help_en = help_text(bot, Role.CLIENT)
    for typed in ("help", "Help", "/help", "?", "help."):
        replies = await bot.says("alex", typed)
        assert replies[0].startswith(help_en), typed
    assert await items(bot, cid) == []  # none of them was filed as feedback

    await bot.says("alex", "language de")
    [hilfe] = await bot.says("alex", "hilfe")
    assert hilfe.startswith(bot.app.catalog.t("help.intro.client", "de", p="!"))
    await bot.says("alex", "sprache es")
    [ayuda] = await bot.says("alex", "ayuda")
    assert ayuda.startswith(bot.app.catalog.t("help.intro.client", "es", p="!"))
    await bot.says("alex", "!idioma en")  # with the prefix, too
    assert await items(bot, cid) == []

    # Sentences that merely start with a command word are what they are: words.
    for sentence in (
        "help me understand why we stopped early",
        "stop asking me about homework please",
        "edit: the homework was fine actually",
    ):
        bot.clock.advance(minutes=40)
        [question] = await bot.says("alex", sentence)
        assert not question.startswith(help_en), sentence
    assert len(await items(bot, cid)) >= 1


# -- 5: numbers that never shift -----------------------------------------------------------


async def test_edit_by_number_reaches_the_item_listed_even_after_new_ones(bot: Harness) -> None:
    _, cid = await setup(bot)
    for said in ("The first thing", "The second thing"):
        await bot.says("alex", said)
        await bot.presses("alex", "Something else")
        await bot.presses("alex", "Just so you know")
        bot.clock.advance(minutes=40)
    [listing] = await bot.says("alex", "mine")
    assert "\n1. " in listing and "\n2. " in listing
    await bot.says("alex", "Something new arrives")  # a third, newer one
    await bot.presses("alex", "Something else")
    await bot.presses("alex", "Just so you know")

    [question] = await bot.says("alex", "edit 1")
    assert t(bot, "words.edit_old", words="The first thing") in question
    assert await bot.says("alex", "The first thing, said better") == [t(bot, "mine.edited")]
    first, second, third = await items(bot, cid)
    assert words(bot, first) == "The first thing, said better"
    assert words(bot, second) == "The second thing" and words(bot, third) == "Something new arrives"

    assert await bot.says("alex", "withdraw 2") == [t(bot, "mine.withdrawn")]
    assert await bot.says("alex", "withdraw 2") == [t(bot, "words.already_withdrawn", n="2")]
