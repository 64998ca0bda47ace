"""Rules about people that every part of the core asks the same way: whose time zone
applies, which of a person's chats can be reached, and finding a client by the alias
their practitioner gave them."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from feedback_bot.storage.models import Client, Identity, Practice, Practitioner


def practitioner_tz(practitioner: Practitioner, practice: Practice) -> str:
    return practitioner.timezone or practice.timezone


def client_tz(client: Client | None, practitioner: Practitioner, practice: Practice) -> str:
    """A client's own zone when they set one, else their practitioner's, else the practice's."""
    if client is not None and client.timezone:
        return client.timezone
    return practitioner_tz(practitioner, practice)


async def client_tz_of(session: AsyncSession, client: Client) -> str:
    """:func:`client_tz` when only the client is at hand."""
    if client.timezone:
        return client.timezone
    practitioner = await session.get(Practitioner, client.practitioner_id)
    assert practitioner is not None  # a foreign key
    practice = await session.get(Practice, practitioner.practice_id)
    assert practice is not None
    return practitioner_tz(practitioner, practice)


async def practitioner_chats(session: AsyncSession, practitioner_id: int) -> list[Identity]:
    """Every chat a practitioner can be reached in (they may have several platforms)."""
    rows = await session.execute(
        select(Identity)
        .where(Identity.practitioner_id == practitioner_id, Identity.reachable.is_(True))
        .order_by(Identity.id)
    )
    return list(rows.scalars())


async def client_chat(session: AsyncSession, client_id: int) -> Identity | None:
    """The chat a client is reached in: their oldest reachable one."""
    return (
        await session.execute(
            select(Identity)
            .where(Identity.client_id == client_id, Identity.reachable.is_(True))
            .order_by(Identity.id)
            .limit(1)
        )
    ).scalar_one_or_none()


async def find_client_by_alias(
    session: AsyncSession, practitioner_id: int, alias: str
) -> Client | None:
    """One of this practitioner's clients, by alias, ignoring case and Unicode form
    ("ängel" finds "Ängel"): ``Client.alias == alias`` compares the keyed hash of
    alias_key (storage.sealed), unique per practitioner (migration 0008 told apart old
    aliases that differed only in case)."""
    return (
        await session.execute(
            select(Client).where(Client.practitioner_id == practitioner_id, Client.alias == alias)
        )
    ).scalar_one_or_none()
