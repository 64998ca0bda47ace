"""Session appointments, including weekly series, in the practitioner's time zone."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from feedback_bot.scheduling.wallclock import local_to_utc, zone
from feedback_bot.storage.models import Appointment


def occurrences(appt: Appointment, tz_name: str, start: datetime, end: datetime) -> list[datetime]:
    """Start instants of ``appt`` within [start, end]; weekly series keep their local time."""
    if not appt.weekly:
        return [appt.starts_at] if start <= appt.starts_at <= end else []
    tz = zone(tz_name)
    first_local = appt.starts_at.astimezone(tz)
    at = first_local.time().replace(tzinfo=None)
    weeks_before = max(0, (start - appt.starts_at).days // 7 - 1)
    day = first_local.date() + timedelta(weeks=weeks_before)
    out: list[datetime] = []
    while True:
        instant = local_to_utc(day, at, tz)
        if instant > end:
            return out
        if instant >= start:
            out.append(instant)
        day += timedelta(weeks=1)


async def client_sessions(
    session: AsyncSession, client_id: int, tz_name: str, start: datetime, end: datetime
) -> list[tuple[datetime, Appointment]]:
    rows = await session.execute(select(Appointment).where(Appointment.client_id == client_id))
    found = [(when, a) for a in rows.scalars() for when in occurrences(a, tz_name, start, end)]
    return sorted(found, key=lambda pair: pair[0])


async def next_session(
    session: AsyncSession, client_id: int, tz_name: str, now: datetime
) -> datetime | None:
    upcoming = await client_sessions(session, client_id, tz_name, now, now + timedelta(days=120))
    return upcoming[0][0] if upcoming else None
