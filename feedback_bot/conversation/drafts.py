"""The life of a draft: words are never stranded in it.

A draft is the item a client is still being asked about. Each time they write to it or
answer about it, its clock restarts (``touch``): after ``NUDGE_AFTER`` without a word the
pending question is asked once more, gently; ``SUBMIT_AFTER`` later it is filed with the
defaults a skip would give, and the client is told where it went and that they can still
withdraw it (``file``). A draft nobody is asking about any more is filed when due.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from feedback_bot.storage.models import Client, FeedbackItem
from feedback_bot.storage.states import ItemStatus, Routing, Valence

NUDGE_AFTER = timedelta(hours=4)
SUBMIT_AFTER = timedelta(hours=20)  # after the nudge: about a day in all
# Words within this of the last ones belong together (people write in bursts); after it,
# the client is asked whether new words belong to what they were saying.
PAUSE = timedelta(minutes=30)
# Within this of a question, more words join quietly: one question, not one per message.
BURST = timedelta(minutes=2)
DEFAULT_VALENCE = Valence.OTHER
# Skipping "where should this go" must not put words in front of the practitioner that the
# client did not choose to bring into the room, so the gentler route is the default.
DEFAULT_ROUTING = Routing.FYI


def touch(item: FeedbackItem, now: datetime) -> None:
    """The client wrote to the draft or answered about it: its clock starts again."""
    item.active_at = now
    item.draft_due_at = now + NUDGE_AFTER
    item.draft_nudged = False


def paused(item: FeedbackItem, now: datetime) -> bool:
    return now - (item.active_at or item.created_at) > PAUSE


def is_empty(item: FeedbackItem) -> bool:
    """No words and no chosen signal: filing it would tell the practitioner nothing."""
    return item.text_enc is None and item.valence in (None, Valence.OTHER)


async def next_number(session: AsyncSession, client_id: int) -> int:
    """The client's next item number, counted in one statement: never given twice."""
    result = await session.execute(
        update(Client)
        .where(Client.id == client_id)
        .values(item_counter=Client.item_counter + 1)
        .returning(Client.item_counter)
        .execution_options(synchronize_session=False)
    )
    return int(result.scalar_one())


async def submit(session: AsyncSession, item: FeedbackItem, now: datetime) -> None:
    """Submit a draft as it is; what was not chosen gets a skip's defaults."""
    item.valence = item.valence or DEFAULT_VALENCE
    item.routing = item.routing or DEFAULT_ROUTING
    item.status = ItemStatus.SUBMITTED
    item.submitted_at = now
    item.draft_due_at = None
    item.number = await next_number(session, item.client_id)


async def discard(session: AsyncSession, item: FeedbackItem) -> None:
    """An empty draft holds nothing to keep: it goes, rather than filing an empty item."""
    await session.delete(item)
    await session.flush()
