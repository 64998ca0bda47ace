"""Anytime feedback, driven like a conversation: free text or ``!feedback``, the three gentle
questions (each skippable), the acknowledgement, and the crisis path that comes first."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from feedback_bot.catalog import dates
from feedback_bot.privacy.access import read_own_text
from feedback_bot.scheduling.wallclock import WEEKDAYS
from feedback_bot.storage.models import FeedbackItem, SafetyEvent
from tests.harness import Harness, count, t


async def items(bot: Harness, client_id: int) -> list[FeedbackItem]:
    async with bot.app.sessions() as s:
        rows = await s.execute(
            select(FeedbackItem)
            .where(FeedbackItem.client_id == client_id)
            .order_by(FeedbackItem.id)
        )
        return list(rows.scalars())


def words(bot: Harness, item: FeedbackItem) -> str | None:
    return read_own_text(bot.app.vault, item.client_id, item)


async def setup(bot: Harness, alerts: bool = False, contact: bool = False) -> tuple[int, int]:
    """Sam and their consenting client Alex; with ``contact``, Casey is the practice's
    feedback contact."""
    pid = await bot.practitioner("dr", name="Sam")
    if contact:
        await bot.app.admin.add_practitioner(bot.practice_id, "Casey", feedback_contact=True)
    cid = await bot.client("alex", pid, alerts=alerts)
    bot.new_messages("dr")
    return pid, cid


def next_weekly_digest(bot: Harness, tz: str) -> datetime:
    """Worked out here from the practice config, independently of the bot's own code."""
    cfg = bot.app.config.digest
    hh, mm = (int(x) for x in cfg.weekly_time.split(":"))
    london = ZoneInfo("Europe/London")
    now = bot.clock.now()
    day = now.astimezone(london).date()
    for offset in range(8):
        d = day + timedelta(days=offset)
        at = datetime(d.year, d.month, d.day, hh, mm, tzinfo=london)
        if d.weekday() == WEEKDAYS.index(cfg.weekly_day) and at > now:
            return at.astimezone(ZoneInfo(tz))
    raise AssertionError("no weekly slot within a week")


def shown(bot: Harness, instant: datetime) -> str:
    """How the bot writes a moment, in the zone the instant carries."""
    return dates.when(bot.app.catalog, "en", instant, str(instant.tzinfo))


def assert_safe_ack(bot: Harness, text: str) -> None:
    """Every acknowledgement says, in one line, that nobody watches this chat in real time,
    with the top emergency number and how to see the full list of crisis lines."""
    assert t(bot, "common.urgent_line", emergency="112") in text
    assert "!urgent" in text


# -- the questions -------------------------------------------------------------------------


async def test_free_text_first_is_kept_and_questions_follow(bot: Harness) -> None:
    _, cid = await setup(bot)
    said = "The last session ended abruptly and I felt cut off."
    replies = await bot.says("alex", said)
    assert len(replies) == 1 and replies[0].startswith(t(bot, "feedback.ask_valence"))
    [draft] = await items(bot, cid)
    assert draft.status == "draft" and words(bot, draft) == said

    # The words are already there, so the next question is where it should go.
    replies = await bot.presses("alex", "Something didn't feel right")
    assert replies[0].startswith(t(bot, "feedback.ask_routing"))
    [ack] = await bot.presses("alex", "Bring it into our next session")
    assert "Sam will see this" in ack and "can bring it into your next session" in ack

    [item] = await items(bot, cid)
    assert (item.status, item.valence, item.routing) == ("submitted", "not_right", "session")
    assert words(bot, item) == said
    assert item.submitted_at is not None and item.submitted_at <= bot.clock.now()

    # The next message starts a new item; the first is left as it was.
    await bot.says("alex", "another thing")
    await bot.presses("alex", "Something else")
    await bot.presses("alex", "Just so you know")
    assert [(words(bot, i), i.status) for i in await items(bot, cid)] == [
        (said, "submitted"),
        ("another thing", "submitted"),
    ]


async def test_feedback_command_asks_valence_then_words_then_routing(bot: Harness) -> None:
    _, cid = await setup(bot, contact=True)
    replies = await bot.says("alex", "!feedback")
    assert replies[0].startswith(t(bot, "feedback.ask_valence"))
    assert [c.label for c in bot.last_with_choices("alex").choices] == [
        "Something felt good",
        "Something didn't feel right",
        "Something else",
        "Skip",
    ]
    replies = await bot.presses("alex", "Something felt good")
    assert replies[0].startswith(t(bot, "feedback.ask_words"))
    replies = await bot.says("alex", "You remembered what I said last month. Thank you.")
    assert replies[0].startswith(t(bot, "feedback.ask_routing"))
    assert [c.label for c in bot.last_with_choices("alex").choices] == [
        "Bring it into our next session",
        "Just so you know",
        "To the practice's feedback contact instead",
        "Skip",
    ]
    replies = await bot.presses("alex", "Just so you know")
    assert len(replies) == 1

    [item] = await items(bot, cid)
    assert (item.status, item.valence, item.routing) == ("submitted", "good", "fyi")
    assert words(bot, item) == "You remembered what I said last month. Thank you."


