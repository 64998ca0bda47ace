"""Stored next-due times: when a beat next has to look at a client's check-ins, a
practitioner's weekly digest or an appointment's pre-session digest.

A beat reads only rows whose time has come (an indexed range), so its cost follows what is
due, not how many people there are. The times are computed with the calendar rules of
``wallclock.py`` in each person's zone. The rule that keeps this safe: a stored time is
never later than the moment the schedule next owes something. Earlier is harmless (the
beat looks, finds a slot that exists already or nothing, and moves the time on), so a
change to any schedule input goes through :func:`reschedule_client` (or
:func:`reschedule_appointment`), and anything that cannot compute it exactly may set it
to "now".
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from feedback_bot.people.rules import client_tz_of, practitioner_tz
from feedback_bot.scheduling.appointments import occurrences
from feedback_bot.scheduling.wallclock import (
    next_weekly_occurrence,
    parse_hhmm,
    weekly_occurrence_on_or_before,
    zone,
)
from feedback_bot.storage.models import Appointment, Checkin, Client, Practice, Practitioner
from feedback_bot.storage.states import Cadence, CheckinKind, ClientStatus

# How far back an after-session slot is still planned (after downtime, say).
AFTER_SESSION_LOOKBACK = timedelta(days=7)


class Schedule(Protocol):
    """What planning reads of a client: an ORM ``Client`` or a row with these columns."""

    @property
    def id(self) -> int: ...
    @property
    def status(self) -> str: ...
    @property
    def checkin_cadence(self) -> str: ...
    @property
    def checkin_weekday(self) -> int: ...
    @property
    def checkin_time(self) -> str: ...
    @property
    def after_session_hours(self) -> int: ...
    @property
    def consented_at(self) -> datetime | None: ...


def plans_checkins(client: Schedule) -> bool:
    return client.status == ClientStatus.ACTIVE and client.checkin_cadence != Cadence.OFF


def slots_owed(
    client: Schedule, appointments: Iterable[Appointment], tz_name: str, now: datetime
) -> list[tuple[CheckinKind, datetime]]:
    """The slots at or before ``now`` that should exist: the latest weekly one, or the
    after-session ones of the last week. Only slots since consent count."""
    if not plans_checkins(client):
        return []
    since = client.consented_at or now
    if client.checkin_cadence == Cadence.WEEKLY:
        slot = weekly_occurrence_on_or_before(
            client.checkin_weekday, parse_hhmm(client.checkin_time), zone(tz_name), now
        )
        return [(CheckinKind.WEEKLY, slot)] if slot >= since else []
    out = []
    hours = timedelta(hours=client.after_session_hours)
    window_start = now - AFTER_SESSION_LOOKBACK - hours
    for appt in appointments:
        for start in occurrences(appt, tz_name, window_start, now):
            slot = start + timedelta(minutes=appt.duration_minutes) + hours
            if since <= slot <= now:
                out.append((CheckinKind.AFTER_SESSION, slot))
    return out


def next_slot_after(
    client: Schedule, appointments: Iterable[Appointment], tz_name: str, now: datetime
) -> datetime | None:
    """The earliest slot strictly after ``now``; None when none will come."""
    if not plans_checkins(client):
        return None
    if client.checkin_cadence == Cadence.WEEKLY:
        return next_weekly_occurrence(
            client.checkin_weekday, parse_hhmm(client.checkin_time), zone(tz_name), now
        )
    hours = timedelta(hours=client.after_session_hours)
    best: datetime | None = None
    for appt in appointments:
        offset = timedelta(minutes=appt.duration_minutes) + hours
        # Sessions that started up to ``offset`` ago still have their slot ahead; a
        # weekly series has one occurrence in any eight days from its first.
        since = now - offset
        until = max(since, appt.starts_at) + timedelta(days=8)
        for start in occurrences(appt, tz_name, since, until):
            slot = start + offset
            if slot > now:
                best = slot if best is None or slot < best else best
                break
    return best


async def reschedule_client(session: AsyncSession, client: Client, now: datetime) -> None:
    """The one function every change to a client's schedule inputs goes through (cadence,
    weekday and time, time zone, quiet hours, pause, resume, stop, consent, sessions, a
    move to another practitioner, a deactivation):
    sets ``client.next_checkin_at`` for the new inputs.

    A slot that is owed now and has no row yet (a beat before the change would have
    planned it) makes the time "now", so the next beat plans it exactly as it always
    did; otherwise it is the next slot. Quiet hours move when a slot is sent, not the
    slot, so they change nothing here; they are listed for completeness."""
    if not plans_checkins(client):
        client.next_checkin_at = None
        return
    practitioner = await session.get(Practitioner, client.practitioner_id)
    if practitioner is None or not practitioner.active:  # deactivated, or their practice
        client.next_checkin_at = None
        return
    tz_name = await client_tz_of(session, client)
    appointments: Sequence[Appointment] = ()
    if client.checkin_cadence == Cadence.AFTER_SESSION:
        appointments = (
            (await session.execute(select(Appointment).where(Appointment.client_id == client.id)))
            .scalars()
            .all()
        )
    owed = slots_owed(client, appointments, tz_name, now)
    if owed:
        have = {
            (kind, at.timestamp())
            for kind, at in (
                await session.execute(
                    select(Checkin.kind, Checkin.slot_at).where(
                        Checkin.client_id == client.id,
                        Checkin.slot_at >= min(slot for _, slot in owed),
                    )
                )
            ).all()
        }
        missing = [slot for kind, slot in owed if (kind, slot.timestamp()) not in have]
        if missing:
            client.next_checkin_at = min(missing)
            return
    client.next_checkin_at = next_slot_after(client, appointments, tz_name, now)


# -- digests ------------------------------------------------------------------------------


def next_weekly_digest(practitioner: Practitioner, practice: Practice, now: datetime) -> datetime:
    return next_weekly_occurrence(
        practitioner.digest_weekday,
        parse_hhmm(practitioner.digest_time),
        zone(practitioner_tz(practitioner, practice)),
        now,
    )


def next_pre_session_digest(
    appt: Appointment, tz_name: str, lead: timedelta, after: datetime
) -> datetime | None:
    """start − lead of the first occurrence starting after ``after``; None if none."""
    until = max(after, appt.starts_at) + timedelta(days=8)
    for start in occurrences(appt, tz_name, after, until):
        if start > after:
            return start - lead
    return None


async def reschedule_practitioner(
    session: AsyncSession, practitioner: Practitioner, now: datetime
) -> None:
    """Their weekly digest time, after a change to its day, time or their zone."""
    if not practitioner.active:
        practitioner.next_digest_at = None
        return
    practice = await session.get(Practice, practitioner.practice_id)
    assert practice is not None  # a foreign key
    practitioner.next_digest_at = next_weekly_digest(practitioner, practice, now)


async def reschedule_appointment(
    session: AsyncSession, appt: Appointment, client: Client, now: datetime
) -> None:
    """A new or changed session: its pre-session digest time, and the client's check-ins
    (after-session slots follow sessions)."""
    practitioner = await session.get(Practitioner, client.practitioner_id)
    assert practitioner is not None
    practice = await session.get(Practice, practitioner.practice_id)
    assert practice is not None
    lead = timedelta(hours=practitioner.pre_session_hours)
    # Due now when the session is already inside its lead time (today's tick sent it then).
    appt.next_digest_at = next_pre_session_digest(
        appt, practitioner_tz(practitioner, practice), lead, now - timedelta(microseconds=1)
    )
    await session.flush()  # the new session must be seen by reschedule_client's query
    await reschedule_client(session, client, now)
