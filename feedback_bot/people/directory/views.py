"""What admins may see of practices, practitioners and clients: names, aliases, settings,
statuses and times. Never content, chat addresses or platform user ids (docs/security.md,
"Admin")."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from feedback_bot.people.directory.lookup import get_client, get_practice, get_practitioner
from feedback_bot.people.rules import practitioner_tz
from feedback_bot.scheduling.wallclock import WEEKDAYS
from feedback_bot.storage.models import (
    Checkin,
    Client,
    FeedbackItem,
    Identity,
    Practice,
    Practitioner,
    alias_key,
)
from feedback_bot.storage.states import ClientStatus

CURRENT = (ClientStatus.INVITED, ClientStatus.ACTIVE, ClientStatus.PAUSED)


class Row:
    def as_dict(self) -> dict[str, Any]:
        """For JSON: times as ISO 8601 in UTC."""
        return {
            k: v.isoformat() if isinstance(v, datetime) else v
            for k, v in asdict(self).items()  # type: ignore[call-overload]
        }


@dataclass(frozen=True)
class PracticeInfo(Row):
    id: int
    name: str
    timezone: str
    language: str
    active: bool
    practitioners: int  # active ones
    clients: int  # current ones: invited, active or paused
    feedback_contact_id: int | None
    crisis_resources: str  # "practice" (its own) or "deployment"
    created_at: datetime
    deactivated_at: datetime | None


@dataclass(frozen=True)
class PractitionerInfo(Row):
    id: int
    practice_id: int
    name: str
    timezone: str  # the one that applies (their own, else the practice's)
    own_timezone: bool
    active: bool
    linked_chats: int
    clients: int  # current ones
    feedback_contact: bool
    digest_day: str
    digest_time: str
    pre_session_hours: int
    next_digest_at: datetime | None
    created_at: datetime
    deactivated_at: datetime | None


@dataclass(frozen=True)
class ClientInfo(Row):
    id: int
    alias: str
    practitioner_id: int
    practitioner: str
    status: str  # invited, active, paused, stopped, or deactivated (by an admin)
    linked: bool
    last_activity: datetime | None
    created_at: datetime


@dataclass(frozen=True)
class ClientDetail(Row):
    id: int
    alias: str
    practice_id: int
    practitioner_id: int
    practitioner: str
    practitioner_since: datetime | None
    status: str
    platforms: list[str]  # where they are linked; never the address
    language: str | None
    checkins: str
    next_checkin_at: datetime | None
    consented_at: datetime | None
    last_activity: datetime | None
    created_at: datetime
    deactivated_at: datetime | None


def client_status(client: Client) -> str:
    return "deactivated" if client.deactivated_at is not None else str(client.status)


# -- practices ----------------------------------------------------------------------------


async def list_practices(session: AsyncSession) -> list[PracticeInfo]:
    practices = (await session.execute(select(Practice).order_by(Practice.id))).scalars().all()
    return [await _practice_info(session, p) for p in practices]


async def show_practice(
    session: AsyncSession, practice_id: int, *, scope: int | None = None
) -> PracticeInfo:
    return await _practice_info(session, await get_practice(session, practice_id, scope=scope))


async def _practice_info(session: AsyncSession, p: Practice) -> PracticeInfo:
    practitioners = await session.scalar(
        select(func.count())
        .select_from(Practitioner)
        .where(Practitioner.practice_id == p.id, Practitioner.active.is_(True))
    )
    clients = await session.scalar(
        select(func.count())
        .select_from(Client)
        .join(Practitioner, Practitioner.id == Client.practitioner_id)
        .where(
            Practitioner.practice_id == p.id,
            Client.status.in_(CURRENT),
            Client.deactivated_at.is_(None),
        )
    )
    return PracticeInfo(
        id=p.id,
        name=p.name,
        timezone=p.timezone,
        language=p.language,
        active=p.deactivated_at is None,
        practitioners=int(practitioners or 0),
        clients=int(clients or 0),
        feedback_contact_id=p.feedback_contact_id,
        crisis_resources=await _crisis_source(session, p.id),
        created_at=p.created_at,
        deactivated_at=p.deactivated_at,
    )


async def _crisis_source(session: AsyncSession, practice_id: int) -> str:
    """``practice`` when its crisis resources differ from the deployment file's."""
    from feedback_bot.people.practice_settings import _defaults, load_settings

    own = (await load_settings(session, practice_id)).crisis_resources
    return "deployment" if own == _defaults(None).crisis_resources else "practice"


# -- practitioners ------------------------------------------------------------------------


async def list_practitioners(session: AsyncSession, practice_id: int) -> list[PractitionerInfo]:
    practice = await get_practice(session, practice_id)
    found = (
        (
            await session.execute(
                select(Practitioner)
                .where(Practitioner.practice_id == practice_id)
                .order_by(Practitioner.id)
            )
        )
        .scalars()
        .all()
    )
    return [await _practitioner_info(session, pr, practice) for pr in found]


async def show_practitioner(
    session: AsyncSession, practitioner_id: int, *, scope: int | None = None
) -> PractitionerInfo:
    pr = await get_practitioner(session, practitioner_id, scope=scope)
    practice = await get_practice(session, pr.practice_id)
    return await _practitioner_info(session, pr, practice)


