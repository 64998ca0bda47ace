"""Issue 16, points 12 and 13: the client chooses when check-ins come, every schedule
command shows the current setting first (in the client's own time zone, with the day),
and a session date in the past is refused."""

from __future__ import annotations

from feedback_bot.storage.models import Appointment, Client
from feedback_bot.storage.states import Cadence
from tests.harness import Harness, rows, t


async def _client(bot: Harness, cid: int) -> Client:
    [row] = await rows(bot, Client, Client.id == cid)
    return row


async def _setup(bot: Harness) -> tuple[int, int]:
    pid = await bot.practitioner("dr", name="Sam")
    cid = await bot.client("alex", pid)
    bot.new_messages("dr")
    return pid, cid


async def test_checkins_weekly_day_and_time_in_one_go(bot: Harness) -> None:
    _, cid = await _setup(bot)  # Monday 16 Nov 2026, 09:00 in London
    [reply] = await bot.says("alex", "!checkins weekly thursday 18:00")
    assert "every Thursday at 18:00 (Europe/London)" in reply
    assert "The next one: Thu 19 Nov, 18:00." in reply
    c = await _client(bot, cid)
    assert (c.checkin_cadence, c.checkin_weekday, c.checkin_time) == (Cadence.WEEKLY, 3, "18:00")

    # And it is kept: the check-in comes on Thursday evening, not before.
    await bot.tick(days=2, hours=8)  # Wednesday 17:00
    assert bot.new_messages("alex") == []
    await bot.tick(days=1, hours=1, minutes=10)  # Thursday 18:10
    [checkin] = [m.text for m in bot.new_messages("alex")]
    assert checkin.startswith(t(bot, "checkin.ask"))


async def test_checkins_shows_the_setting_first_and_guides_the_choice(bot: Harness) -> None:
    _, cid = await _setup(bot)
    await bot.says("alex", "!timezone America/New_York")
    [ask] = await bot.says("alex", "!checkins")
    first_line = ask.splitlines()[0]
    assert first_line.startswith("Check-ins now: about")
    assert "after each session (times in America/New_York)" in first_line
    [ask_day] = await bot.presses("alex", "Once a week")
    assert ask_day.startswith(t(bot, "schedule.checkins.ask_day"))
    [ask_time] = await bot.presses("alex", "Friday")
    assert ask_time.startswith(t(bot, "schedule.checkins.ask_time", tz="America/New_York"))
    # A time typed instead of a button; a garbled one is asked again, nothing is set.
    assert await bot.says("alex", "7:75") == [t(bot, "schedule.checkins.time_bad")]
    [done] = await bot.says("alex", "7:45")
    assert done == (
        "Done. Check-ins now: every Friday at 07:45 (America/New_York)."
        " The next one: Fri 20 Nov, 07:45."
    )
    c = await _client(bot, cid)
    assert (c.checkin_cadence, c.checkin_weekday, c.checkin_time) == (Cadence.WEEKLY, 4, "07:45")

    # Every later schedule command starts from what is set now.
    [again] = await bot.says("alex", "!checkins")
    assert again.startswith("Check-ins now: every Friday at 07:45 (America/New_York).")
    [off] = await bot.says("alex", "!checkins off")
    assert off == "Done. " + t(bot, "schedule.checkins.now_off")
    [bad] = await bot.says("alex", "!checkins sometimes maybe")
    assert bad.startswith(t(bot, "schedule.checkins.now_off"))
    assert t(bot, "schedule.checkins.bad") in bad


async def test_quiet_shows_the_hours_and_turns_off(bot: Harness) -> None:
    _, cid = await _setup(bot)
    [now] = await bot.says("alex", "!quiet")
    assert now.splitlines()[0] == t(
        bot, "schedule.quiet.now", start="21:00", end="08:00", tz="Europe/London"
    )
    [off] = await bot.says("alex", "!quiet off")
    assert off == "Done. " + t(bot, "schedule.quiet.now_off", tz="Europe/London")
    c = await _client(bot, cid)
    assert c.quiet_start == c.quiet_end  # no quiet hours at all
    [shown] = await bot.says("alex", "!quiet")
    assert shown.startswith(t(bot, "schedule.quiet.now_off", tz="Europe/London"))
    [back] = await bot.says("alex", "!quiet 22:30 07:15")
    assert back == "Done. " + t(
        bot, "schedule.quiet.now", start="22:30", end="07:15", tz="Europe/London"
    )


async def test_notices_shows_whether_they_are_on(bot: Harness) -> None:
    _, cid = await _setup(bot)
    for _ in range(2):  # asking twice changes nothing
        [shown] = await bot.says("alex", "!notices")
        assert shown.splitlines() == [
            t(bot, "schedule.notices.now_on"),
            t(bot, "schedule.notices.how_on"),
        ]
        assert (await _client(bot, cid)).loop_notices is True
    await bot.says("alex", "!notices off")
    [shown] = await bot.says("alex", "!notices")
    assert shown.splitlines()[0] == t(bot, "schedule.notices.now_off")


async def test_session_refuses_the_past_and_shows_a_year_that_is_not_this_one(
    bot: Harness,
) -> None:
    _, cid = await _setup(bot)
    [past] = await bot.says("dr", "!session Alex 2026-11-10 10:00")
    assert past == t(bot, "schedule.session.past", when="Tue 10 Nov, 10:00", alias="Alex")
    [earlier_today] = await bot.says("dr", "!session Alex 2026-11-16 08:30")
    assert earlier_today.startswith("Mon 16 Nov, 08:30 has already passed.")
    assert await rows(bot, Appointment, Appointment.client_id == cid) == []

    [next_year] = await bot.says("dr", "!session Alex 2027-01-12 10:00")
    assert next_year == t(
        bot, "practitioner.session_set", alias="Alex", when="Tue 12 Jan 2027, 10:00", weekly=""
    )
    [this_year] = await bot.says("dr", "!session Alex 2026-11-20 14:00")
    assert "Fri 20 Nov, 14:00" in this_year
    assert len(await rows(bot, Appointment, Appointment.client_id == cid)) == 2
