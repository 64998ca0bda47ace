"""Creating a client record from the practice's defaults, and the rules for aliases.

An alias names one client of one practitioner. Two aliases that a person would read as the
same name ("Ann" and "ann", "Ängel" typed with a combining umlaut, "Kim " with a trailing
space) are the same alias: :func:`alias_key` is what is compared, never the raw text, and
only as a keyed hash: aliases are stored sealed (``storage.sealed``), so finding one never
reads the others.
A second invite with an alias already in use is refused: handing out a new code for an
existing client would give whoever redeems it that client's history.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from feedback_bot.people.practice_config import PracticeSettings
from feedback_bot.scheduling.wallclock import WEEKDAYS
from feedback_bot.storage.models import Client, Practitioner, alias_key
from feedback_bot.storage.states import ClientStatus

AUTO_ALIAS = "Client {n}"
_AUTO_NUMBER = re.compile(r"client (\d{1,9})")


class AliasTaken(Exception):
    """The practitioner already has a client with this alias (compared by alias_key)."""

    def __init__(self, alias: str) -> None:
        super().__init__(f"there is already a client called {alias!r}")
        self.alias = alias


__all__ = ["AUTO_ALIAS", "AliasTaken", "alias_key", "alias_taken", "create_client"]


async def alias_taken(session: AsyncSession, practitioner_id: int, alias: str) -> bool:
    found = await session.scalar(
        select(Client.id)
        .where(Client.practitioner_id == practitioner_id, Client.alias == alias)
        .limit(1)
    )
    return found is not None


def auto_alias_number(alias: str) -> int | None:
    """``"Client 7"`` → 7; None for any other alias."""
    match = _AUTO_NUMBER.fullmatch(alias_key(alias))
    return int(match.group(1)) if match else None


async def create_client(
    session: AsyncSession,
    config: PracticeSettings,
    practitioner_id: int,
    alias: str | None,
    now: datetime,
) -> Client:
    """A new client, always. Raises :class:`AliasTaken` for an alias in use; without an
    alias the next ``Client N`` from the practitioner's counter, never a number used
    before (not even by a client since erased)."""
    alias = unicodedata.normalize("NFC", alias.strip()) if alias else None
    if alias:
        if await alias_taken(session, practitioner_id, alias):
            raise AliasTaken(alias)
    else:
        practitioner = await session.get(Practitioner, practitioner_id, with_for_update=True)
        assert practitioner is not None  # callers checked
        n = practitioner.auto_alias_counter + 1
        # someone typed "Client 3" by hand
        while await alias_taken(session, practitioner_id, AUTO_ALIAS.format(n=n)):
            n += 1
        practitioner.auto_alias_counter = n
        alias = AUTO_ALIAS.format(n=n)
    c = config.checkins
    client = Client(
        practitioner_id=practitioner_id,
        alias=alias,
        status=ClientStatus.INVITED,
        checkin_cadence=c.cadence,
        checkin_weekday=WEEKDAYS.index(c.weekly_day),
        checkin_time=c.weekly_time,
        after_session_hours=c.after_session_hours,
        quiet_start=c.quiet_start,
        quiet_end=c.quiet_end,
        created_at=now,
    )
    session.add(client)
    await session.flush()
    return client
