"""Finding a practice, practitioner or client by id, within a practice when the caller is
scoped to one (the console's admins are): someone else's id reads as unknown."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from feedback_bot.people.directory.errors import not_found
from feedback_bot.storage.models import Client, Practice, Practitioner


async def get_practice(
    session: AsyncSession, practice_id: int, *, scope: int | None = None
) -> Practice:
    practice = await session.get(Practice, practice_id)
    if practice is None or (scope is not None and practice.id != scope):
        raise not_found("practice", practice_id)
    return practice


async def get_practitioner(
    session: AsyncSession, practitioner_id: int, *, scope: int | None = None
) -> Practitioner:
    pr = await session.get(Practitioner, practitioner_id)
    if pr is None or (scope is not None and pr.practice_id != scope):
        raise not_found("practitioner", practitioner_id)
    return pr


async def get_client(
    session: AsyncSession, client_id: int, *, scope: int | None = None
) -> tuple[Client, Practitioner]:
    client = await session.get(Client, client_id)
    if client is None:
        raise not_found("client", client_id)
    pr = await session.get(Practitioner, client.practitioner_id)
    assert pr is not None  # a foreign key
    if scope is not None and pr.practice_id != scope:
        raise not_found("client", client_id)
    return client, pr
