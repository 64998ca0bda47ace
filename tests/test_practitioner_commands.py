"""Practitioner commands through the whole app: invite, clients, session, digest and ack.
A practitioner only ever sees their own clients, and never what was sent to the feedback
contact instead."""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from feedback_bot.catalog import dates
from feedback_bot.conversation.commands import Role
from feedback_bot.people.admin import AdminError
from feedback_bot.storage.models import Appointment, Client, InviteCode
from tests.harness import Harness, count, help_text, rows, t


def today(bot: Harness) -> str:
    return dates.date(bot.app.catalog, "en", bot.clock.now(), "Europe/London")


def at(bot: Harness, *local: int) -> str:
    """A London wall time as the bot writes it."""
    return dates.when(
        bot.app.catalog, "en", datetime(*local, tzinfo=ZoneInfo("Europe/London")), "Europe/London"
    )


async def share(bot: Harness, who: str, said: str, route: str = "Just so you know") -> None:
    await bot.says(who, said)
    await bot.presses(who, "Something else")
    await bot.presses(who, route)


async def link_practitioner(bot: Harness, who: str, name: str, **kw: Any) -> int:
    pid, code = await bot.app.admin.add_practitioner(bot.practice_id, name, **kw)
    await bot.says(who, f"!start {code}")
    return pid


async def two_practices_worth(bot: Harness) -> tuple[int, int]:
    """Sam with Alex and Robin; Kim (same practice) with Blake. Everyone has shared."""
    sam = await bot.practitioner("dr", name="Sam")
    kim = await link_practitioner(bot, "kim", "Kim")
    await bot.client("alex", sam)
    await bot.client("robin", sam)
    await bot.client("blake", kim)
    await share(bot, "alex", "ALEX-WORDS the pace was good", "Bring it into our next session")
    await share(bot, "robin", "ROBIN-WORDS felt unheard")
    await share(bot, "blake", "BLAKE-WORDS homework was useful")
    bot.new_messages("dr")
    bot.new_messages("kim")
    return sam, kim


# -- invite --------------------------------------------------------------------------------


async def test_invite_with_alias_gives_a_code_that_works_once(bot: Harness) -> None:
    sam = await bot.practitioner("dr", name="Sam")
    [reply] = await bot.says("dr", "!invite Robin")
    m = re.search(r"Invite for Robin: ([A-Za-z0-9_-]+)", reply)
    assert m, reply
    code = m.group(1)
    assert len(code) >= 22  # ≥128 bits of randomness, URL-safe
    expires = bot.clock.now() + timedelta(days=bot.app.settings.invite_valid_days)
    assert dates.date(bot.app.catalog, "en", expires, "Europe/London", year=True) in reply
    assert f"!start {code}" in reply
    assert bot.console.sent["dr"][-1].protect  # codes are not for forwarding

    [robin] = await rows(bot, Client, Client.alias == "Robin")
    assert robin.practitioner_id == sam and robin.status == "invited"
    replies = await bot.says("robin", f"!start {code}")
    assert "Sam" in replies[0] and replies[-1].startswith(t(bot, "onboarding.ask"))
    await bot.presses("robin", "I agree")
    await bot.presses("robin", "No, thank you")
    [robin] = await rows(bot, Client, Client.alias == "Robin")
    assert robin.status == "active"
    assert await bot.says("mallory", f"!start {code}") == [t(bot, "code.invalid")]


async def test_invite_without_alias_and_with_a_bad_alias(bot: Harness) -> None:
    sam = await bot.practitioner("dr")
    [reply] = await bot.says("dr", "!invite")
    assert "Invite for Client 1:" in reply
    [reply] = await bot.says("dr", "!invite")
    assert "Invite for Client 2:" in reply
    assert sorted(c.alias for c in await rows(bot, Client)) == ["Client 1", "Client 2"]

    for bad in ("<script>alert(1)</script>", "x" * 81, "semi;colon"):
        [reply] = await bot.says("dr", f"!invite {bad}")
        assert "Invite for" not in reply
        assert "!invite" in reply  # tells how to use the command that was used
        assert "!session" not in reply
    assert len(await rows(bot, Client, Client.practitioner_id == sam)) == 2


async def test_a_taken_alias_is_refused_and_hands_over_nobody(bot: Harness) -> None:
    """Issue 11, point 2: a second "invite Kim" used to return Kim with a new code, and
    whoever redeemed it could read, export and delete Kim's history."""
    sam = await bot.practitioner("dr")
    kim = await bot.client("kim", sam, alias="Kim")
    await share(bot, "kim", "KIM-WORDS only for my practitioner")
    for again in ("Kim", "kim", "  KIM ", "Ｋｉｍ"):  # the last in full-width letters
        [reply] = await bot.says("dr", f"!invite {again}")
        assert "Invite for" not in reply and "!start" not in reply
        assert reply == t(bot, "practitioner.alias_taken", alias=again.strip())
    with pytest.raises(AdminError, match="already has a client called 'Kim'"):
        await bot.app.admin.invite_client(sam, "Kim")
    assert [c.id for c in await rows(bot, Client)] == [kim]
    [code] = await rows(bot, InviteCode, InviteCode.client_id.is_not(None))  # one way in
    assert code.used_at is not None


