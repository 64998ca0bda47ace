"""Issue 16, points 14-17, through the whole app: a pre-session digest brings back what was
not yet talked about, a flag alone does not repeat "Nothing new from Kim", long words are
cut visibly in chat and whole in the file, the chart keeps overlapping lines visible and
its caption is not its title, and the feedback contact learns whose client is whose."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import numpy as np
from matplotlib.image import imread
from sqlalchemy import update

from feedback_bot.catalog import Catalog
from feedback_bot.digest.chart import OKABE_ITO, render_trend_chart
from feedback_bot.digest.render import render_html
from feedback_bot.digest.view import ClientSection, DigestView, ItemView, ScorePoint
from feedback_bot.storage.models import Client
from tests.harness import Harness, t
from tests.test_digest_delivery import digests_to


async def tick_until(bot: Harness, until: datetime, hours: float = 1) -> None:
    while bot.clock.now() < until:
        await bot.tick(hours=hours)


async def test_pre_session_digest_brings_back_what_was_not_yet_talked_about(bot: Harness) -> None:
    pid = await bot.practitioner()
    ada = await bot.client("a", pid, alias="Ada")
    async with bot.app.sessions() as s, s.begin():  # only her own words in this story
        await s.execute(update(Client).where(Client.id == ada).values(checkin_cadence="off"))
    await bot.says("dr", "!session Ada 2026-11-18 10:00")
    await bot.says("dr", "!session Ada 2026-11-25 15:00")
    await bot.shares("a", "before the first session", "Something felt good", "Just so you know")
    await tick_until(bot, datetime(2026, 11, 19, 12, tzinfo=UTC))
    [(_, first)] = digests_to(bot, "dr")  # before Wednesday's session
    assert "before the first session" in first

    await bot.shares("a", "after the first session", "Something felt good", "Just so you know")
    await tick_until(bot, datetime(2026, 11, 24, 8, tzinfo=UTC))
    [_, (_, weekly)] = digests_to(bot, "dr")
    assert "after the first session" in weekly and "before the first session" not in weekly

    await bot.shares("a", "on the day before", "Something felt good", "Just so you know")
    await tick_until(bot, datetime(2026, 11, 24, 16, tzinfo=UTC))
    [_, _, (_, pre)] = digests_to(bot, "dr")
    assert "Feedback before your next session" in pre
    assert "since Wed 18 Nov" in pre  # the last session, not the last digest
    assert "on the day before" in pre
    # Shown in Monday's weekly digest, not yet talked about: here again, and marked so.
    assert "after the first session" in pre
    assert t(bot, "digest.item_seen.mark") in pre
    # Talked about in last Wednesday's session: not again.
    assert "before the first session" not in pre


async def test_a_flag_alone_does_not_repeat_nothing_new(bot: Harness) -> None:
    pid = await bot.practitioner()
    await bot.client("kim", pid, alias="Kim")
    await bot.says("dr", "!session Kim tuesday 10:00 weekly")
    await bot.says("kim", "!pause")
    await tick_until(bot, datetime(2026, 12, 2, tzinfo=UTC))  # two weeks and more
    sent = digests_to(bot, "dr")
    # Once, before the first session after the pause; not again at every digest time.
    assert len(sent) == 1, [when for when, _ in sent]
    assert "Kim" in sent[0][1] and "paused" in sent[0][1]


async def test_long_words_are_cut_in_chat_and_whole_in_the_file(bot: Harness) -> None:
    pid = await bot.practitioner()
    await bot.client("a", pid, alias="Ada")
    long_words = " ".join(f"word{n}" for n in range(600)) + " THE-END"
    await bot.shares("a", long_words, "Something didn't feel right", "Just so you know")
    text = "\n".join(await bot.says("dr", "!digest"))
    assert "THE-END" not in text
    assert "…”\n" + t(bot, "digest.item_cut.note") in text
    assert " ".join(f"word{n}" for n in range(100)) in text  # the beginning, as written
    [page] = (bot.tmp / "attachments").glob("dr-*.html")
    assert long_words in page.read_text()


async def test_the_feedback_contact_sees_whose_client_it_is(bot: Harness) -> None:
    sam = await bot.practitioner("dr", "Sam")
    await bot.practitioner("jo", "Jo", feedback_contact=True)
    await bot.client("a", sam, alias="Ada")
    await bot.shares(
        "a", "please tell the practice", "Something didn't feel right",
        "To the practice's feedback contact instead",
    )  # fmt: skip
    jo_text = "\n".join(await bot.says("jo", "!digest"))
    assert "— Ada, a client of Sam —" in jo_text
    sam_text = "\n".join(await bot.says("dr", "!digest"))
    assert "a client of" not in sam_text


def _pixels(png: bytes, colour: str) -> int:
    image = imread(io.BytesIO(png))[:, :, :3]
    rgb = np.array([int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)])
    return int((np.abs(image - rgb).max(axis=2) < 0.08).sum())


def test_overlapping_series_stay_visible_and_the_caption_is_not_the_title() -> None:
    start = datetime(2026, 10, 5, 18, tzinfo=UTC)
    same = [7, 7, 6, 8, 8, 7]
    word = ItemView(1, start, "good", "fyi", "fine")

    def view(keys: list[str]) -> DigestView:
        points = tuple(
            ScorePoint(start + timedelta(weeks=w), key, score)
            for key in keys
            for w, score in enumerate(same)
        )
        return DigestView(
            practitioner_name="Sam",
            practice_name="Riverside",
            kind="weekly",
            generated_at=start + timedelta(weeks=6),
            timezone="Europe/London",
            since=None,
            clients=(ClientSection(client_id=1, alias="Ada", items=(word,), scores=points),),
            score_item_labels={"heard": "Felt heard", "goals": "Worked on what I wanted"},
        )

    alone = render_trend_chart(view(["heard"]))
    both = render_trend_chart(view(["heard", "goals"]))
    assert alone is not None and both is not None
    first = OKABE_ITO[0]  # "heard", drawn first, under "goals" where scores are equal
    assert _pixels(both, first) > 0.6 * _pixels(alone, first)

    page = render_html(view(["heard"]), Catalog.load(), alone)
    caption = page.split("<figcaption>", 1)[1].split("</figcaption>", 1)[0]
    assert "How sessions felt, week by week" not in caption
    assert caption.startswith("One panel per client")
