"""Closing the loop: what a client hears on their practitioner's behalf.

Only what actually happened is said: that the practitioner read it, that they said they
would bring it into the next session (only when they chose that), or their own words.
Every such message is kept (``PractitionerMessage``, words encrypted) so the client can
see it in their export, and it goes with an erasure.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from feedback_bot.delivery.outbox import enqueue
from feedback_bot.people.rules import client_chat
from feedback_bot.privacy.access import Reader, may_read
from feedback_bot.privacy.audit import record
from feedback_bot.services import Services
from feedback_bot.storage.models import (
    Client,
    Digest,
    FeedbackItem,
    Practitioner,
    PractitionerMessage,
    new_uid,
)
from feedback_bot.storage.states import ClientStatus, ItemStatus, OutboxKind

# A reply is a short note, not a second channel for therapy by chat.
MAX_REPLY_CHARS = 1_000
REACHABLE = (ClientStatus.ACTIVE, ClientStatus.PAUSED)


class How(enum.StrEnum):
    """What the practitioner chose that the client hears."""

    READ = "read"
    READ_SESSION = "read_session"
    WORDS = "words"


@dataclass
class Pending:
    """Unacknowledged items a practitioner is about to acknowledge, and whom that tells."""

    digest_ids: list[int]
    items: list[FeedbackItem] = field(default_factory=list)
    to_tell: list[Client] = field(default_factory=list)  # active, read notices on, in order
    notices_off: int = 0  # clients with items here who turned read notices off

    def latest_item(self, client_id: int) -> FeedbackItem | None:
        mine = [i for i in self.items if i.client_id == client_id]
        return max(mine, key=lambda i: (i.submitted_at or i.created_at, i.id)) if mine else None


async def unacked_digests(session: AsyncSession, practitioner_id: int) -> list[int]:
    return list(
        (
            await session.execute(
                select(Digest.id)
                .where(
                    Digest.practitioner_id == practitioner_id,
                    Digest.sent_at.is_not(None),
                    Digest.acked_at.is_(None),
                )
                .order_by(Digest.sent_at, Digest.id)
            )
        ).scalars()
    )


async def pending(
    session: AsyncSession,
    practitioner_id: int,
    digest_ids: list[int] | None,
    client_id: int | None = None,
) -> Pending:
    """What acknowledging these digests (None: every sent one; with ``client_id``, only
    that client's items) would cover. Items acknowledged before are never counted twice."""
    where = [
        FeedbackItem.status == ItemStatus.SUBMITTED,
        FeedbackItem.acked_at.is_(None),
        FeedbackItem.digest_id.in_(
            select(Digest.id).where(
                Digest.practitioner_id == practitioner_id, Digest.sent_at.is_not(None)
            )
        ),
    ]
    if digest_ids is not None:
        where.append(FeedbackItem.digest_id.in_(digest_ids))
    if client_id is not None:
        where.append(FeedbackItem.client_id == client_id)
    items = list(
        (
            await session.execute(select(FeedbackItem).where(*where).order_by(FeedbackItem.id))
        ).scalars()
    )
    result = Pending(
        digest_ids=list(digest_ids)
        if digest_ids is not None
        else sorted({i.digest_id for i in items if i.digest_id is not None}),
        items=items,
    )
    for cid in dict.fromkeys(i.client_id for i in items):
        client = await session.get(Client, cid)
        if client is None or client.status not in REACHABLE:
            continue
        if client.loop_notices:
            result.to_tell.append(client)
        else:
            result.notices_off += 1
    return result


async def acknowledge(
    session: AsyncSession,
    deps: Services,
    pr: Practitioner,
    todo: Pending,
    how: How,
    words: str | None,
    now: datetime,
    *,
    whole_digests: bool = True,
) -> int:
    """Mark the items (and, with ``whole_digests``, their digests) read and tell each client
    once, in the practitioner's chosen way. Returns how many clients were told."""
    ids = [i.id for i in todo.items]
    if ids:
        await session.execute(
            update(FeedbackItem)
            .where(FeedbackItem.id.in_(ids), FeedbackItem.acked_at.is_(None))
            .values(acked_at=now)
        )
    await _mark_digests(session, todo.digest_ids, now, whole=whole_digests)
    told = 0
    for client in todo.to_tell:
        item = todo.latest_item(client.id)
        if await tell(
            session, deps, pr, client, how, words, now, item_id=item.id if item else None
        ):
            told += 1
    await record(
        session,
        now,
        f"practitioner:{pr.id}",
        "digest.acknowledged",
        "practitioner",
        pr.id,
        digests=len(todo.digest_ids),
        items=len(ids),
        clients_told=told,
        how=how.value,
    )
    return told


async def _mark_digests(
    session: AsyncSession, digest_ids: list[int], now: datetime, *, whole: bool
) -> None:
    for digest_id in digest_ids:
        if not whole:
            # One client's items: the digest is read once nothing in it is left unread.
            left = await session.scalar(
                select(FeedbackItem.id)
                .where(
                    FeedbackItem.digest_id == digest_id,
                    FeedbackItem.status == ItemStatus.SUBMITTED,
                    FeedbackItem.acked_at.is_(None),
                )
                .limit(1)
            )
            if left is not None:
                continue
        await session.execute(
            update(Digest)
            .where(Digest.id == digest_id, Digest.acked_at.is_(None))
            .values(acked_at=now)
        )


async def tell(
    session: AsyncSession,
    deps: Services,
    pr: Practitioner,
    client: Client,
    how: How,
    words: str | None,
    now: datetime,
    *,
    item_id: int | None = None,
    direct: bool = False,
) -> bool:
    """Send the client what their practitioner chose, and keep a record of it. ``direct``:
    a reply on its own (``reply ALIAS …``), not an acknowledgement."""
    ident = await client_chat(session, client.id)
    if ident is None or client.status not in REACHABLE:
        return False
    lang = deps.config.reader_language(client.language, ident.language)
    if how is How.WORDS:
        key = "loop.direct_words" if direct else "loop.read_words"
    else:
        key = f"loop.{how.value}"
    text = deps.catalog.t(key, lang, practitioner=pr.name, words=(words or "").strip())
    message = PractitionerMessage(
        uid=new_uid(),
        client_id=client.id,
        practitioner_id=pr.id,
        item_id=item_id,
        kind=how.value,
        created_at=now,
    )
    if how is How.WORDS:
        message.text_enc = deps.vault.seal("practitioner_message", "text", message.uid, words or "")
    session.add(message)
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


async def may_reply(session: AsyncSession, pr: Practitioner, item: FeedbackItem) -> bool:
    """A practitioner answers only their own clients' items, and never one the client sent
    to the practice's feedback contact instead."""
    return await may_read(session, Reader("practitioner", pr.id), item)