async def current_clients(session: AsyncSession, practitioner_id: int) -> int:
    """Clients who are not stopped or deactivated: they would be left without anyone."""
    n = await session.scalar(
        select(func.count())
        .select_from(Client)
        .where(
            Client.practitioner_id == practitioner_id,
            Client.status.in_(CURRENT),
            Client.deactivated_at.is_(None),
        )
    )
    return int(n or 0)


async def _practitioner_info(
    session: AsyncSession, pr: Practitioner, practice: Practice
) -> PractitionerInfo:
    chats = await session.scalar(
        select(func.count())
        .select_from(Identity)
        .where(Identity.practitioner_id == pr.id, Identity.reachable.is_(True))
    )
    return PractitionerInfo(
        id=pr.id,
        practice_id=pr.practice_id,
        name=pr.name,
        timezone=practitioner_tz(pr, practice),
        own_timezone=pr.timezone is not None,
        active=pr.active,
        linked_chats=int(chats or 0),
        clients=await current_clients(session, pr.id),
        feedback_contact=practice.feedback_contact_id == pr.id,
        digest_day=WEEKDAYS[pr.digest_weekday],
        digest_time=pr.digest_time,
        pre_session_hours=pr.pre_session_hours,
        next_digest_at=pr.next_digest_at,
        created_at=pr.created_at,
        deactivated_at=pr.deactivated_at,
    )


# -- clients ------------------------------------------------------------------------------


async def list_clients(
    session: AsyncSession, practice_id: int, *, practitioner_id: int | None = None
) -> list[ClientInfo]:
    """A practice's clients (or one practitioner's), by practitioner, then alias."""
    await get_practice(session, practice_id)
    stmt = (
        select(Client, Practitioner)
        .join(Practitioner, Practitioner.id == Client.practitioner_id)
        .where(Practitioner.practice_id == practice_id)
    )
    if practitioner_id is not None:
        stmt = stmt.where(Client.practitioner_id == practitioner_id)
    pairs = [(c, pr) for c, pr in (await session.execute(stmt)).all()]
    ids = [c.id for c, _ in pairs]
    last = await _last_activity(session, ids)
    linked = await _linked(session, ids)
    out = [
        ClientInfo(
            id=c.id,
            alias=c.alias,
            practitioner_id=pr.id,
            practitioner=pr.name,
            status=client_status(c),
            linked=c.id in linked,
            last_activity=_latest(c, last.get(c.id)),
            created_at=c.created_at,
        )
        for c, pr in pairs
    ]
    # Aliases are sealed, so they sort here, not in SQL.
    return sorted(out, key=lambda i: (i.practitioner_id, alias_key(i.alias), i.id))


async def show_client(
    session: AsyncSession, client_id: int, *, scope: int | None = None
) -> ClientDetail:
    client, pr = await get_client(session, client_id, scope=scope)
    platforms = (
        (
            await session.execute(
                select(Identity.platform)
                .where(Identity.client_id == client.id, Identity.reachable.is_(True))
                .order_by(Identity.id)
            )
        )
        .scalars()
        .all()
    )
    last = await _last_activity(session, [client.id])
    return ClientDetail(
        id=client.id,
        alias=client.alias,
        practice_id=pr.practice_id,
        practitioner_id=pr.id,
        practitioner=pr.name,
        practitioner_since=client.practitioner_since,
        status=client_status(client),
        platforms=list(platforms),
        language=client.language,
        checkins=str(client.checkin_cadence),
        next_checkin_at=client.next_checkin_at,
        consented_at=client.consented_at,
        last_activity=_latest(client, last.get(client.id)),
        created_at=client.created_at,
        deactivated_at=client.deactivated_at,
    )


async def _linked(session: AsyncSession, ids: list[int]) -> set[int]:
    if not ids:
        return set()
    found = await session.execute(
        select(Identity.client_id).where(Identity.client_id.in_(ids), Identity.reachable.is_(True))
    )
    return {i for i in found.scalars() if i is not None}


async def _last_activity(session: AsyncSession, ids: list[int]) -> dict[int, datetime]:
    """When each client last shared something or answered a check-in (times, no content)."""
    latest: dict[int, datetime] = {}
    if not ids:
        return latest
    for column, owner in (
        (FeedbackItem.submitted_at, FeedbackItem.client_id),
        (Checkin.answered_at, Checkin.client_id),
    ):
        rows = await session.execute(
            select(owner, func.max(column)).where(owner.in_(ids)).group_by(owner)
        )
        for client_id, at in rows.all():
            if at is not None:
                at = _aware(at)
                if client_id not in latest or at > latest[client_id]:
                    latest[client_id] = at
    return latest


def _aware(at: datetime | str) -> datetime:
    """``max()`` over a column comes back without the column's type on SQLite."""
    if isinstance(at, str):
        at = datetime.fromisoformat(at)
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at


def _latest(client: Client, shared: datetime | None) -> datetime | None:
    times: Iterable[datetime | None] = (shared, client.consented_at, client.status_changed_at)
    known = [t for t in times if t is not None]
    return max(known) if known else None