async def test_automatic_aliases_never_reuse_a_number(bot: Harness) -> None:
    """After an erasure the count of clients gave an existing alias (that client came back
    with a new code) or the erased client's number again."""
    sam = await bot.practitioner("dr")
    one = await bot.app.admin.invite_client(sam)
    two = await bot.app.admin.invite_client(sam)
    assert (one.alias, two.alias) == ("Client 1", "Client 2")
    for who, invite in (("first", one), ("second", two)):
        await bot.says(who, f"!start {invite.code}")
        await bot.says(who, "!delete")
        await bot.presses(who, "Yes, delete everything")
        assert await count(bot, Client, Client.id == invite.client_id) == 0
        bot.new_messages("dr")  # the notice that they left
        [reply] = await bot.says("dr", "!invite")
        assert "Invite for Client 1:" not in reply and "Invite for Client 2:" not in reply
    assert sorted(c.alias for c in await rows(bot, Client)) == ["Client 3", "Client 4"]
    # A "Client 5" typed by hand is skipped, not handed out a second time.
    await bot.says("dr", "!invite Client 5")
    [reply] = await bot.says("dr", "!invite")
    assert "Invite for Client 6:" in reply


# -- clients -------------------------------------------------------------------------------


async def test_clients_lists_only_your_own(bot: Harness) -> None:
    await two_practices_worth(bot)
    await link_practitioner(bot, "lee", "Lee")
    assert await bot.says("lee", "!clients") == [t(bot, "practitioner.clients_empty")]
    invite = await bot.app.admin.invite_client(
        (await rows(bot, Client, Client.alias == "Alex"))[0].practitioner_id, "Jo"
    )
    assert invite.alias == "Jo"
    [sam_list] = await bot.says("dr", "!clients")
    lines = sam_list.splitlines()
    assert [line.split(":")[0] for line in lines] == ["Alex", "Jo", "Robin"]
    assert lines[0] == t(
        bot, "practitioner.clients_line", alias="Alex", status="active", last=today(bot)
    )
    assert lines[1] == t(
        bot, "practitioner.clients_line", alias="Jo", status="invited", last="never"
    )
    assert "Blake" not in sam_list

    [kim_list] = await bot.says("kim", "!clients")
    assert kim_list.splitlines() == [
        t(bot, "practitioner.clients_line", alias="Blake", status="active", last=today(bot))
    ]


# -- session -------------------------------------------------------------------------------


async def test_session_sets_the_next_appointment(bot: Harness) -> None:
    sam = await bot.practitioner("dr")
    cid = await bot.client("alex", sam)
    [reply] = await bot.says("dr", "!session Alex 2026-11-20 14:00")
    assert reply == t(
        bot,
        "practitioner.session_set",
        alias="Alex",
        when=at(bot, 2026, 11, 20, 14, 0),
        weekly="",
    )
    [reply] = await bot.says("dr", "!session alex thursday 10:30 weekly")
    assert reply == t(
        bot,
        "practitioner.session_set",
        alias="Alex",
        when=at(bot, 2026, 11, 19, 10, 30),
        weekly=t(bot, "practitioner.session_weekly"),
    )
    appts = sorted(await rows(bot, Appointment, Appointment.client_id == cid), key=lambda a: a.id)
    assert [(a.starts_at, a.weekly) for a in appts] == [
        (datetime(2026, 11, 20, 14, 0, tzinfo=UTC), False),  # London is on UTC in November
        (datetime(2026, 11, 19, 10, 30, tzinfo=UTC), True),
    ]

    # Times are in the practitioner's own time zone.
    kim = await link_practitioner(bot, "kim", "Kim", timezone="America/New_York")
    blake = await bot.client("blake", kim)
    await bot.says("kim", "!session Blake 2026-11-20 14:00")
    [appt] = await rows(bot, Appointment, Appointment.client_id == blake)
    assert appt.starts_at == datetime(2026, 11, 20, 19, 0, tzinfo=UTC)


