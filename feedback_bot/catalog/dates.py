"""Dates as people read them: in their time zone and their language (catalog formats)."""

from __future__ import annotations

from datetime import datetime

from feedback_bot.catalog import Catalog
from feedback_bot.scheduling.wallclock import zone


def _parts(catalog: Catalog, lang: str, instant: datetime, tz_name: str) -> dict[str, object]:
    d = instant.astimezone(zone(tz_name))
    return {
        "weekday": catalog.t(f"digest.weekday.{d.weekday()}", lang),
        "day": d.day,
        "month": catalog.t(f"digest.month.{d.month}", lang),
        "year": d.year,
        "time": f"{d:%H:%M}",
    }


def when(catalog: Catalog, lang: str, instant: datetime, tz_name: str) -> str:
    """Weekday, day, month and time: "Mon 23 Nov, 08:00"."""
    return catalog.t("digest.format.when", lang, **_parts(catalog, lang, instant, tz_name))


def date(catalog: Catalog, lang: str, instant: datetime, tz_name: str, year: bool = False) -> str:
    key = "digest.format.date_with_year" if year else "digest.format.date"
    return catalog.t(key, lang, **_parts(catalog, lang, instant, tz_name))


def when_from(catalog: Catalog, lang: str, instant: datetime, tz_name: str, now: datetime) -> str:
    """Like :func:`when`, with the year when it is not the current year where they live."""
    parts = _parts(catalog, lang, instant, tz_name)
    if parts["year"] == now.astimezone(zone(tz_name)).year:
        return catalog.t("digest.format.when", lang, **parts)
    return catalog.t("schedule.format.when_with_year", lang, **parts)
