"""Wall-clock arithmetic in people's own time zones.

Schedules are defined in local time ("Thursdays at 18:00 in Europe/Berlin") and turned
into UTC instants per occurrence, so daylight-saving changes move the UTC instant and
keep the local time, as a person would expect.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]


def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def is_valid_zone(name: str) -> bool:
    if name not in available_timezones():
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def parse_hhmm(value: str) -> time:
    hh, mm = value.strip().split(":")
    return time(int(hh), int(mm))


def weekday_index(name: str | int) -> int:
    return name if isinstance(name, int) else WEEKDAYS.index(name.lower())


def local_to_utc(day: date, at: time, tz: ZoneInfo) -> datetime:
    """A local wall time on a day → UTC. A time skipped by a spring-forward gap is moved
    forward by the gap (fold=0 semantics); an ambiguous autumn time takes the first."""
    naive = datetime.combine(day, at)
    aware = naive.replace(tzinfo=tz, fold=0)
    # Round-trip to detect the gap: a non-existent local time comes back different.
    back = aware.astimezone(UTC).astimezone(tz)
    if back.replace(tzinfo=None) != naive:
        aware = naive.replace(tzinfo=tz, fold=1)
    return aware.astimezone(UTC)


def weekly_occurrence_on_or_before(weekday: int, at: time, tz: ZoneInfo, now: datetime) -> datetime:
    """The latest weekly occurrence ≤ now, in UTC."""
    local_today = now.astimezone(tz).date()
    delta = (local_today.weekday() - weekday) % 7
    candidate_day = local_today - timedelta(days=delta)
    slot = local_to_utc(candidate_day, at, tz)
    if slot > now:
        slot = local_to_utc(candidate_day - timedelta(days=7), at, tz)
    return slot


def next_weekly_occurrence(weekday: int, at: time, tz: ZoneInfo, after: datetime) -> datetime:
    """The earliest weekly occurrence > after, in UTC."""
    local_day = after.astimezone(tz).date()
    delta = (weekday - local_day.weekday()) % 7
    slot = local_to_utc(local_day + timedelta(days=delta), at, tz)
    if slot <= after:
        slot = local_to_utc(local_day + timedelta(days=delta + 7), at, tz)
    return slot


def in_quiet_hours(instant: datetime, start: time, end: time, tz: ZoneInfo) -> bool:
    local = instant.astimezone(tz).time()
    if start == end:
        return False
    if start < end:
        return start <= local < end
    return local >= start or local < end  # spans midnight


def after_quiet_hours(instant: datetime, start: time, end: time, tz: ZoneInfo) -> datetime:
    """``instant`` itself, or the end of the quiet period it falls in."""
    if not in_quiet_hours(instant, start, end, tz):
        return instant
    local = instant.astimezone(tz)
    end_day = local.date()
    if start > end and local.time() >= start:
        end_day += timedelta(days=1)
    return local_to_utc(end_day, end, tz)


def weekly_series(first: datetime, tz: ZoneInfo, upto: datetime) -> list[datetime]:
    """Occurrences of a weekly appointment at the same local time as ``first``, ≤ upto."""
    local = first.astimezone(tz)
    out: list[datetime] = []
    day, at = local.date(), local.time().replace(tzinfo=None)
    current = first
    while current <= upto and len(out) < 1000:
        out.append(current)
        day += timedelta(days=7)
        current = local_to_utc(day, at, tz)
    return out