async def test_session_bad_input(bot: Harness) -> None:
    sam = await bot.practitioner("dr")
    await bot.client("alex", sam)
    kim = await link_practitioner(bot, "kim", "Kim")
    await bot.client("blake", kim)
    bad = [
        "",
        "Alex",
        "Alex 2026-11-20",
        "Alex tomorrow 10:00",
        "Alex th 10:00",
        "Alex 2026-02-30 10:00",
        "Alex 2026-11-20 24:00",
        "Alex 2026-11-20 10:60",
        "Alex 20/11/2026 10:00",
        "Alex 2026-11-20 10:00 fortnightly",
    ]
    for args in bad:
        assert await bot.says("dr", f"!session {args}".strip()) == [
            t(bot, "practitioner.session_bad")
        ], args
    assert await bot.says("dr", "!session Nobody 2026-11-20 10:00") == [
        t(bot, "practitioner.no_such_client", alias="Nobody")
    ]
    # Kim's client is not Sam's to schedule, and Sam's answer doesn't reveal Blake exists.
    assert await bot.says("dr", "!session Blake 2026-11-20 10:00") == [
        t(bot, "practitioner.no_such_client", alias="Blake")
    ]
    assert await rows(bot, Appointment) == []


async def test_aliases_match_whatever_the_case_or_unicode_form(bot: Harness) -> None:
    """Issue 11, point 17: "Ann" and "ann" as two aliases crashed every lookup on SQLite,
    and "Ängel" could never be found (SQLite's lower() folds ASCII only)."""
    sam = await bot.practitioner("dr")
    ann = await bot.client("ann", sam, alias="Ann")
    [reply] = await bot.says("dr", "!invite ann")
    assert reply == t(bot, "practitioner.alias_taken", alias="ann")
    [reply] = await bot.says("dr", "!session ann 2026-11-20 14:00")
    assert reply.startswith("Next session with Ann:")

    await bot.says("dr", "!invite Ängel")
    [angel] = await rows(bot, Client, Client.practitioner_id == sam, Client.id != ann)
    decomposed = unicodedata.normalize("NFD", "ÄNGEL")  # A + combining diaeresis
    for typed in ("Ängel", "ängel", decomposed):
        [reply] = await bot.says("dr", f"!session {typed} 2026-11-20 15:00")
        assert reply.startswith("Next session with Ängel:"), (typed, reply)
    assert await count(bot, Appointment, Appointment.client_id == angel.id) == 3


async def test_a_very_long_session_command_is_answered(bot: Harness) -> None:
    """20,000 characters after "session" took 11.6 s in a quadratic pattern; now the
    practitioner simply gets the usage line."""
    await bot.practitioner("dr")
    long_runs = ("Kim" + " " * 19_980 + "monday", "Kim " + "\t " * 9_990 + "10:00", "a " * 9_990)
    for args in long_runs:
        [reply] = await bot.says("dr", f"!session {args}")
        assert reply == t(bot, "practitioner.session_bad")


# -- digest --------------------------------------------------------------------------------


async def test_digest_on_demand_shows_own_clients_words_only(bot: Harness) -> None:
    await two_practices_worth(bot)
    await bot.says("dr", "!digest")
    sam_digest = bot.all_text("dr")
    assert "ALEX-WORDS the pace was good" in sam_digest
    assert "ROBIN-WORDS felt unheard" in sam_digest
    assert "BLAKE-WORDS" not in sam_digest
    sam_files = b"".join(a.data for m in bot.console.sent["dr"] for a in m.attachments)
    assert b"ALEX-WORDS" in sam_files and b"BLAKE-WORDS" not in sam_files

    await bot.says("kim", "!digest")
    kim_digest = bot.all_text("kim")
    assert "BLAKE-WORDS homework was useful" in kim_digest
    assert "ALEX-WORDS" not in kim_digest and "ROBIN-WORDS" not in kim_digest
    kim_files = b"".join(a.data for m in bot.console.sent["kim"] for a in m.attachments)
    assert b"ALEX-WORDS" not in kim_files and b"ROBIN-WORDS" not in kim_files


async def test_digest_for_one_client_and_nothing_new_afterwards(bot: Harness) -> None:
    await two_practices_worth(bot)
    [reply] = await bot.says("dr", "!digest Robin")
    assert "ROBIN-WORDS" in reply and "ALEX-WORDS" not in reply
    assert await bot.says("dr", "!digest Blake") == [
        t(bot, "practitioner.no_such_client", alias="Blake")
    ]
    [reply] = await bot.says("dr", "!digest")
    assert "ALEX-WORDS" in reply and "ROBIN-WORDS" not in reply  # already seen
    [reply] = await bot.says("dr", "!digest")
    assert "ALEX-WORDS" not in reply and "ROBIN-WORDS" not in reply


