"""The clock's part in the conversation: drafts nobody finished, and the alerts question
for someone who wrote instead of answering it.

Both are found by a stored due time (``feedback_item.draft_due_at``,
``client.alerts_ask_at``, both indexed), a few at a time, in small transactions; every
path moves the due time on or clears it, so a row is acted on once per due time. Quiet
hours are respected: what falls in them waits for their end.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from feedback_bot.conversation import drafts, feedback
from feedback_bot.conversation.onboarding import ALERTS_OPTIONS
from feedback_bot.conversation.turn import ClientTurn
from feedback_bot.people.rules import client_chat, client_tz
from feedback_bot.ports import EventKind, IncomingEvent
from feedback_bot.scheduling.wallclock import after_quiet_hours, parse_hhmm, zone
from feedback_bot.services import Services
from feedback_bot.storage.models import (
    Client,
    Conversation,
    FeedbackItem,
    Identity,
    Practice,
    Practitioner,
)
from feedback_bot.storage.states import ClientStatus, Delivery, ItemStatus, OutboxKind

BATCH = 50
ROUNDS = 20  # a tick's bound; whatever is left is due on the next tick
BUSY_RETRY = timedelta(hours=1)  # the alerts question waits while another one is open

ACTIVE = (ClientStatus.ACTIVE, ClientStatus.PAUSED)


async def tick(sessions: async_sessionmaker[AsyncSession], deps: Services, now: datetime) -> int:
    """One beat: act on the drafts and alerts questions that are due; returns how many."""
    done = 0
    for _ in range(ROUNDS):
        async with sessions() as session, session.begin():
            ids = (
                (
                    await session.execute(
                        select(FeedbackItem.id)
                        .where(
                            FeedbackItem.status == ItemStatus.DRAFT,
                            FeedbackItem.draft_due_at <= now,
                        )
                        .order_by(FeedbackItem.draft_due_at, FeedbackItem.id)
                        .limit(BATCH)
                        .with_for_update(skip_locked=True)
                    )
                )
                .scalars()
                .all()
            )
            for item_id in ids:
                await _draft_due(session, deps, item_id, now)
        done += len(ids)
        if len(ids) < BATCH:
            break
    async with sessions() as session, session.begin():
        clients = (
            (
                await session.execute(
                    select(Client)
                    .where(Client.alerts_ask_at <= now)
                    .limit(BATCH)
                    .with_for_update(skip_locked=True)
                )
            )
            .scalars()
            .all()
        )
        for client in clients:
            await _ask_alerts_again(session, deps, client, now)
        done += len(clients)
    return done


async def _client_turn(
    session: AsyncSession, deps: Services, client: Client, ident: Identity, now: datetime
) -> ClientTurn | None:
    """A turn in the client's chat with no incoming event: the clock speaking."""
    practitioner = await session.get(Practitioner, client.practitioner_id)
    practice = await session.get(Practice, practitioner.practice_id) if practitioner else None
    if practitioner is None or practice is None:
        return None
    event = IncomingEvent(
        platform=ident.platform, event_id="clock", address=ident.address, kind=EventKind.TEXT
    )
    return ClientTurn(
        session=session,
        deps=deps,
        event=event,
        now=now,
        identity=ident,
        client=client,
        practitioner=practitioner,
        practice=practice,
    )


def _after_quiet(turn: ClientTurn, now: datetime) -> datetime:
    client = turn.client
    tz = zone(client_tz(client, turn.practitioner, turn.practice))
    return after_quiet_hours(now, parse_hhmm(client.quiet_start), parse_hhmm(client.quiet_end), tz)


