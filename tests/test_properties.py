"""Property-based: random, hostile and broken input driven into the whole app for a linked
client. Whatever arrives (huge, empty, control characters, RTL, combining marks, emoji,
stale buttons, edits, stickers, replays, bursts), nothing escapes as an exception, every
processed event is handled (not failed), submitted feedback never goes missing, and each
new message a person typed gets a reply, except words that join an item whose first
question has only just been asked (a burst gets one question, not one per message): those
are kept in the item, and that is checked instead.

Hypothesis runs many examples against one app per test function: the app is built inside
the test, on its own event loop, from the function-scoped database URL."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from feedback_bot.conversation import drafts
from feedback_bot.ports import EventKind, IncomingEvent
from feedback_bot.privacy.access import read_own_text
from feedback_bot.storage.models import Conversation, FeedbackItem, Identity, InboxEvent
from tests.harness import Harness, make_harness

START = datetime(2026, 11, 16, 9, 0, tzinfo=UTC)

# -- what a person (or a broken client app) might send -------------------------------------

ODD_TEXTS = [
    "",
    " ",
    "\n\n\t",
    "\x00\x01\x02\x7f",
    "\u202eexif.exe\u202c",  # right-to-left override
    "مرحبا، الجلسة كانت جيدة",
    "השיחה הייתה קשה",
    "e\u0301\u0301\u0301 a\u0308\u0324",  # stacked combining marks
    "Z̸̢̛̖̗̈́a̶͎͌l̴̰̈g̵̱̓o̸̺͝",
    "👩‍👩‍👧‍👦🔥🫠" * 5,
    "\ufeff\u200b\u200d",
    "1",
    "2",
    "3",
    "4",
    "0",
    "99",
    "skip",
    "Skip!",
    "Something felt good",
    "something didn’t feel right",
    "Just so you know",
    "Bring it into our next session",
    "I agree",
    "!",
    "! feedback",
    "/start",
    "I don't see the point anymore",
    "this homework is killing me",
]
# "delete" is left out: erasure is meant to make submitted items go away.
COMMANDS = [
    "feedback", "mine", "edit", "withdraw", "pause", "resume", "stop", "export", "language",
    "checkins", "timezone", "quiet", "notices", "help", "start", "invite", "digest", "ack",
    "nonsense", "FEEDBACK", "Mine",
]  # fmt: skip

texts = st.one_of(
    st.sampled_from(ODD_TEXTS),
    st.text(max_size=300),
    st.text(alphabet=st.characters(categories=["Cc", "Cf", "Mn", "Me", "Zs", "So"]), max_size=80),
    st.integers(19_990, 20_010).map(lambda n: "é" * n),  # around the 20,000 limit
    st.integers(20_001, 60_000).map(lambda n: ("x\u0301" * n)[:n]),
)
commands = st.builds(
    lambda name, args: f"!{name} {args}".rstrip(),
    st.sampled_from(COMMANDS),
    st.one_of(
        st.sampled_from(["", "1", "2", "0", "-1", "999", "on", "off", "en", "xx"]),
        st.text(max_size=40),
    ),
)


@dataclass(frozen=True)
class Send:
    text: str


@dataclass(frozen=True)
class Press:
    pick: int  # which of the buttons seen so far (modulo), or a made-up id if negative
    made_up: str = ""


@dataclass(frozen=True)
class Other:
    kind: EventKind
    text: str | None = None


@dataclass(frozen=True)
class Replay:
    pick: int


@dataclass(frozen=True)
class Burst:
    """Several messages arrive before the bot gets to any of them."""

    texts: tuple[str, ...]


actions = st.one_of(
    texts.map(Send),
    commands.map(Send),
    st.builds(Press, st.integers(-3, 50), st.text(max_size=20)),
    st.builds(Other, st.sampled_from([EventKind.EDIT]), st.text(max_size=50)),
    st.just(Other(EventKind.NON_TEXT)),
    st.builds(Replay, st.integers(0, 50)),
    st.lists(st.one_of(texts, commands), min_size=2, max_size=4).map(lambda x: Burst(tuple(x))),
)


# -- running them --------------------------------------------------------------------------


@dataclass
class Run:
    bot: Harness
    practitioner: int
    examples: int = 0
    who: str = ""
    client_id: int = 0
    sent_events: list[IncomingEvent] = field(default_factory=list)
    buttons: list[str] = field(default_factory=list)


async def submitted(bot: Harness, client_id: int | None = None) -> int:
    stmt = (
        select(func.count()).select_from(FeedbackItem).where(FeedbackItem.submitted_at.is_not(None))
    )
    if client_id is not None:
        stmt = stmt.where(FeedbackItem.client_id == client_id)
    async with bot.app.sessions() as s:
        return int(await s.scalar(stmt) or 0)


async def first_question_waiting(bot: Harness, client_id: int) -> bool:
    """The client's first question about an item has only just been asked: words now join
    the item quietly."""
    async with bot.app.sessions() as s:
        conv = (
            await s.execute(
                select(Conversation)
                .join(Identity, Identity.id == Conversation.identity_id)
                .where(Identity.client_id == client_id)
            )
        ).scalar_one_or_none()
    if conv is None or conv.state != "valence":
        return False
    return bot.clock.now() - conv.updated_at <= drafts.BURST


async def draft_words(bot: Harness, client_id: int) -> str:
    async with bot.app.sessions() as s:
        found = (
            await s.execute(
                select(FeedbackItem).where(
                    FeedbackItem.client_id == client_id, FeedbackItem.status == "draft"
                )
            )
        ).scalars()
        return "\n\n".join(read_own_text(bot.app.vault, client_id, i) or "" for i in found)


async def inbox_statuses(bot: Harness) -> dict[str, int]:
    async with bot.app.sessions() as s:
        rows = await s.execute(select(InboxEvent.status, func.count()).group_by(InboxEvent.status))
        return {status: int(n) for status, n in rows.all()}


def remember_buttons(run: Run, who: str, new: list[Any]) -> None:
    for msg in new:
        run.buttons.extend(c.id for c in msg.choices)


async def play(run: Run, steps: list[Any]) -> None:
    bot = run.bot
    run.examples += 1
    if run.examples % 3 == 1:  # a fresh client now and then; others carry on where they were
        run.client_id = await bot.client(
            f"client-{run.examples}", run.practitioner, alerts=run.examples % 2 == 0
        )
        run.who = f"client-{run.examples}"
    who, client_id = run.who, run.client_id
    bot.new_messages(who)
    total_before = await submitted(bot)
    mine = await submitted(bot, client_id)

    for step in steps:
        bot.clock.advance(timedelta(seconds=20))  # a person, not a flood
        fresh: list[IncomingEvent] = []
        expect_reply = 0
        joins = await first_question_waiting(bot, client_id)
        if isinstance(step, Send):
            fresh = [bot.console.event_for(who, step.text)]
            expect_reply = 0 if joins else 1
        elif isinstance(step, Burst):
            fresh = [bot.console.event_for(who, text) for text in step.texts]
            expect_reply = 0 if joins else 1  # one answer to the burst as a whole
        elif isinstance(step, Press):
            if step.pick >= 0 and run.buttons:
                choice_id = run.buttons[step.pick % len(run.buttons)]
            else:
                choice_id = step.made_up or "x"
            fresh = [
                IncomingEvent(
                    "console", uuid.uuid4().hex, who, EventKind.CHOICE, choice_id=choice_id
                )
            ]
        elif isinstance(step, Other):
            fresh = [IncomingEvent("console", uuid.uuid4().hex, who, step.kind, text=step.text)]
            expect_reply = 1
        elif isinstance(step, Replay) and run.sent_events:
            old = run.sent_events[step.pick % len(run.sent_events)]
            await bot.console.deliver(old)  # already stored: must change nothing
        for ev in fresh:
            await bot.console.deliver(ev)
        run.sent_events.extend(fresh)

        await bot.app.drain()
        new = bot.new_messages(who)
        remember_buttons(run, who, new)
        assert len(new) >= expect_reply, (step, [m.text[:60] for m in new])
        if isinstance(step, Send) and not new:  # joined quietly: kept, not dropped
            assert (await draft_words(bot, client_id)).endswith(step.text), step
        statuses = await inbox_statuses(bot)
        assert set(statuses) <= {"done"}, statuses  # nothing failed, nothing left pending
        now_mine = await submitted(bot, client_id)
        assert now_mine >= mine, "a submitted item went missing"
        mine = now_mine
    assert await submitted(bot) >= total_before


def test_random_input_never_breaks_the_conversation(database_url: str, tmp_path: Path) -> None:
    loop = asyncio.new_event_loop()
    try:
        bot = loop.run_until_complete(make_harness(database_url, tmp_path, START))
        run = Run(bot=bot, practitioner=loop.run_until_complete(bot.practitioner("dr")))

        @settings(
            max_examples=30,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        )
        @given(st.lists(actions, min_size=1, max_size=12))
        def check(steps: list[Any]) -> None:
            loop.run_until_complete(play(run, steps))

        check()
        # Everything the practitioner was sent made it out too.
        loop.run_until_complete(bot.app.drain())
    finally:
        if "bot" in locals():
            loop.run_until_complete(bot.close())
        loop.close()
