"""The one place client content is read. Every read says who is asking.

* a client reads only their own items;
* a practitioner reads only their own clients' items, except those the client routed
  to the practice's feedback contact instead, and, for a client moved to them from
  another practitioner, only what was shared from the move on;
* an item routed to the feedback contact is read only by the person who was the contact
  when the client chose that route (recorded on the item), never by whoever becomes the
  contact later, and never by the client's own practitioner;
* admins configure, and read no content at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession

from feedback_bot.privacy.vault import Vault
from feedback_bot.storage.models import Client, FeedbackItem
from feedback_bot.storage.states import Routing

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
        return (
            client.practitioner_id == reader.id
            and item.routing != Routing.CONTACT
            and shared_since_theirs(item, client)
        )
    return is_for_contact(item, client, reader.id)


def shared_since_theirs(item: FeedbackItem, client: Client) -> bool:
    """A client moved to another practitioner: the new one reads only what was shared
    from the move on. What came before was written for the old one, who keeps what they
    saw; the client was told so when they moved."""
    since = client.practitioner_since
    return since is None or (item.submitted_at or item.created_at) >= since


def is_for_contact(item: FeedbackItem, client: Client, practitioner_id: int) -> bool:
    """The item went to the feedback contact, and this practitioner was that contact when
    the client chose it. The client's own practitioner never is, whatever was recorded."""
    return (
        item.routing == Routing.CONTACT
        and item.contact_id == practitioner_id
        and client.practitioner_id != practitioner_id
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