async def test_every_question_can_be_skipped_with_gentle_defaults(bot: Harness) -> None:
    _, cid = await setup(bot)
    await bot.says("alex", "The room was cold.")
    assert (await bot.presses("alex", "Skip"))[0].startswith(t(bot, "feedback.ask_routing"))
    [ack] = await bot.presses("alex", "Skip")

    [item] = await items(bot, cid)
    assert item.status == "submitted"
    assert item.valence == "other"  # no words put in the client's mouth
    assert item.routing == "fyi"  # not brought into the room unless they chose so
    assert words(bot, item) == "The room was cold."
    # The acknowledgement matches the gentler route.
    assert "just so they know" in ack


async def test_skipping_every_question_files_nothing_and_says_so(bot: Harness) -> None:
    """Nothing written and nothing chosen: no empty item, and no "thank you for telling me"
    for nothing told."""
    _, cid = await setup(bot)
    await bot.says("alex", "!feedback")
    assert (await bot.presses("alex", "Skip"))[0].startswith(t(bot, "feedback.ask_words"))
    replies = await bot.presses("alex", "Skip")
    assert replies == [t(bot, "words.nothing_filed")]
    assert await items(bot, cid) == []
    await bot.tick(days=3)  # and the clock has nothing to file either
    assert await items(bot, cid) == [] and bot.new_messages("alex") == []


async def test_routing_to_the_feedback_contact_instead(bot: Harness) -> None:
    _, cid = await setup(bot, contact=True)
    await bot.says("alex", "I'd rather the practice knew about this, not Sam.")
    await bot.presses("alex", "Something didn't feel right")
    [ack] = await bot.presses("alex", "To the practice's feedback contact instead")

    [item] = await items(bot, cid)
    assert item.routing == "contact" and item.status == "submitted"
    assert "feedback contact, not to Sam" in ack
    assert_safe_ack(bot, ack)
    assert bot.new_messages("dr") == []  # nothing goes to the practitioner


async def test_contact_is_not_offered_unless_it_is_someone_else(bot: Harness) -> None:
    pid, cid = await setup(bot, contact=False)
    await bot.says("alex", "something")
    await bot.presses("alex", "Something else")
    labels = [c.label for c in bot.last_with_choices("alex").choices]
    assert labels == ["Bring it into our next session", "Just so you know", "Skip"]
    await bot.presses("alex", "Skip")

    # Sam being the practice's feedback contact doesn't make it "someone else" for Alex.
    await bot.app.admin.set_feedback_contact(bot.practice_id, pid)
    await bot.says("alex", "something")
    await bot.presses("alex", "Something else")
    labels = [c.label for c in bot.last_with_choices("alex").choices]
    assert labels == ["Bring it into our next session", "Just so you know", "Skip"]
    # Typing the words of an option that isn't offered is not taken as a choice.
    replies = await bot.says("alex", "To the practice's feedback contact instead")
    assert replies[0].startswith(t(bot, "feedback.kept_words"))
    item = (await items(bot, cid))[-1]
    assert item.routing is None and item.status == "draft"


async def test_acknowledgement_says_when_and_carries_the_safety_notice(bot: Harness) -> None:
    _, cid = await setup(bot)
    await bot.says("alex", "!feedback")
    await bot.presses("alex", "Something felt good")
    await bot.presses("alex", "Skip")
    [ack] = await bot.presses("alex", "Bring it into our next session")

    when = next_weekly_digest(bot, "Europe/London")
    assert "Sam will see this" in ack
    assert shown(bot, when) in ack
    assert_safe_ack(bot, ack)

    # In the client's own time zone, once they have set one.
    await bot.says("alex", "!timezone America/New_York")
    await bot.says("alex", "something small")
    await bot.presses("alex", "Something else")
    [ack] = await bot.presses("alex", "Just so you know")
    when = next_weekly_digest(bot, "America/New_York")
    assert shown(bot, when) in ack


async def test_acknowledgement_uses_the_sooner_pre_session_digest(bot: Harness) -> None:
    await setup(bot)
    session_at = datetime(2026, 11, 18, 14, 0, tzinfo=ZoneInfo("Europe/London"))
    await bot.says("dr", f"!session Alex {session_at:%Y-%m-%d %H:%M}")
    await bot.says("alex", "!feedback")
    await bot.presses("alex", "Something felt good")
    await bot.presses("alex", "Skip")
    [ack] = await bot.presses("alex", "Bring it into our next session")

    hours = bot.app.config.digest.pre_session_hours
    pre = session_at - timedelta(hours=hours)
    assert pre < next_weekly_digest(bot, "Europe/London")
    assert shown(bot, pre) in ack


