"""The practitioner's digest: when it arrives, what is on top and why, and closing the loop."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from feedback_bot.storage.models import AllianceScore, Client, Digest, FeedbackItem
from tests.harness import Harness


def digests_to(bot: Harness, who: str) -> list[tuple[datetime, str]]:
    """Digests are the messages that carry the "I've read this" button."""
    pairs = zip(bot.deliveries.get(who, []), bot.console.sent[who], strict=True)
    return [
        (t, x) for (t, x), msg in pairs if any(c.label == "I've read this" for c in msg.choices)
    ]


async def test_weekly_digest_arrives_at_each_practitioners_local_time(bot: Harness) -> None:
    london = await bot.practitioner("ldn", "Lee", tz="Europe/London")
    tokyo = await bot.practitioner("tyo", "Tomo", tz="Asia/Tokyo")
    await bot.client("a", london)
    await bot.client("b", tokyo)
    await bot.shares(
        "a", "You remembered my sister's name.", "Something felt good", "Just so you know"
    )
    await bot.shares(
        "b", "I liked the quiet pause at the end.", "Something felt good", "Just so you know"
    )
    # Start Mon 16 Nov 09:00 UTC; the next Mondays at 08:00 local are 23 Nov (both).
    while bot.clock.now() < datetime(2026, 11, 24, tzinfo=UTC):
        await bot.tick(hours=1)
    [(ldn_at, ldn_text)] = digests_to(bot, "ldn")
    [(tyo_at, tyo_text)] = digests_to(bot, "tyo")
    assert ldn_at.astimezone(ZoneInfo("Europe/London")).strftime("%a %H:%M") == "Mon 08:00"
    assert tyo_at.astimezone(ZoneInfo("Asia/Tokyo")).strftime("%a %H:%M") == "Mon 08:00"
    assert "sister's name" in ldn_text and "sister's name" not in tyo_text
    assert "quiet pause" in tyo_text and "quiet pause" not in ldn_text


async def test_empty_weekly_digest_is_not_sent_but_on_demand_says_nothing_new(bot: Harness) -> None:
    pid = await bot.practitioner()
    await bot.client("a", pid)
    while bot.clock.now() < datetime(2026, 11, 24, tzinfo=UTC):
        await bot.tick(hours=2)
    assert digests_to(bot, "dr") == []
    replies = await bot.says("dr", "!digest")
    assert any("Nothing new" in r for r in replies)


async def test_pre_session_digest_covers_only_that_client(bot: Harness) -> None:
    pid = await bot.practitioner()
    await bot.client("a", pid, alias="Ada")
    await bot.client("b", pid, alias="Ben")
    await bot.shares("a", "Ada's words", "Something felt good", "Bring it into our next session")
    await bot.shares("b", "Ben's words", "Something felt good", "Bring it into our next session")
    await bot.says("dr", "!session Ada 2026-11-18 15:00")
    # 24 h before Wed 15:00 London is Tue 15:00 UTC; tick through Tuesday afternoon.
    bot.clock.set(datetime(2026, 11, 17, 14, 0, tzinfo=UTC))
    for _ in range(4):
        await bot.tick(minutes=30)
    [(at, text)] = digests_to(bot, "dr")
    assert at >= datetime(2026, 11, 17, 15, 0, tzinfo=UTC)
    assert "Ada's words" in text and "Ben's words" not in text


async def test_order_flags_and_reasons(bot: Harness) -> None:
    pid = await bot.practitioner()
    await bot.client("a", pid, alias="Ada")
    await bot.shares("a", "fyi words", "Something felt good", "Just so you know")
    bot.clock.advance(timedelta(minutes=5))
    await bot.shares("a", "hard words", "Something didn't feel right", "Just so you know")
    bot.clock.advance(timedelta(minutes=5))
    await bot.shares("a", "session words", "Something felt good", "Bring it into our next session")
    await bot.client("p", pid, alias="Pia")
    await bot.says("p", "!pause")
    async with bot.app.sessions() as s, s.begin():
        ada = (await s.execute(select(Client).where(Client.alias == "Ada"))).scalar_one()
        for days, score in ((14, 8), (7, 9), (0, 4)):
            s.add(
                AllianceScore(
                    client_id=ada.id,
                    item_key="heard",
                    score=score,
                    at=bot.clock.now() - timedelta(days=days),
                )
            )
    replies = await bot.says("dr", "!digest")
    text = "\n".join(replies)
    flags_end = text.index("— Ada —")
    flags = text[:flags_end]
    assert "didn't feel right" in flags
    assert "4 out of 10" in flags
    assert "Pia paused" in flags
    # Session items and "didn't feel right" first, then "just so you know".
    assert text.index("session words") < text.index("fyi words")
    assert text.index("hard words") < text.index("fyi words")
    chart = [p for p in (bot.tmp / "attachments").iterdir() if p.suffix == ".png"]
    assert chart and chart[0].read_bytes().startswith(b"\x89PNG") and chart[0].stat().st_size > 5000


async def test_score_drop_and_unanswered_checkins_are_flagged(bot: Harness) -> None:
    pid = await bot.practitioner()
    await bot.client("a", pid, alias="Ada")
    await bot.shares("a", "hard words", "Something didn't feel right", "Just so you know")
    await bot.says("dr", "!digest")  # seen; the flag below must come from later events
    async with bot.app.sessions() as s, s.begin():
        ada = (await s.execute(select(Client).where(Client.alias == "Ada"))).scalar_one()
        later = bot.clock.now() + timedelta(weeks=4)
        for days, score in ((21, 9), (14, 9), (1, 5)):
            s.add(
                AllianceScore(
                    client_id=ada.id, item_key="goals", score=score, at=later - timedelta(days=days)
                )
            )
    await bot.checkins_unanswered("Ada", weeks=3)
    bot.clock.set(later)
    text = "\n".join(await bot.says("dr", "!digest"))
    assert "lower than their usual 9" in text
    assert "hasn't answered check-ins" in text


async def test_contact_routed_items_never_reach_the_practitioner(bot: Harness) -> None:
    pid = await bot.practitioner("dr", "Sam")
    await bot.practitioner("jo", "Jo", feedback_contact=True)
    await bot.client("a", pid, alias="Ada")
    await bot.shares(
        "a",
        "please tell the practice",
        "Something didn't feel right",
        "To the practice's feedback contact instead",
    )
    sam_text = "\n".join(await bot.says("dr", "!digest"))
    assert "please tell the practice" not in sam_text
    jo_text = "\n".join(await bot.says("jo", "!digest"))
    assert "please tell the practice" in jo_text


async def test_acknowledging_tells_each_client_once_and_locks_editing(bot: Harness) -> None:
    pid = await bot.practitioner()
    await bot.client("a", pid, alias="Ada")
    await bot.client("b", pid, alias="Ben")
    await bot.shares("a", "one", "Something felt good", "Bring it into our next session")
    await bot.shares("a", "two", "Something felt good", "Just so you know")
    await bot.shares("b", "three", "Something felt good", "Just so you know")
    await bot.says("b", "!notices off")
    await bot.says("dr", "!digest")
    digest_button = bot.last_with_choices("dr").choices[0]
    await bot.presses("dr", "I've read this")
    await bot.presses("dr", "I've read it; we'll talk next session")
    await bot.console.press("dr", digest_button.id)  # a second press is harmless
    await bot.app.drain()
    await bot.says("dr", "!ack")
    told_a = [x for _, x in bot.deliveries["a"] if "has read what you shared" in x]
    told_b = [x for _, x in bot.deliveries["b"] if "has read what you shared" in x]
    assert len(told_a) == 1 and "next session" in told_a[0]
    assert told_b == [], "Ben turned these notices off"
    await bot.says("a", "!mine")
    replies = await bot.says("a", "!edit 1")
    assert any("can't be changed" in r for r in replies)
    async with bot.app.sessions() as s:
        acked = (await s.execute(select(Digest.acked_at))).scalars().all()
    assert len([a for a in acked if a]) == 1


async def test_withdrawal_after_digest_tells_the_practitioner(bot: Harness) -> None:
    pid = await bot.practitioner()
    await bot.client("a", pid, alias="Ada")
    await bot.shares("a", "seen words", "Something felt good", "Just so you know")
    await bot.says("dr", "!digest")
    await bot.says("a", "!mine")
    await bot.says("a", "!withdraw 1")
    assert any("withdrew something" in x for _, x in bot.deliveries["dr"])
    async with bot.app.sessions() as s:
        item = (await s.execute(select(FeedbackItem))).scalar_one()
    assert item.status == "withdrawn"


async def test_stopped_clients_and_crisis_moments_are_flagged_without_their_words(
    bot: Harness,
) -> None:
    pid = await bot.practitioner()
    await bot.client("a", pid, alias="Ada")
    await bot.client("s", pid, alias="Sol")
    await bot.says("a", "everyone would be better off without me")
    await bot.says("s", "!stop")
    text = "\n".join(await bot.says("dr", "!digest"))
    flags = text[: text.index("— Ada —")] if "— Ada —" in text else text
    assert "Ada wrote something that may mean they were in danger" in flags
    assert "Sol stopped" in flags
    assert "better off without me" not in flags, "a flag says why, not what"
    again = "\n".join(await bot.says("dr", "!digest"))
    assert "in danger" not in again, "each crisis moment is flagged once"