async def _draft_due(session: AsyncSession, deps: Services, item_id: int, now: datetime) -> None:
    item = await session.get(FeedbackItem, item_id)
    if item is None or item.status != ItemStatus.DRAFT:
        return
    client = await session.get(Client, item.client_id)
    if client is None or client.status not in ACTIVE:
        # After "stop" nothing is sent and nothing new goes out; the draft stays as it
        # was, and its clock starts again if they come back (``resume`` touches nothing:
        # the next word to it does).
        item.draft_due_at = None
        return
    conv = (
        await session.execute(select(Conversation).where(Conversation.item_id == item.id).limit(1))
    ).scalar_one_or_none()
    ident = await session.get(Identity, conv.identity_id) if conv is not None else None
    if ident is None or not ident.reachable:
        ident = await client_chat(session, client.id)
    turn = await _client_turn(session, deps, client, ident, now) if ident is not None else None
    if turn is None or ident is None:  # nobody to tell: the words still reach the practitioner
        if conv is not None:
            conv.item_id = None
        if drafts.is_empty(item):
            await drafts.discard(session, item)
        else:
            await drafts.submit(session, item, now)
        return
    if (later := _after_quiet(turn, now)) > now:
        item.draft_due_at = later
        return
    turn.conversation = conv if conv is not None and conv.identity_id == ident.id else None
    if conv is not None and not item.draft_nudged and not item.risk:
        await _nudge(turn, item)
        item.active_at = now  # an answer to the nudge is an answer, not words after a pause
        item.draft_nudged = True
        item.draft_due_at = now + drafts.SUBMIT_AFTER
        return
    await _file(turn, item, conv)


async def _nudge(turn: ClientTurn, item: FeedbackItem) -> None:
    """The pending question once more, gently; a different question that is open now is
    left alone, with a line saying the words are kept."""
    conv = await turn.conv()
    nudge = turn.t("words.nudge")
    reminder = {"kind": OutboxKind.REMINDER, "delivery": Delivery.AT_MOST_ONCE}
    if conv.item_id == item.id and conv.state in feedback.QUESTIONS:
        data = {k: v for k, v in conv.data.items() if k != "options"}
        options = list(conv.data.get("options", []))
        text = nudge + "\n\n" + turn.t(feedback.QUESTIONS[conv.state])
        await turn.ask(conv.state, text, options, data=data, **reminder)  # type: ignore[arg-type]
    elif conv.item_id == item.id and conv.state == "idle":
        conv.updated_at = turn.now
        await feedback.ask_next(turn, item, nudge + "\n\n")
    else:
        turn.say(turn.t("words.nudge_plain"), **reminder)  # type: ignore[arg-type]


async def _file(turn: ClientTurn, item: FeedbackItem, conv: Conversation | None) -> None:
    """Still unanswered after the nudge (or no longer being asked about): filed as it is,
    with what a skip gives; the client is told where it went."""
    told: list[str] = []
    if conv is not None and conv.identity_id == turn.identity.id:
        earlier_id = conv.data.get("earlier") if conv.state == "belongs" else None
        if conv.state in feedback.QUESTIONS:
            await turn.reset()
        if earlier_id:  # the pause question unanswered: both kept, apart, never merged
            earlier = await turn.session.get(FeedbackItem, int(earlier_id))
            if earlier is not None and earlier.status == ItemStatus.DRAFT:
                told.append(await feedback.file_as_it_was(turn, earlier))
    elif conv is not None:
        conv.item_id = None
    told.append(await feedback.file_as_it_was(turn, item))
    text = "\n\n".join(t for t in told if t)
    if text:
        turn.say(text, kind=OutboxKind.NOTICE)


async def _ask_alerts_again(
    session: AsyncSession, deps: Services, client: Client, now: datetime
) -> None:
    ident = await client_chat(session, client.id)
    if client.status not in ACTIVE or ident is None:
        client.alerts_ask_at = None
        return
    turn = await _client_turn(session, deps, client, ident, now)
    if turn is None:
        client.alerts_ask_at = None
        return
    if (later := _after_quiet(turn, now)) > now:
        client.alerts_ask_at = later
        return
    if (await turn.conv()).state != "idle":  # never over another open question
        client.alerts_ask_at = now + BUSY_RETRY
        return
    client.alerts_ask_at = None
    await turn.ask(
        "alerts_again",
        turn.t("words.ask_alerts_again"),
        ALERTS_OPTIONS,
        kind=OutboxKind.REMINDER,
        delivery=Delivery.AT_MOST_ONCE,
    )