TYPED_ANSWERS = [
    ("1", "2", "good", "fyi"),
    ("2", "1", "not_right", "session"),
    ("something felt good!", "Just so you know.", "good", "fyi"),
    ("  SOMETHING DIDN’T FEEL RIGHT ", "bring it into our next session", "not_right", "session"),
    ("3", "To the practice's feedback contact instead", "other", "contact"),
    ("4", "skip", "other", "fyi"),
]


async def test_typing_a_number_or_the_words_answers_the_question(bot: Harness) -> None:
    _, cid = await setup(bot, contact=True)
    for n, (valence_reply, routing_reply, valence, routing) in enumerate(TYPED_ANSWERS):
        bot.clock.advance(minutes=1)  # a person, not a flood (the inbox throttles floods)
        said = f"The homework felt like a lot this week ({n})."
        await bot.says("alex", said)
        replies = await bot.says("alex", valence_reply)
        assert replies[0].startswith(t(bot, "feedback.ask_routing")), valence_reply
        await bot.says("alex", routing_reply)
        item = (await items(bot, cid))[-1]
        assert (item.status, item.valence, item.routing) == ("submitted", valence, routing)
        # The answers were taken as answers, not added to the client's words.
        assert words(bot, item) == said
    assert len(await items(bot, cid)) == len(TYPED_ANSWERS)


async def test_a_burst_of_messages_joins_one_item_and_gets_one_question(bot: Harness) -> None:
    """People write in bursts: messages while the first question waits join the same
    item, quietly; the client is asked once."""
    _, cid = await setup(bot)
    [question] = await bot.says("alex", "The receptionist")
    assert question.startswith(t(bot, "feedback.ask_valence"))
    assert await bot.says("alex", "was quite short with me") == []
    assert await bot.says("alex", "when I came in late") == []
    await bot.presses("alex", "Something didn't feel right")
    # Once they have answered, words instead of a choice are kept and the question repeated.
    [reply] = await bot.says("alex", "Also a third thing.")
    assert reply.startswith(t(bot, "feedback.kept_words") + " " + t(bot, "feedback.ask_routing"))
    await bot.presses("alex", "Just so you know")
    [item] = await items(bot, cid)
    assert item.status == "submitted"
    assert words(bot, item) == (
        "The receptionist\n\nwas quite short with me\n\nwhen I came in late\n\nAlso a third thing."
    )

    # A while after the question (but no pause): kept, and the question asked again.
    await bot.says("alex", "!feedback")
    bot.clock.advance(minutes=5)
    [reply] = await bot.says("alex", "7")  # not one of the options: words, too
    assert reply.startswith(t(bot, "feedback.kept_words") + " " + t(bot, "feedback.ask_valence"))
    item = (await items(bot, cid))[-1]
    assert item.status == "draft" and words(bot, item) == "7"


async def test_a_stale_button_gets_a_kind_reply_and_changes_nothing(bot: Harness) -> None:
    _, cid = await setup(bot)
    await bot.says("alex", "!feedback")
    valence_question = bot.last_with_choices("alex")
    await bot.presses("alex", "Something felt good")  # now at "in your own words"
    # A button from the question before, in the same flow: too late.
    await bot.console.press("alex", valence_question.choices[1].id)
    await bot.app.drain()
    assert [m.text for m in bot.new_messages("alex")] == [t(bot, "feedback.stale_choice")]
    [item] = await items(bot, cid)
    assert item.valence == "good" and item.status == "draft"

    await bot.presses("alex", "Skip")
    await bot.presses("alex", "Just so you know")
    routing_question = bot.last_with_choices("alex")

    for old in (valence_question.choices[1], routing_question.choices[0]):
        await bot.console.press("alex", old.id)
        await bot.app.drain()
        assert [m.text for m in bot.new_messages("alex")] == [t(bot, "feedback.stale_choice")]

    [item] = await items(bot, cid)
    assert (item.valence, item.routing, item.status) == ("good", "fyi", "submitted")


# -- crisis safety -------------------------------------------------------------------------

RISKY = [
    "I don't see the point anymore",
    "everyone would be better off without me",
    "I dont see the point anymore tbh",
    "Everyone would be better off without me.",
]


