"""Practitioner commands: invite clients, see them, set sessions, ask for a digest."""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime, time, timedelta

from sqlalchemy import func, select

from feedback_bot.catalog import dates
from feedback_bot.conversation.turn import PractitionerTurn
from feedback_bot.people.clients import AliasTaken, alias_key, create_client
from feedback_bot.people.codes import issue
from feedback_bot.people.rules import find_client_by_alias, practitioner_tz
from feedback_bot.privacy.audit import record
from feedback_bot.scheduling.due import reschedule_appointment
from feedback_bot.scheduling.wallclock import WEEKDAYS, local_to_utc, next_weekly_occurrence, zone
from feedback_bot.storage.models import Appointment, Client, FeedbackItem
from feedback_bot.storage.states import ItemStatus, Routing

ALIAS = re.compile(r"^[\w .'-]{1,80}$")


async def create_invite(turn: PractitionerTurn, alias: str | None) -> tuple[Client, str] | None:
    """A new client and their code; None for an alias that isn't allowed. Raises
    :class:`AliasTaken` when the practitioner already has a client with this alias."""
    alias = unicodedata.normalize("NFC", (alias or "").strip()) or None
    if alias is not None and not ALIAS.match(alias):
        return None
    client = await create_client(
        turn.session, turn.deps.config, turn.practitioner.id, alias, turn.now
    )
    code = issue(
        turn.session, now=turn.now, valid_days=turn.deps.invite_valid_days, client_id=client.id
    )
    await record(
        turn.session,
        turn.now,
        f"practitioner:{turn.practitioner.id}",
        "client.invited",
        "client",
        client.id,
    )
    return client, code


async def invite(turn: PractitionerTurn) -> None:
    try:
        made = await create_invite(turn, turn.event.args)
    except AliasTaken as taken:
        turn.say(turn.t("practitioner.alias_taken", alias=taken.alias))
        return
    if made is None:
        turn.say(turn.t("practitioner.invite_bad"))
        return
    client, code = made
    link_line = ""
    links = turn.deps.invite_links  # platforms with deep links, in registry order
    template = links.get(turn.event.platform) or next(iter(links.values()), None)
    if template:
        link_line = turn.t("practitioner.invite_link_line", link=template.format(code=code))
    expires = turn.now + timedelta(days=turn.deps.invite_valid_days)
    tz_name = practitioner_tz(turn.practitioner, turn.practice)
    turn.say(
        turn.t(
            "practitioner.invite",
            alias=client.alias,
            code=code,
            expires=turn.date(expires, tz_name, year=True),
            link_line=link_line,
        ),
        protect=True,
    )


async def clients(turn: PractitionerTurn) -> None:
    rows = await turn.session.execute(
        select(Client, func.max(FeedbackItem.submitted_at))
        .outerjoin(
            FeedbackItem,
            (FeedbackItem.client_id == Client.id)
            & (FeedbackItem.status == ItemStatus.SUBMITTED)
            # Items sent to the feedback contact instead must leave no trace here.
            & (FeedbackItem.routing != Routing.CONTACT),
        )
        .where(Client.practitioner_id == turn.practitioner.id)
        .group_by(Client.id)
    )
    lines = []
    tz_name = practitioner_tz(turn.practitioner, turn.practice)
    # Aliases are sealed, so they are sorted here, not by SQL.
    for client, last in sorted(rows.all(), key=lambda row: alias_key(row[0].alias)):
        last_text = turn.date(last, tz_name) if last else turn.t("practitioner.never")
        lines.append(
            turn.t(
                "practitioner.clients_line",
                alias=client.alias,
                status=turn.t(f"labels.status.{client.status}"),
                last=last_text,
            )
        )
    turn.say("\n".join(lines) if lines else turn.t("practitioner.clients_empty"))


async def find_client(turn: PractitionerTurn, alias: str) -> Client | None:
    return await find_client_by_alias(turn.session, turn.practitioner.id, alias)


_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DAY = re.compile(r"[a-z]+", re.IGNORECASE)
_TIME = re.compile(r"[0-9]{1,2}:[0-9]{2}")


def parse_session(args: str, tz_name: str, now: datetime) -> tuple[str, datetime, bool] | None:
    """``"ALIAS (YYYY-MM-DD | weekday) HH:MM [weekly]"``, read from the end by words: linear
    in the length of ``args`` (a pattern with a lazy alias before the spaces was quadratic)."""
    words = args.split()
    weekly = bool(words) and words[-1].lower() == "weekly"
    if weekly:
        words = words[:-1]
    if len(words) < 3:
        return None
    alias, day_or_date, hhmm = " ".join(words[:-2]), words[-2], words[-1]
    if not _TIME.fullmatch(hhmm):
        return None
    hh, mm = (int(x) for x in hhmm.split(":"))
    if hh > 23 or mm > 59:
        return None
    tz, at = zone(tz_name), time(hh, mm)
    if _DATE.fullmatch(day_or_date):
        try:
            when = local_to_utc(date.fromisoformat(day_or_date), at, tz)
        except ValueError:
            return None
    elif _DAY.fullmatch(day_or_date):
        day = day_or_date.lower()
        matches = [i for i, name in enumerate(WEEKDAYS) if name.startswith(day[:3])]
        if len(day) < 3 or len(matches) != 1:
            return None
        when = next_weekly_occurrence(matches[0], at, tz, now)
    else:
        return None
    return alias, when, weekly


async def set_session(turn: PractitionerTurn) -> None:
    tz_name = practitioner_tz(turn.practitioner, turn.practice)
    parsed = parse_session(turn.event.args, tz_name, turn.now)
    if parsed is None:
        turn.say(turn.t("practitioner.session_bad"))
        return
    alias, when, weekly = parsed
    client = await find_client(turn, alias)
    if client is None:
        turn.say(turn.t("practitioner.no_such_client", alias=alias[:80]))
        return
    shown = dates.when_from(turn.deps.catalog, turn.lang, when, tz_name, turn.now)
    if when <= turn.now:
        turn.say(turn.t("schedule.session.past", when=shown, alias=client.alias))
        return
    appointment = Appointment(
        client_id=client.id,
        starts_at=when,
        weekly=weekly,
        duration_minutes=50,
        created_at=turn.now,
    )
    turn.session.add(appointment)
    await reschedule_appointment(turn.session, appointment, client, turn.now)
    turn.say(
        turn.t(
            "practitioner.session_set",
            alias=client.alias,
            when=shown,
            weekly=turn.t("practitioner.session_weekly") if weekly else "",
        )
    )
