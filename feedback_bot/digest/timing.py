"""When a practitioner will next see something: the next weekly digest, or the digest
shortly before the client's next session, whichever comes first."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from feedback_bot.people.rules import practitioner_tz
from feedback_bot.scheduling.appointments import next_session
from feedback_bot.scheduling.wallclock import next_weekly_occurrence, parse_hhmm, zone
from feedback_bot.storage.models import Practice, Practitioner


def next_weekly_digest(practitioner: Practitioner, practice: Practice, now: datetime) -> datetime:
    tz = zone(practitioner_tz(practitioner, practice))
    return next_weekly_occurrence(
        practitioner.digest_weekday, parse_hhmm(practitioner.digest_time), tz, now
    )


async def next_digest_for_client(
    session: AsyncSession,
    practitioner: Practitioner,
    practice: Practice,
    client_id: int,
    now: datetime,
) -> datetime:
    weekly = next_weekly_digest(practitioner, practice, now)
    upcoming = await next_session(session, client_id, practitioner_tz(practitioner, practice), now)
    if upcoming is not None:
        pre = upcoming - timedelta(hours=practitioner.pre_session_hours)
        if now < pre < weekly:
            return pre
    return weekly
