"""The whole app over Telegram: link, invite by deep link, consent and feedback with
buttons, a check-in, and a protected digest with chart and file."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from feedback_bot.app.bootstrap import App
from feedback_bot.scheduling.clock import FakeClock
from tests.fakes.telegram_api import FakeTelegramApi
from tests.telegram.app_harness import ALEX, linked, settle, t, texts, visible


async def test_feedback_by_buttons_and_words_reaches_the_practitioners_digest(
    app: App, tg: FakeTelegramApi
) -> None:
    sam, alex = await linked(app, tg)

    await alex.says("the last session felt rushed", until="Something didn't feel right")
    await alex.presses("Something didn't feel right", until=t(app, "feedback.ask_routing")[:30])
    ack = await alex.presses("Bring it into our next session", until="Sam will see this")
    assert "Sam will see this" in texts(ack)

    await alex.says("/feedback", until="Something felt good")
    await alex.presses("Something felt good", until=t(app, "feedback.ask_words")[:30])
    await alex.says("the breathing exercise helped", until=t(app, "feedback.ask_routing")[:30])
    await alex.presses("Just so you know", until="Sam will see this")

    # Every press was answered, and a pressed keyboard can't be pressed again.
    assert len(alex.presses_made) == 6  # two for onboarding, four for feedback
    for update_id, message_id in alex.presses_made:
        assert tg.callback_answered(update_id)
        assert "reply_markup" not in tg.message(ALEX, message_id)

    digest = await sam.says("/digest", until=".html")
    assert all(m.get("has_protected_content") for m in digest)
    assert "Alex" in texts(digest)
    html = tg.calls_to("sendDocument")[-1].files["document"].data.decode()
    assert "the last session felt rushed" in html
    assert "the breathing exercise helped" in html


async def test_checkin_is_answered_with_a_button_and_its_score_charted_in_the_digest(
    app: App, tg: FakeTelegramApi, clock: FakeClock
) -> None:
    sam, alex = await linked(app, tg)
    session_day = (clock.now() + timedelta(days=1)).date().isoformat()
    await sam.says(f"/session Alex {session_day} 10:00", until="Alex")
    until = clock.now() + timedelta(days=3)
    while clock.now() < until and not any("gentle check-in" in visible(m) for m in alex.messages()):
        clock.advance(timedelta(hours=1))
        await app.tick()
        await app.drain()
    [checkin] = [m for m in alex.messages() if "gentle check-in" in m.get("text", "")]
    sent_at = datetime.fromtimestamp(checkin["date"], UTC)
    assert sent_at.date().isoformat() > session_day  # the day after, outside quiet hours

    alex.seen = len(alex.messages())
    await alex.presses("Nothing today", until="Take care")
    assert "reply_markup" not in tg.message(ALEX, checkin["message_id"])
    await alex.says("7", until="")  # the first alliance item, answered by typing
    await alex.says("skip", until=t(app, "checkin.alliance_done"))

    await alex.says("it was a good week", until="Something felt good")
    await alex.presses("Something felt good", until=t(app, "feedback.ask_routing")[:30])
    await alex.presses("Just so you know", until="Sam will see this")

    # With a score on record the digest carries a trend chart as a photo, then the file.
    digest = await sam.says("/digest", until=".html")
    assert [("photo" in m, "document" in m) for m in digest][-2:] == [(True, False), (False, True)]
    assert all(m.get("has_protected_content") for m in digest)
    chart = tg.calls_to("sendPhoto")[-1].files["photo"]
    assert chart.data.startswith(b"\x89PNG") and chart.content_type == "image/png"


async def test_group_chats_are_refused_politely(app: App, tg: FakeTelegramApi) -> None:
    await settle(app, tg, tg.push_group_text(-300, "hello bot", user_id=77))
    assert tg.texts(-300) == [t(app, "group_refused")]


async def test_stickers_get_the_text_only_reply(app: App, tg: FakeTelegramApi) -> None:
    _, alex = await linked(app, tg)
    [reply] = await alex.replies(tg.push_sticker(ALEX), until=t(app, "non_text")[:30])
    assert reply["text"] == t(app, "non_text")


async def test_after_the_crisis_reply_nothing_routine_follows_and_the_words_wait(
    app: App, tg: FakeTelegramApi
) -> None:
    sam, alex = await linked(app, tg)  # Alex declined alerts at onboarding
    told_sam = len(sam.messages())
    replies = await alex.says("honestly I don't want to be alive anymore", until="kept what")
    assert replies[0]["text"].startswith(t(app, "safety.reply"))
    assert "112" in replies[0]["text"]  # the practice's resources, in the same message
    assert replies[-1]["text"] == t(app, "safety.kept")
    # No buttons, no question: the flow is offered, not pushed.
    assert not any("reply_markup" in m for m in replies)
    assert len(sam.messages()) == told_sam  # no alert without Alex's consent

    # When Alex comes back to it, the words are there and the questions start.
    later = await alex.says("/feedback", until="Something didn't feel right")
    assert t(app, "feedback.kept_words") in later[-1]["text"]
