"""Practitioner commands: invite clients, see them, set sessions, ask for a digest."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta

from sqlalchemy import func, select

from feedback_bot.conversation.turn import PractitionerTurn
from feedback_bot.people.clients import get_or_create_client
from feedback_bot.people.codes import issue
from feedback_bot.people.rules import find_client_by_alias, practitioner_tz
from feedback_bot.privacy.audit import record
from feedback_bot.scheduling.wallclock import WEEKDAYS, local_to_utc, next_weekly_occurrence, zone
from feedback_bot.storage.models import Appointment, Client, FeedbackItem
from feedback_bot.storage.states import ItemStatus, Routing

ALIAS = re.compile(r"^[\w .'-]{1,80}$")


async def create_invite(turn: PractitionerTurn, alias: str | None) -> tuple[Client, str] | None:
    alias = (alias or "").strip() or None
    if alias is not None and not ALIAS.match(alias):
        return None
    client = await get_or_create_client(
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
    made = await create_invite(turn, turn.event.args)
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
        .order_by(Client.alias)
    )
    lines = []
    tz_name = practitioner_tz(turn.practitioner, turn.practice)
    for client, last in rows.all():
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


_WHEN = re.compile(
    r"^(?P<alias>.+?)\s+(?:(?P<date>\d{4}-\d{2}-\d{2})|(?P<day>[a-z]+))\s+(?P<time>\d{1,2}:\d{2})"
    r"(?:\s+(?P<weekly>weekly))?$",
    re.IGNORECASE,
)


def parse_session(args: str, tz_name: str, now: datetime) -> tuple[str, datetime, bool] | None:
    m = _WHEN.match(args.strip())
    if not m:
        return None
    hh, mm = (int(x) for x in m["time"].split(":"))
    if hh > 23 or mm > 59:
        return None
    tz, at = zone(tz_name), time(hh, mm)
    if m["date"]:
        try:
            when = local_to_utc(date.fromisoformat(m["date"]), at, tz)
        except ValueError:
            return None
    else:
        day = m["day"].lower()
        matches = [i for i, name in enumerate(WEEKDAYS) if name.startswith(day[:3])]
        if len(day) < 3 or len(matches) != 1:
            return None
        when = next_weekly_occurrence(matches[0], at, tz, now)
    return m["alias"].strip(), when, bool(m["weekly"])


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
    turn.session.add(
        Appointment(
            client_id=client.id,
            starts_at=when,
            weekly=weekly,
            duration_minutes=50,
            created_at=turn.now,
        )
    )
    turn.say(
        turn.t(
            "practitioner.session_set",
            alias=client.alias,
            when=turn.when(when, tz_name),
            weekly=turn.t("practitioner.session_weekly") if weekly else "",
        )
    )
