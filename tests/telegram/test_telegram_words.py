"""Words never lost or misread, over Telegram (issue 16, points 0–5): a client agrees, writes
instead of answering the alerts question, writes a burst, types commands without the
slash, leaves the questions unanswered; the words reach Sam, keep their number, and can
still be withdrawn."""

from __future__ import annotations

from datetime import timedelta

from feedback_bot.app.bootstrap import App
from feedback_bot.scheduling.clock import FakeClock
from tests.fakes.telegram_api import FakeTelegramApi
from tests.telegram.app_harness import ALEX, SAM, Person, settle, t, texts


async def test_a_client_who_never_presses_a_button_still_reaches_the_practitioner(
    app: App, tg: FakeTelegramApi, clock: FakeClock
) -> None:
    practice = await app.admin.create_practice("Riverside Practice", "Europe/London")
    pid, code = await app.admin.add_practitioner(practice, "Sam")
    sam, alex = Person(app, tg, SAM, "Sam"), Person(app, tg, ALEX, "Alex")
    await sam.says(f"/start {code}", until="/digest")
    invite = await app.admin.invite_client(pid, "Alex")
    await alex.says(f"/start {invite.code}", until="I agree")
    await alex.presses("I agree", until="No, thank you")

    # 1: words instead of the alerts answer: consent kept, and so are the words.
    replies = await alex.says("the waiting room was so loud", until=t(app, "words.consent_kept"))
    assert "Something didn't feel right" in str(replies[-1]["reply_markup"])
    # 3b: the rest of the burst joins quietly; one question.
    for more in ("someone was on the phone", "the whole time"):
        await settle(app, tg, tg.push_text(ALEX, more))
    assert alex.messages()[alex.seen :] == []

    # 4: a command without its slash is a command, not feedback.
    help_reply = await alex.says("help", until=t(app, "help.intro.client")[:30])
    assert "/feedback" in texts(help_reply)

    # 0: nobody presses anything. Asked once more, then filed and told where it went.
    clock.advance(timedelta(hours=5))
    await app.tick()
    await app.drain()
    [nudge] = alex.messages()[alex.seen :]
    alex.seen += 1
    assert nudge["text"].startswith(t(app, "words.nudge"))
    assert "reply_markup" in nudge  # the same choices, pressable
    clock.advance(timedelta(hours=21))
    await app.tick()
    await app.drain()
    # The words were filed as a skip would file them; the alerts question, left open since
    # onboarding, is asked again now that no other question is open.
    told, alerts = alex.messages()[alex.seen :]
    alex.seen += 2
    assert '"/withdraw 1"' in told["text"]
    assert alerts["text"] == t(app, "words.ask_alerts_again")

    digest = await sam.says("/digest", until=".html")
    assert "Alex" in texts(digest)
    html = tg.calls_to("sendDocument")[-1].files["document"].data.decode()
    for said in ("the waiting room was so loud", "someone was on the phone", "the whole time"):
        assert said in html

    # 5: the number stays; withdrawing twice says so.
    await alex.says("mine", until="1. ")
    await alex.says("withdraw 1", until=t(app, "mine.withdrawn_after_seen")[:30])
    again = await alex.says("withdraw 1", until="already withdrawn")
    assert texts(again) == app.catalog.t("words.already_withdrawn", "en", n="1")
