"""Moving a client to another practitioner, and deactivating clients, practitioners and
practices. Nothing is deleted that a person's data rights or the audit still refer to:
rows are marked deactivated, schedules stop, unused codes stop working.

A move, as a client would expect it: from the move on, what they share goes to the new
practitioner; the new one does not see what was shared before (it was written for
someone else), and the old one keeps only what they had already read. Words the old
practitioner had not read yet reach nobody, and the client is told so in their language
and invited to send again what still matters (privacy/access.py enforces it). Session
dates were the old practitioner's and are removed; check-ins are recomputed."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from feedback_bot.delivery.outbox import enqueue
from feedback_bot.people.directory.errors import DirectoryError
from feedback_bot.people.directory.lookup import get_client, get_practice, get_practitioner
from feedback_bot.people.directory.views import current_clients
from feedback_bot.people.rules import client_chat
from feedback_bot.privacy.audit import record
from feedback_bot.scheduling.due import reschedule_client, reschedule_practitioner
from feedback_bot.services import Services
from feedback_bot.storage.models import (
    Appointment,
    Client,
    Conversation,
    Identity,
    InviteCode,
    Practitioner,
)
from feedback_bot.storage.states import ClientStatus, OutboxKind

REACHABLE = (ClientStatus.ACTIVE, ClientStatus.PAUSED)


async def move_client(
    session: AsyncSession,
    client_id: int,
    to_practitioner_id: int,
    *,
    actor: str,
    deps: Services,
    now: datetime,
    scope: int | None = None,
) -> Client:
    client, old = await get_client(session, client_id, scope=scope)
    if client.deactivated_at is not None:
        raise DirectoryError("inactive", f"client {client_id} is deactivated")
    new = await get_practitioner(session, to_practitioner_id, scope=scope)
    if new.practice_id != old.practice_id:
        raise DirectoryError(
            "cross_practice",
            f"practitioner {new.id} is in another practice than client {client_id}; "
            "clients move only within their practice",
        )
    if not new.active:
        raise DirectoryError("inactive", f"practitioner {new.id} is deactivated")
    if new.id == old.id:
        raise DirectoryError("same", f"client {client_id} is already with practitioner {new.id}")
    taken = await session.scalar(
        select(Client.id).where(Client.practitioner_id == new.id, Client.alias == client.alias)
    )
    if taken is not None:
        raise DirectoryError(
            "alias_taken",
            f"practitioner {new.id} already has a client with this client's alias "
            f"(client {taken}); give one of them another alias first",
        )
    client.practitioner_id = new.id
    client.practitioner_since = now
    # Sessions were arranged with the old practitioner; the new one sets their own.
    await session.execute(delete(Appointment).where(Appointment.client_id == client.id))
    await session.flush()
    await reschedule_client(session, client, now)
    told = client.status in REACHABLE and await _tell(
        session, deps, client, "directory.moved", now, old=old.name, new=new.name
    )
    await record(
        session,
        now,
        actor,
        "client.moved",
        "client",
        client.id,
        practice_id=new.practice_id,
        **{"from": old.id, "to": new.id, "told": told},
    )
    return client


async def deactivate_client(
    session: AsyncSession,
    client_id: int,
    *,
    actor: str,
    deps: Services,
    now: datetime,
    scope: int | None = None,
) -> Client:
    """The practice ends the feedback line for a client: nothing new is taken in, no
    check-ins come, the client cannot resume it, and unused invite codes stop working.
    Their data stays for their export and erasure until retention removes it."""
    client, _ = await get_client(session, client_id, scope=scope)
    if client.deactivated_at is not None:
        raise DirectoryError("inactive", f"client {client_id} is deactivated already")
    await _end(session, deps, client, actor, now)
    return client


async def deactivate_practitioner(
    session: AsyncSession,
    practitioner_id: int,
    *,
    actor: str,
    now: datetime,
    scope: int | None = None,
) -> Practitioner:
    """Refused while clients would be left without anyone, or while they are the practice's
    feedback contact. Their chats are unlinked and their link codes stop working."""
    pr = await get_practitioner(session, practitioner_id, scope=scope)
    if not pr.active:
        raise DirectoryError("inactive", f"practitioner {practitioner_id} is deactivated already")
    if n := await current_clients(session, pr.id):
        raise DirectoryError(
            "has_clients",
            f"practitioner {pr.id} still has {n} client{'s' if n != 1 else ''}: move them "
            "to another practitioner (or deactivate them) first",
        )
    practice = await get_practice(session, pr.practice_id)
    if practice.feedback_contact_id == pr.id:
        raise DirectoryError(
            "feedback_contact",
            f"practitioner {pr.id} is the practice's feedback contact: make someone else "
            "the contact first",
        )
    await _retire(session, pr, now)
    await record(session, now, actor, "practitioner.deactivated", "practitioner", pr.id)
    return pr


async def deactivate_practice(
    session: AsyncSession,
    practice_id: int,
    *,
    actor: str,
    deps: Services,
    now: datetime,
    scope: int | None = None,
) -> int:
    """Stops everything the practice schedules: its clients' lines are ended (each told,
    as on ``deactivate_client``), its practitioners deactivated. Returns how many clients
    were ended."""
    practice = await get_practice(session, practice_id, scope=scope)
    if practice.deactivated_at is not None:
        raise DirectoryError("inactive", f"practice {practice_id} is deactivated already")
    practitioners = (
        (await session.execute(select(Practitioner).where(Practitioner.practice_id == practice.id)))
        .scalars()
        .all()
    )
    ended = 0
    for pr in practitioners:
        clients = (
            (
                await session.execute(
                    select(Client).where(
                        Client.practitioner_id == pr.id, Client.deactivated_at.is_(None)
                    )
                )
            )
            .scalars()
            .all()
        )
        for client in clients:
            await _end(session, deps, client, actor, now)
            ended += 1
        if pr.active:
            await _retire(session, pr, now)
    practice.deactivated_at = now
    await record(
        session, now, actor, "practice.deactivated", "practice", practice.id, clients=ended
    )
    return ended


async def _end(
    session: AsyncSession, deps: Services, client: Client, actor: str, now: datetime
) -> None:
    was = client.status
    client.deactivated_at = now
    if client.status != ClientStatus.STOPPED:
        client.status = ClientStatus.STOPPED
        client.status_changed_at = now
    await reschedule_client(session, client, now)
    await session.execute(
        delete(InviteCode).where(InviteCode.client_id == client.id, InviteCode.used_at.is_(None))
    )
    # A question left open (consent, say) must not bring the line back.
    await session.execute(
        update(Conversation)
        .where(
            Conversation.identity_id.in_(select(Identity.id).where(Identity.client_id == client.id))
        )
        .values(state="idle", prompt_id=None, item_id=None, data={}, updated_at=now)
    )
    told = False
    if was in REACHABLE:
        told = await _tell(session, deps, client, "directory.ended", now, days=deps.retention_days)
    await record(session, now, actor, "client.deactivated", "client", client.id, told=told)


async def _retire(session: AsyncSession, pr: Practitioner, now: datetime) -> None:
    pr.active = False
    pr.deactivated_at = now
    await reschedule_practitioner(session, pr, now)
    await session.execute(delete(Identity).where(Identity.practitioner_id == pr.id))
    await session.execute(
        delete(InviteCode).where(InviteCode.practitioner_id == pr.id, InviteCode.used_at.is_(None))
    )


async def _tell(
    session: AsyncSession, deps: Services, client: Client, key: str, now: datetime, **params: object
) -> bool:
    """A kind word to the client through the outbox, in their language; False when they
    have no chat to be told in."""
    ident = await client_chat(session, client.id)
    if ident is None:
        return False
    lang = client.language or deps.config.language
    text = deps.catalog.t(key, lang, p=deps.prefix(ident.platform), **params)
    enqueue(
        session,
        deps.vault,
        platform=ident.platform,
        address=ident.address,
        identity_id=ident.id,
        kind=OutboxKind.NOTICE,
        now=now,
        text=text,
    )
    return True