async def test_items_for_the_feedback_contact_never_reach_the_practitioner(bot: Harness) -> None:
    sam = await bot.practitioner("dr", name="Sam")
    await link_practitioner(bot, "casey", "Casey", feedback_contact=True)
    await bot.client("alex", sam)
    await share(bot, "alex", "CONTACT-ONLY words", "To the practice's feedback contact instead")
    await share(bot, "alex", "for Sam", "Bring it into our next session")

    await bot.says("dr", "!digest")
    [sam_list] = await bot.says("dr", "!clients")
    assert "for Sam" in bot.all_text("dr")
    sam_files = b"".join(a.data for m in bot.console.sent["dr"] for a in m.attachments)
    assert "CONTACT-ONLY" not in bot.all_text("dr") and b"CONTACT-ONLY" not in sam_files

    await bot.says("casey", "!digest")
    casey = bot.all_text("casey")
    assert "CONTACT-ONLY words" in casey and "for Sam" not in casey

    # The weekly digests keep the two apart as well.
    await share(bot, "alex", "CONTACT-AGAIN", "To the practice's feedback contact instead")
    await share(bot, "alex", "weekly for Sam", "Bring it into our next session")
    bot.new_messages("dr")
    bot.new_messages("casey")
    bot.clock.set(datetime(2026, 11, 23, 8, 1, tzinfo=ZoneInfo("Europe/London")))
    await bot.tick()
    sam_weekly = "\n".join(m.text for m in bot.new_messages("dr"))
    casey_weekly = "\n".join(m.text for m in bot.new_messages("casey"))
    assert "weekly for Sam" in sam_weekly and "CONTACT-AGAIN" not in sam_weekly
    assert "CONTACT-AGAIN" in casey_weekly and "weekly for Sam" not in casey_weekly


# -- ack -----------------------------------------------------------------------------------


async def test_ack_tells_each_client_exactly_once(bot: Harness) -> None:
    await two_practices_worth(bot)
    bot.new_messages("alex")
    bot.new_messages("robin")
    bot.new_messages("blake")
    await bot.says("dr", "!digest")
    digest_button = bot.last_with_choices("dr").choices[0]
    assert digest_button.label == "I've read this"
    [question] = await bot.presses("dr", "I've read this")
    assert question.startswith(t(bot, "reply.ask_how", names="Alex, Robin"))
    [reply] = await bot.presses("dr", "I've read it")
    assert reply == t(bot, "reply.acked", names="Alex, Robin")
    # What Sam chose, and nothing Sam did not say.
    assert [m.text for m in bot.new_messages("alex")] == [t(bot, "loop.read")]
    assert [m.text for m in bot.new_messages("robin")] == [t(bot, "loop.read")]
    assert bot.new_messages("blake") == []  # Kim hasn't read anything

    # Pressing again, or "!ack", tells nobody twice.
    await bot.console.press("dr", digest_button.id)
    await bot.app.drain()
    assert [m.text for m in bot.new_messages("dr")] == [t(bot, "reply.already_acked")]
    assert await bot.says("dr", "!ack") == [t(bot, "practitioner.nothing_to_ack")]
    assert bot.new_messages("alex") == [] and bot.new_messages("robin") == []

    # Nor can Sam mark Kim's summary as read for her.
    await bot.says("kim", "!digest")
    kim_button = bot.last_with_choices("kim").choices[0]
    await bot.console.press("dr", kim_button.id)
    await bot.app.drain()
    assert [m.text for m in bot.new_messages("dr")] == [t(bot, "practitioner.nothing_to_ack")]
    assert bot.new_messages("blake") == []


async def test_ack_command_marks_the_latest_digest(bot: Harness) -> None:
    sam = await bot.practitioner("dr", name="Sam")
    await bot.client("alex", sam)
    assert await bot.says("dr", "!ack") == [t(bot, "practitioner.nothing_to_ack")]
    await share(bot, "alex", "one")
    bot.new_messages("alex")
    await bot.says("dr", "!digest")
    [question] = await bot.says("dr", "!ack")
    assert question.startswith(t(bot, "reply.ask_how", names="Alex"))
    assert await bot.says("dr", "2") == [t(bot, "reply.acked", names="Alex")]
    assert [m.text for m in bot.new_messages("alex")] == [t(bot, "loop.read_session")]
    assert await bot.says("dr", "!ack") == [t(bot, "practitioner.nothing_to_ack")]
    assert bot.new_messages("alex") == []


# -- anything else -------------------------------------------------------------------------


async def test_unknown_command_and_free_text_get_the_practitioner_help(bot: Harness) -> None:
    await bot.practitioner("dr")
    [reply] = await bot.says("dr", "!feedback")
    assert reply == t(bot, "unknown_command", command="feedback") + "\n" + help_text(
        bot, Role.PRACTITIONER
    )
    assert await bot.says("dr", "hello bot") == [help_text(bot, Role.PRACTITIONER)]
    assert await bot.says("dr", "!help") == [help_text(bot, Role.PRACTITIONER)]
