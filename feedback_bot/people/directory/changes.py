"""Changing a practice, practitioner or client: every change is checked first, recomputes
the schedules it touches (scheduling/due.py) and is audited by setting name, never by
value (names and aliases are not audit material)."""

from __future__ import annotations

import unicodedata
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from feedback_bot.people.directory.errors import DirectoryError
from feedback_bot.people.directory.lookup import get_client, get_practice, get_practitioner
from feedback_bot.people.practice_config import _HHMM
from feedback_bot.privacy.audit import record
from feedback_bot.scheduling.due import (
    reschedule_appointment,
    reschedule_client,
    reschedule_practitioner,
)
from feedback_bot.scheduling.wallclock import WEEKDAYS, is_valid_zone
from feedback_bot.storage.models import Appointment, Client, Practice, Practitioner

NAME_MAX = 200


def _name(value: str, what: str) -> str:
    value = unicodedata.normalize("NFC", value.strip())
    if not value or len(value) > NAME_MAX:
        raise DirectoryError("invalid", f"{what} takes 1 to {NAME_MAX} characters")
    return value


def _zone(value: str) -> str:
    if not is_valid_zone(value):
        raise DirectoryError(
            "invalid", f"unknown time zone {value!r} (use a name like Europe/Berlin)"
        )
    return value


def _active(row: Practice | Practitioner, kind: str, id_: int) -> None:
    inactive = row.deactivated_at is not None or not getattr(row, "active", True)
    if inactive:
        raise DirectoryError("inactive", f"{kind} {id_} is deactivated")


async def set_practice(
    session: AsyncSession,
    practice_id: int,
    *,
    actor: str,
    now: datetime,
    name: str | None = None,
    timezone: str | None = None,
    scope: int | None = None,
) -> list[str]:
    """Returns the names of the settings changed. A new time zone moves every digest and
    check-in that follows the practice's zone."""
    practice = await get_practice(session, practice_id, scope=scope)
    _active(practice, "practice", practice_id)
    changed = []
    if name is not None:
        practice.name = _name(name, "a practice's name")
        changed.append("name")
    if timezone is not None:
        practice.timezone = _zone(timezone)
        changed.append("timezone")
        await session.flush()
        practitioners = (
            (
                await session.execute(
                    select(Practitioner).where(Practitioner.practice_id == practice.id)
                )
            )
            .scalars()
            .all()
        )
        for pr in practitioners:
            await _reschedule_all(session, pr, now)
    if changed:
        await record(
            session,
            now,
            actor,
            "practice.changed",
            "practice",
            practice.id,
            settings=",".join(changed),
        )
    return changed


async def set_practitioner(
    session: AsyncSession,
    practitioner_id: int,
    *,
    actor: str,
    now: datetime,
    name: str | None = None,
    timezone: str | None = None,
    digest_day: str | None = None,
    digest_time: str | None = None,
    pre_session_hours: int | None = None,
    feedback_contact: bool = False,
    scope: int | None = None,
) -> list[str]:
    """``timezone=""`` goes back to the practice's zone. ``feedback_contact`` makes them
    the practice's feedback contact (items already routed stay with whom they went to)."""
    pr = await get_practitioner(session, practitioner_id, scope=scope)
    _active(pr, "practitioner", practitioner_id)
    changed = []
    schedule = False
    if name is not None:
        pr.name = _name(name, "a practitioner's name")
        changed.append("name")
    if timezone is not None:
        pr.timezone = _zone(timezone) if timezone else None
        changed.append("timezone")
        schedule = True
    if digest_day is not None:
        day = digest_day.strip().lower()
        if day not in WEEKDAYS:
            raise DirectoryError("invalid", f"the digest day is one of {', '.join(WEEKDAYS)}")
        pr.digest_weekday = WEEKDAYS.index(day)
        changed.append("digest_day")
        schedule = True
    if digest_time is not None:
        if not _HHMM.match(digest_time):
            raise DirectoryError("invalid", "the digest time is HH:MM, e.g. 08:00")
        pr.digest_time = digest_time
        changed.append("digest_time")
        schedule = True
    if pre_session_hours is not None:
        if not 0 <= pre_session_hours <= 168:
            raise DirectoryError("invalid", "hours before a session: 0 to 168")
        pr.pre_session_hours = pre_session_hours
        changed.append("pre_session_hours")
        schedule = True
    if feedback_contact:
        practice = await get_practice(session, pr.practice_id)
        practice.feedback_contact_id = pr.id
        changed.append("feedback_contact")
        await record(
            session,
            now,
            actor,
            "practice.feedback_contact",
            "practice",
            practice.id,
            practitioner=pr.id,
        )
    if schedule:
        await session.flush()
        await _reschedule_all(session, pr, now)
    if changed:
        await record(
            session,
            now,
            actor,
            "practitioner.changed",
            "practitioner",
            pr.id,
            settings=",".join(changed),
        )
    return changed


async def set_client(
    session: AsyncSession,
    client_id: int,
    *,
    actor: str,
    now: datetime,
    alias: str | None = None,
    scope: int | None = None,
) -> list[str]:
    """Admins set only what the practice gives a client (the alias); their schedule,
    language and zone are the client's own to choose."""
    client, pr = await get_client(session, client_id, scope=scope)
    changed = []
    if alias is not None:
        new = _name(alias, "an alias")
        if await _other_has(session, pr.id, new, client):
            raise DirectoryError(
                "alias_taken",
                f"practitioner {pr.id} already has a client called {new!r}; choose another alias",
            )
        client.alias = new
        changed.append("alias")
    if changed:
        await record(
            session,
            now,
            actor,
            "client.changed",
            "client",
            client.id,
            settings=",".join(changed),
        )
    return changed


async def _other_has(
    session: AsyncSession, practitioner_id: int, alias: str, client: Client
) -> bool:
    """The alias is someone else's, not this client's own in another case ("kim" → "Kim")."""
    other = await session.scalar(
        select(Client.id).where(
            Client.practitioner_id == practitioner_id, Client.alias == alias, Client.id != client.id
        )
    )
    return other is not None


async def _reschedule_all(session: AsyncSession, pr: Practitioner, now: datetime) -> None:
    """Everything that follows a practitioner's settings or zone: their weekly digest,
    their clients' pre-session digests and check-ins."""
    await reschedule_practitioner(session, pr, now)
    clients = (
        (await session.execute(select(Client).where(Client.practitioner_id == pr.id)))
        .scalars()
        .all()
    )
    for client in clients:
        appointments = (
            (await session.execute(select(Appointment).where(Appointment.client_id == client.id)))
            .scalars()
            .all()
        )
        for appt in appointments:
            await reschedule_appointment(session, appt, client, now)
        await reschedule_client(session, client, now)
