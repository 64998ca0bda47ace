"""The full matrix of who may read which client words (feedback_bot.privacy.access): a client reads
their own; a practitioner their own clients' (except what went to the feedback contact);
the feedback contact only what was sent to them, in their own practice; admins nothing."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy import select

from feedback_bot.privacy.access import AccessDenied, Reader, may_read, read_own_text, read_text
from feedback_bot.storage.models import Digest, FeedbackItem
from tests.harness import Harness


@dataclass
class World:
    ids: dict[str, int]  # people
    items: dict[str, FeedbackItem]  # "alex:session", "alex:contact", "blake:fyi", ...
    words: dict[str, str]


async def share(bot: Harness, who: str, said: str, route: str) -> None:
    await bot.says(who, said)
    await bot.presses(who, "Something else")
    await bot.presses(who, route)


async def build(bot: Harness) -> World:
    """Practice 1: Sam (Alex's practitioner), Kim (Blake's), Casey (the feedback contact,
    no clients). Practice 2: Drew (contact there, with client Eve)."""
    sam = await bot.practitioner("sam", name="Sam")
    kim, kim_code = await bot.app.admin.add_practitioner(bot.practice_id, "Kim")
    casey, casey_code = await bot.app.admin.add_practitioner(
        bot.practice_id, "Casey", feedback_contact=True
    )
    await bot.says("kim", f"!start {kim_code}")
    await bot.says("casey", f"!start {casey_code}")
    other_practice = await bot.app.admin.create_practice("Hillside", "Europe/Berlin")
    drew, drew_code = await bot.app.admin.add_practitioner(
        other_practice, "Drew", feedback_contact=True
    )
    await bot.says("drew", f"!start {drew_code}")
    # Drew is Eve's own practitioner, so "to the feedback contact" isn't offered to Eve.
    alex = await bot.client("alex", sam)
    blake = await bot.client("blake", kim)
    eve = await bot.client("eve", drew)

    words = {
        "alex:session": "ALEX for the session",
        "alex:contact": "ALEX only for the contact",
        "blake:fyi": "BLAKE just so you know",
        "blake:contact": "BLAKE for the contact",
        "eve:session": "EVE for the session",
    }
    routes = {
        "session": "Bring it into our next session",
        "fyi": "Just so you know",
        "contact": "To the practice's feedback contact instead",
    }
    for key, said in words.items():
        who, route = key.split(":")
        await share(bot, who, said, routes[route])

    async with bot.app.sessions() as s:
        rows = list((await s.execute(select(FeedbackItem))).scalars())
    by_text: dict[str, FeedbackItem] = {}
    for item in rows:
        by_text[read_own_text(bot.app.vault, item.client_id, item) or ""] = item
    items = {key: by_text[said] for key, said in words.items()}
    for key, item in items.items():
        assert item.routing == key.split(":")[1] and item.status == "submitted"
    ids = {
        "sam": sam, "kim": kim, "casey": casey, "drew": drew,
        "alex": alex, "blake": blake, "eve": eve,
    }  # fmt: skip
    return World(ids, items, words)


# reader → the items they may read; every other item must be refused.
ALLOWED: dict[tuple[str, str], set[str]] = {
    ("client", "alex"): {"alex:session", "alex:contact"},
    ("client", "blake"): {"blake:fyi", "blake:contact"},
    ("client", "eve"): {"eve:session"},
    ("practitioner", "sam"): {"alex:session"},
    ("practitioner", "kim"): {"blake:fyi"},
    ("practitioner", "drew"): {"eve:session"},
    ("practitioner", "casey"): set(),  # the contact has no clients of their own
    ("contact", "casey"): {"alex:contact", "blake:contact"},
    ("contact", "sam"): set(),  # not the practice's contact
    ("contact", "drew"): set(),  # contact of another practice
    ("admin", "-"): set(),
}


async def test_who_may_read_what(bot: Harness) -> None:
    world = await build(bot)
    vault = bot.app.vault
    checked = 0
    async with bot.app.sessions() as s:
        for (role, who), allowed in ALLOWED.items():
            reader = Reader(role, 0 if who == "-" else world.ids[who])  # type: ignore[arg-type]
            for key, detached in world.items.items():
                item = await s.get(FeedbackItem, detached.id)
                assert item is not None
                expected = key in allowed
                assert await may_read(s, reader, item) is expected, (role, who, key)
                if expected:
                    assert await read_text(s, vault, reader, item) == world.words[key]
                else:
                    with pytest.raises(AccessDenied):
                        await read_text(s, vault, reader, item)
                checked += 1
    assert checked == len(ALLOWED) * len(world.items)

    # Without a database lookup: a client reading their own item.
    alex_item = world.items["alex:session"]
    assert read_own_text(vault, world.ids["alex"], alex_item) == world.words["alex:session"]
    with pytest.raises(AccessDenied):
        read_own_text(vault, world.ids["blake"], alex_item)

    # A draft (no route chosen yet) is never for the feedback contact, nor for admins.
    await bot.says("alex", "a draft, not sent anywhere yet")
    async with bot.app.sessions() as s:
        [draft] = (
            await s.execute(select(FeedbackItem).where(FeedbackItem.status == "draft"))
        ).scalars()
        assert draft.routing is None
        assert await may_read(s, Reader("contact", world.ids["casey"]), draft) is False
        assert await may_read(s, Reader("client", world.ids["alex"]), draft) is True
        assert await may_read(s, Reader("client", world.ids["blake"]), draft) is False
        assert await may_read(s, Reader("admin", 0), draft) is False


async def test_changing_the_contact_moves_no_earlier_item(bot: Harness) -> None:
    """Routing is fixed when the client chooses it: Sam becoming the contact reads none of
    what went to Casey before, not even items of Kim's clients; Casey still reads them."""
    world = await build(bot)
    await bot.app.admin.set_feedback_contact(bot.practice_id, world.ids["sam"])
    async with bot.app.sessions() as s:
        for key in ("alex:contact", "blake:contact"):
            item = await s.get(FeedbackItem, world.items[key].id)
            assert item is not None
            assert await may_read(s, Reader("contact", world.ids["sam"]), item) is False, key
            assert await may_read(s, Reader("practitioner", world.ids["sam"]), item) is False
            assert await may_read(s, Reader("contact", world.ids["casey"]), item) is True, key


async def test_a_practitioner_cannot_acknowledge_someone_elses_digest(bot: Harness) -> None:
    """A digest's "I've read this" button pressed from another practitioner's chat (a
    forwarded or guessed id) marks nothing and tells the client nothing."""
    sam = await bot.practitioner("sam", name="Sam")
    kim, code = await bot.app.admin.add_practitioner(bot.practice_id, "Kim")
    await bot.says("kim", f"!start {code}")
    await bot.client("alex", sam)
    await share(bot, "alex", "for Sam only", "Just so you know")
    await bot.says("sam", "!digest")
    [ack] = [c.id for c in bot.last_with_choices("sam").choices if c.label == "I've read this"]
    await bot.console.press("kim", ack)
    await bot.app.drain()
    assert not any("has read what you shared" in m.text for m in bot.console.sent["alex"])
    async with bot.app.sessions() as s:
        acked = (await s.execute(select(Digest.acked_at))).scalars().all()
    assert acked == [None]
    await bot.presses("sam", "I've read this")
    await bot.says("sam", "1")  # what Alex hears: that Sam read it
    assert any("has read what you shared" in m.text for m in bot.console.sent["alex"])
