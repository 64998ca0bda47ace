"""The one place client content is read. Every read says who is asking.

* a client reads only their own items;
* a practitioner reads only their own clients' items, except those the client routed
  to the practice's feedback contact instead;
* the feedback contact reads only items routed to them, from their own practice;
* admins configure, and read no content at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession

from feedback_bot.privacy.vault import Vault
from feedback_bot.storage.models import Client, FeedbackItem, Practice, Practitioner

Role = Literal["client", "practitioner", "contact", "admin"]


class AccessDenied(Exception):
    pass


@dataclass(frozen=True, slots=True)
class Reader:
    role: Role
    id: int  # client id, practitioner id; 0 for an admin

    def __str__(self) -> str:
        return f"{self.role}:{self.id}"


async def may_read(session: AsyncSession, reader: Reader, item: FeedbackItem) -> bool:
    if reader.role == "admin":
        return False
    if reader.role == "client":
        return item.client_id == reader.id
    client = await session.get(Client, item.client_id)
    if client is None:
        return False
    if reader.role == "practitioner":
        return client.practitioner_id == reader.id and item.routing != "contact"
    owner = await session.get(Practitioner, client.practitioner_id)
    practice = await session.get(Practice, owner.practice_id) if owner is not None else None
    return (
        practice is not None
        and practice.feedback_contact_id == reader.id
        and item.routing == "contact"
    )


async def read_text(
    session: AsyncSession, vault: Vault, reader: Reader, item: FeedbackItem
) -> str | None:
    if not await may_read(session, reader, item):
        raise AccessDenied(f"{reader} may not read item {item.id}")
    if item.text_enc is None:
        return None
    return vault.open("feedback_item", "text", item.uid, item.text_enc)


def seal_text(vault: Vault, item: FeedbackItem, text: str | None) -> None:
    item.text_enc = None if text is None else vault.seal("feedback_item", "text", item.uid, text)


def read_own_text(vault: Vault, client_id: int, item: FeedbackItem) -> str | None:
    """A client reading their own item; no database lookup needed to decide."""
    if item.client_id != client_id:
        raise AccessDenied(f"client:{client_id} may not read item {item.id}")
    if item.text_enc is None:
        return None
    return vault.open("feedback_item", "text", item.uid, item.text_enc)
