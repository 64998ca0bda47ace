"""Reading and showing a client's schedule: check-ins, quiet hours and read notices,
always in the client's own time zone and with the day spelled out."""

from __future__ import annotations

import re

from feedback_bot.catalog import dates
from feedback_bot.conversation.turn import ClientTurn
from feedback_bot.people.rules import client_tz
from feedback_bot.scheduling.wallclock import WEEKDAYS, next_weekly_occurrence, parse_hhmm, zone
from feedback_bot.storage.states import Cadence

_TIME = re.compile(r"([01]?[0-9]|2[0-3])[:.h]([0-5][0-9])")
_CADENCE_WORDS = {
    "off": Cadence.OFF,
    "none": Cadence.OFF,
    "after": Cadence.AFTER_SESSION,
    "after_session": Cadence.AFTER_SESSION,
    "weekly": Cadence.WEEKLY,
}
_FILLER = {"sessions", "session", "each", "every", "at", "on", "week", "a", "once"}


def hhmm(value: str) -> str:
    """ "9:00" as "09:00": how times are stored and shown."""
    hours, minutes = value.split(":")
    return f"{int(hours):02d}:{minutes}"


def read_time(text: str) -> str | None:
    match = _TIME.fullmatch(text.strip().lower())
    return None if match is None else f"{int(match[1]):02d}:{match[2]}"


def _day(turn: ClientTurn, word: str) -> int | None:
    """A weekday in English or the client's language, whole or from three letters."""
    names = [
        (i, name.lower())
        for i in range(7)
        for name in (WEEKDAYS[i], turn.t(f"schedule.weekday.{i}"))
    ]
    hits = {i for i, name in names if len(word) >= 3 and name.startswith(word)}
    return hits.pop() if len(hits) == 1 else None


def parse_checkins(
    turn: ClientTurn, words: list[str]
) -> tuple[Cadence, int | None, str | None] | None:
    """(cadence, weekday, "HH:MM") from "weekly thursday 18:00", "off", "after sessions",
    "friday 9:30" (a day or a time means weekly); None when something isn't understood."""
    cadence: Cadence | None = None
    day: int | None = None
    at: str | None = None
    for word in words:
        if word in _CADENCE_WORDS and cadence is None:
            cadence = _CADENCE_WORDS[word]
        elif (t := read_time(word)) is not None and at is None:
            at = t
        elif (d := _day(turn, word)) is not None and day is None:
            day = d
        elif word not in _FILLER:
            return None
    if cadence is None:
        if day is None and at is None:
            return None
        cadence = Cadence.WEEKLY
    if cadence != Cadence.WEEKLY and (day is not None or at is not None):
        return None
    return cadence, day, at


def _tz(turn: ClientTurn) -> str:
    return client_tz(turn.client, turn.practitioner, turn.practice)


def checkins_now(turn: ClientTurn) -> str:
    client, tz_name = turn.client, _tz(turn)
    if client.checkin_cadence == Cadence.OFF:
        return turn.t("schedule.checkins.now_off")
    if client.checkin_cadence == Cadence.AFTER_SESSION:
        return turn.t(
            "schedule.checkins.now_after_session", hours=client.after_session_hours, tz=tz_name
        )
    upcoming = next_weekly_occurrence(
        client.checkin_weekday, parse_hhmm(client.checkin_time), zone(tz_name), turn.now
    )
    return turn.t(
        "schedule.checkins.now_weekly",
        weekday=turn.t(f"schedule.weekday.{client.checkin_weekday}"),
        time=client.checkin_time,
        tz=tz_name,
        next=dates.when_from(turn.deps.catalog, turn.lang, upcoming, tz_name, turn.now),
    )


def quiet_now(turn: ClientTurn) -> str:
    start, end = turn.client.quiet_start, turn.client.quiet_end
    if parse_hhmm(start) == parse_hhmm(end):
        return turn.t("schedule.quiet.now_off", tz=_tz(turn))
    return turn.t("schedule.quiet.now", start=start, end=end, tz=_tz(turn))


def notices_now(turn: ClientTurn) -> str:
    state = "on" if turn.client.loop_notices else "off"
    return turn.t(f"schedule.notices.now_{state}") + "\n" + turn.t(f"schedule.notices.how_{state}")
