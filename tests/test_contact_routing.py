"""What a client sends "to the practice's feedback contact instead" stays with the person who
was the contact when they chose it: never the client's own practitioner, in any text, flag,
count, chart or file, whoever becomes the contact later."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from feedback_bot.storage.models import Checkin, Client, FeedbackItem
from tests.harness import Harness

TO_CONTACT = "To the practice's feedback contact instead"
NOT_RIGHT = "Something didn't feel right"
UNANSWERED = "hasn't answered check-ins"


def everything_sent_to(bot: Harness, who: str) -> str:
    """Every text and every attached file (HTML digest, chart) a person has received."""
    parts: list[str] = []
    for msg in bot.console.sent.get(who, []):
        parts.append(msg.text)
        parts += [a.data.decode("utf-8", "replace") for a in msg.attachments]
    return "\n".join(parts)


async def practice_with_contact(bot: Harness) -> tuple[int, int]:
    """Sam ("dr") is Ada's practitioner; Jo ("jo") is the practice's feedback contact."""
    sam = await bot.practitioner("dr", "Sam")
    jo = await bot.practitioner("jo", "Jo", feedback_contact=True)
    await bot.client("a", sam, alias="Ada")
    return sam, jo


async def weekly_digests(bot: Harness) -> None:
    """Through next Monday 08:00 London, when everyone's weekly digests go out."""
    bot.clock.set(datetime(2026, 11, 23, 7, 30, tzinfo=UTC))
    for _ in range(3):
        await bot.tick(minutes=30)


async def test_unanswered_flag_counts_neither_contact_items_nor_withdrawn_ones(
    bot: Harness,
) -> None:
    sam, _ = await practice_with_contact(bot)
    await bot.client("b", sam, alias="Ben")
    await bot.client("c", sam, alias="Cal")
    await bot.shares("a", "ada told the contact", NOT_RIGHT, TO_CONTACT)
    await bot.shares("b", "ben took this back", NOT_RIGHT, "Just so you know")
    await bot.says("b", "!mine")
    await bot.says("b", "!withdraw 1")
    # Cal is the control: the same, sent to Sam and kept, does raise the flag.
    await bot.shares("c", "cal said it to sam", NOT_RIGHT, "Just so you know")
    await bot.says("dr", "!digest")
    for alias in ("Ada", "Ben", "Cal"):
        await bot.checkins_unanswered(alias, weeks=3)
    bot.clock.advance(timedelta(weeks=4))
    text = "\n".join(await bot.says("dr", "!digest"))
    assert f"Cal {UNANSWERED}" in text
    assert f"Ada {UNANSWERED}" not in text, "an item sent to the contact raised Sam's flag"
    assert f"Ben {UNANSWERED}" not in text, "a withdrawn item raised the flag"


async def test_a_later_contact_change_never_shows_the_practitioner_earlier_items(
    bot: Harness,
) -> None:
    sam, _ = await practice_with_contact(bot)
    await bot.shares("a", "only for the contact seen", "Something else", TO_CONTACT)
    await bot.says("jo", "!digest")
    await bot.shares("a", "only for the contact waiting", NOT_RIGHT, TO_CONTACT)
    await bot.app.admin.set_feedback_contact(bot.practice_id, sam)

    await bot.says("dr", "!digest")
    await weekly_digests(bot)  # Sam's, the contact one included, now that Sam is the contact
    rendered = await bot.app.digests.render_files(sam, bot.tmp / "rendered")
    seen_by_sam = everything_sent_to(bot, "dr") + "\n".join(
        p.read_bytes().decode("utf-8", "replace") for p in rendered
    )
    assert "only for the contact" not in seen_by_sam

    # Jo, the contact when Ada chose it, still gets the waiting one.
    jo_text = "\n".join(await bot.says("jo", "!digest"))
    assert "only for the contact waiting" in jo_text


async def test_the_contact_as_recorded_then_gets_it_in_their_weekly_digest(
    bot: Harness,
) -> None:
    _, _ = await practice_with_contact(bot)
    kim = await bot.practitioner("kim", "Kim")
    await bot.shares("a", "for jo as the contact then", NOT_RIGHT, TO_CONTACT)
    await bot.app.admin.set_feedback_contact(bot.practice_id, kim)
    await weekly_digests(bot)
    assert "for jo as the contact then" in everything_sent_to(bot, "jo")
    assert "for jo as the contact then" not in everything_sent_to(bot, "kim")
    assert "for jo as the contact then" not in everything_sent_to(bot, "dr")


async def test_contact_gone_before_the_choice_sends_nothing_to_the_practitioner(
    bot: Harness,
) -> None:
    sam, _ = await practice_with_contact(bot)
    await bot.says("a", "meant for the contact only")
    await bot.presses("a", NOT_RIGHT)
    # The practice makes Sam the contact while Ada's question is still open.
    await bot.app.admin.set_feedback_contact(bot.practice_id, sam)
    replies = "\n".join(await bot.presses("a", TO_CONTACT))
    assert "nothing has been sent" in replies
    options = [c.label for c in bot.last_with_choices("a").choices]
    assert TO_CONTACT not in options
    await bot.says("dr", "!digest")
    await weekly_digests(bot)
    assert "meant for the contact only" not in everything_sent_to(bot, "dr")
    async with bot.app.sessions() as s:
        item = (await s.execute(select(FeedbackItem))).scalar_one()
    assert item.status == "draft" and item.routing is None


async def test_withdrawing_a_seen_contact_item_tells_the_contact_not_the_practitioner(
    bot: Harness,
) -> None:
    await practice_with_contact(bot)
    await bot.shares("a", "for the contact", NOT_RIGHT, TO_CONTACT)
    async with bot.app.sessions() as s, s.begin():
        ada = (await s.execute(select(Client).where(Client.alias == "Ada"))).scalar_one()
        now = bot.clock.now()
        s.add(
            Checkin(
                client_id=ada.id, kind="weekly", slot_at=now, due_at=now, status="expired",
                sent_at=now, created_at=now,
            )
        )  # fmt: skip
    jo_digest = "\n".join(await bot.says("jo", "!digest"))
    assert "for the contact" in jo_digest
    assert "check-in" not in jo_digest, "the contact reads what was sent to them, nothing more"
    await bot.says("a", "!mine")
    await bot.says("a", "!withdraw 1")
    assert "Ada withdrew something" in everything_sent_to(bot, "jo")
    assert "withdrew" not in everything_sent_to(bot, "dr")