async def test_risky_words_get_crisis_resources_first(bot: Harness) -> None:
    pid, _ = await setup(bot, alerts=False)
    res = bot.app.config.crisis_resources_for("en")
    for n, said in enumerate(RISKY):
        who = f"client{n}"
        cid = await bot.client(who, pid, alerts=False)
        bot.new_messages(who)
        replies = await bot.says(who, said)
        assert replies[0].startswith(t(bot, "safety.reply")), said
        for r in res.emergency + res.crisis_lines:
            assert r.contact in replies[0]
        # No routine question follows the help in the same turn: the words are kept.
        assert replies[-1] == t(bot, "safety.kept")
        assert not any(t(bot, "feedback.ask_valence") in r for r in replies)
        assert bot.console.sent[who][-1].choices == ()
        async with bot.app.sessions() as s:
            events = list(
                (await s.execute(select(SafetyEvent).where(SafetyEvent.client_id == cid))).scalars()
            )
        assert [e.alerted for e in events] == [False]
        [draft] = await items(bot, cid)
        assert draft.risk is True and draft.status == "draft"
        # The flow is offered, not pushed: their next message picks the words up again.
        later = await bot.says(who, "thank you")
        assert later[-1].startswith(t(bot, "feedback.kept_words"))
        assert t(bot, "feedback.ask_valence") in later[-1]
        [same] = await items(bot, cid)
        assert same.id == draft.id
    # Nobody agreed to alerts at onboarding: the practitioner hears of it in the digest only.
    assert bot.new_messages("dr") == []


async def test_practitioner_alerted_straight_away_when_client_agreed(bot: Harness) -> None:
    pid, cid = await setup(bot, alerts=True)
    replies = await bot.says("alex", "everyone would be better off without me")
    assert replies[0].startswith(t(bot, "safety.reply"))
    assert t(bot, "safety.alerted") in replies
    [alert] = [m.text for m in bot.new_messages("dr")]
    assert alert == t(bot, "practitioner.risk_alert", alias="Alex")
    async with bot.app.sessions() as s:
        events = list((await s.execute(select(SafetyEvent))).scalars())
    assert [(e.client_id, e.alerted) for e in events] == [(cid, True)]

    # Mid-flow, help comes first, the question pending is let go, and the words are kept.
    await bot.says("alex", "!feedback")  # carry on with the words kept after the crisis reply
    await bot.presses("alex", "Something else")
    await bot.presses("alex", "Just so you know")
    bot.new_messages("dr")
    await bot.says("alex", "!feedback")
    await bot.presses("alex", "Something didn't feel right")
    replies = await bot.says("alex", "I don't see the point anymore, honestly")
    assert replies[0].startswith(t(bot, "safety.reply"))
    assert replies[-1] == t(bot, "safety.kept")
    assert not any(t(bot, "feedback.ask_routing") in r for r in replies)
    # When they want to carry on, the draft is where they left it.
    replies = await bot.says("alex", "!feedback")
    assert replies[-1].startswith(t(bot, "feedback.kept_words"))
    assert t(bot, "feedback.ask_routing") in replies[-1]
    await bot.presses("alex", "Bring it into our next session")
    second = (await items(bot, cid))[-1]
    assert second.risk is True and second.status == "submitted"
    assert await count(bot, SafetyEvent, SafetyEvent.client_id == cid) == 2
    assert len(bot.new_messages("dr")) == 1  # alerted again, straight away


async def test_hyperbole_is_not_a_crisis(bot: Harness) -> None:
    pid, _ = await setup(bot, alerts=True)
    hyperbole = ["this homework is killing me", "the traffic was killing me today lol"]
    for n, said in enumerate(hyperbole):
        who = f"client{n}"
        await bot.client(who, pid, alerts=True)
        bot.new_messages(who)
        replies = await bot.says(who, said)
        assert not any(r.startswith(t(bot, "safety.reply")) for r in replies), said
        assert replies[0].startswith(t(bot, "feedback.ask_valence"))
    assert await count(bot, SafetyEvent) == 0
    assert bot.new_messages("dr") == []


async def test_a_command_in_the_middle_does_not_orphan_what_was_written(bot: Harness) -> None:
    pid = await bot.practitioner()
    cid = await bot.client("alex", pid)
    await bot.says("alex", "The silence at the start felt long")
    await bot.says("alex", "!checkins")
    await bot.presses("alex", "Once a week")
    replies = await bot.says("alex", "and I didn't know if I should speak first")
    assert any(t(bot, "feedback.kept_words") in r for r in replies)
    await bot.presses("alex", "Something didn't feel right")
    await bot.presses("alex", "Just so you know")
    async with bot.app.sessions() as s:
        items = (
            (await s.execute(select(FeedbackItem).where(FeedbackItem.client_id == cid)))
            .scalars()
            .all()
        )
    assert len(items) == 1 and items[0].status == "submitted"
    words = read_own_text(bot.app.vault, cid, items[0]) or ""
    assert "silence at the start" in words and "speak first" in words
