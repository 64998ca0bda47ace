"""Crisis replies that must go out whatever else is failing, and floods that must not
hurt anyone else."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from feedback_bot.storage.models import FeedbackItem, InboxEvent, SafetyEvent
from tests.harness import REPO, Harness

RISKY = "honestly I don't see the point anymore"


class BrokenDatabase:
    """Stands in for the session factory while the database is unreachable."""

    def __call__(self) -> object:
        raise OperationalError("connect", {}, Exception("database is down"))


async def test_crisis_resources_go_out_even_when_the_database_is_down(bot: Harness) -> None:
    pid = await bot.practitioner()
    await bot.client("alex", pid, alerts=True)
    working = bot.app.inbox._sessions
    bot.app.inbox._sessions = BrokenDatabase()  # type: ignore[assignment]
    event = bot.console.event_for("alex", RISKY)
    before = len(bot.console.sent["alex"])
    with pytest.raises(OperationalError):
        await bot.console.deliver(event)  # the adapter sees the failure: no cursor advance
    direct = bot.console.sent["alex"][before:]
    assert len(direct) == 1
    assert "findahelpline.com" in direct[0].text and "real time" in direct[0].text

    # The platform redelivers once the database is back: stored once, no second crisis
    # message, and the practitioner (who may be alerted) is told.
    bot.app.inbox._sessions = working
    await bot.console.deliver(event)
    await bot.console.deliver(event)
    await bot.app.drain()
    after = [m.text for m in bot.console.sent["alex"][before + 1 :]]
    opening = bot.app.catalog.t("safety.reply", "en")
    assert not any("findahelpline.com" in t and opening in t for t in after)
    assert any("may mean they are in danger" in t for _, t in bot.deliveries["dr"])
    async with bot.app.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(SafetyEvent)) == 1
        assert (
            await s.scalar(
                select(func.count())
                .select_from(InboxEvent)
                .where(InboxEvent.event_id == event.event_id)
            )
            == 1
        )


async def test_a_flood_from_one_chat_gets_one_notice_and_never_slows_another(
    bot: Harness,
) -> None:
    pid = await bot.practitioner()
    await bot.client("flood", pid)
    await bot.client("calm", pid)
    async with bot.app.sessions() as s:
        rows_before = await s.scalar(select(func.count()).select_from(InboxEvent))
    for i in range(200):
        await bot.console.say("flood", f"message {i}")
    replies = await bot.says("calm", "The breathing exercise helped, thank you.")
    assert any("What would you like to share?" in r for r in replies), "the calm chat is served"
    await bot.app.drain()
    texts = [m.text for m in bot.console.sent["flood"]]
    assert sum("That's a lot of messages" in t for t in texts) == 1
    async with bot.app.sessions() as s:
        stored = await s.scalar(select(func.count()).select_from(InboxEvent)) - rows_before
    assert stored <= bot.app.settings.inbound_per_minute + 2, "the disk is not filled"
    # A minute later the chat is heard again, and what was stored before is intact.
    bot.clock.advance(minutes=1)
    replies = await bot.says("flood", "sorry, I'm calmer now")
    assert replies
    async with bot.app.sessions() as s:
        drafts = await s.scalar(select(func.count()).select_from(FeedbackItem))
    assert drafts and drafts >= 2


async def test_risky_words_are_never_throttled(bot: Harness) -> None:
    pid = await bot.practitioner()
    await bot.client("alex", pid)
    for i in range(bot.app.settings.inbound_per_minute + 5):
        await bot.console.say("alex", f"filler {i}")
    replies = await bot.says("alex", RISKY)
    assert any(r.startswith(bot.app.catalog.t("safety.reply", "en")) for r in replies)


def test_a_deployments_own_safety_file_adds_to_the_shipped_lists(tmp_path: Path) -> None:
    """A safety.yaml beside a deployment's prompts file once replaced the shipped lists:
    a practice adding one phrase silently lost every shipped rule."""
    from feedback_bot.people.practice_config import load_practice_config
    from feedback_bot.safety.direct import load_detector

    (tmp_path / "safety.yaml").write_text(
        "version: 1\nlanguages:\n  en:\n    indirect:\n      - id: practice_word\n"
        '        topic: ideation\n        patterns: ["blue whale"]\n',
        encoding="utf-8",
    )
    config = load_practice_config(REPO / "config" / "prompts.yaml")
    detector = load_detector(config, tmp_path / "safety.yaml")
    assert detector.check("I have been thinking about the blue whale again") is not None
    assert detector.check("I want to kill myself") is not None
