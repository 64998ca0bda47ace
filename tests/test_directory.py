"""The practice directory the admin CLI and the web console share: moving clients,
deactivating people and practices, and the errors an admin can act on."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from feedback_bot.people import directory
from feedback_bot.people.directory import DirectoryError
from feedback_bot.storage.models import Appointment, AuditEvent, Client, Practitioner
from tests.harness import Harness, count, rows

T = TypeVar("T")


async def act(bot: Harness, fn: Callable[[AsyncSession], Awaitable[T]]) -> T:
    async with bot.app.sessions() as session, session.begin():
        return await fn(session)


def kw(bot: Harness) -> dict[str, Any]:
    return {"actor": "admin", "deps": bot.app.deps, "now": bot.clock.now()}


async def share(bot: Harness, who: str, text: str) -> None:
    await bot.says(who, text)
    await bot.presses(who, "Something felt good")
    await bot.presses(who, "Just so you know")


async def test_a_moved_client_is_heard_by_the_new_practitioner_from_the_move_on(
    bot: Harness,
) -> None:
    sam = await bot.practitioner("sam", "Sam")
    jo = await bot.practitioner("jo", "Jo")
    ada = await bot.client("ada", sam, alias="Ada")
    await share(bot, "ada", "Sam already read this one.")
    assert any("Sam already read" in r for r in await bot.says("sam", "!digest"))
    await share(bot, "ada", "Sam never got to this one.")
    await bot.says("sam", "!session Ada 2026-11-25 10:00 weekly")

    await act(bot, lambda s: directory.move_client(s, ada, jo, **kw(bot)))
    await bot.app.drain()
    [told] = [m.text for m in bot.new_messages("ada")]
    assert "Jo is your practitioner here, instead of Sam" in told
    assert "send it again" in told
    # Sessions were arranged with Sam: Jo sets their own.
    assert await count(bot, Appointment, Appointment.client_id == ada) == 0

    await share(bot, "ada", "Now this is for Jo.")
    jo_digest = "\n".join(await bot.says("jo", "!digest"))
    assert "Now this is for Jo." in jo_digest
    assert "never got to" not in jo_digest and "already read" not in jo_digest
    sam_digest = "\n".join(await bot.says("sam", "!digest"))
    assert "for Jo" not in sam_digest and "never got to" not in sam_digest
    # The weekly digest follows the same rule.
    await share(bot, "ada", "Jo reads this on Monday.")
    while bot.clock.now() < datetime(2026, 11, 24, tzinfo=UTC):
        await bot.tick(hours=2)
    assert any("Jo reads this on Monday." in m.text for m in bot.new_messages("jo"))
    assert not any("Jo reads this" in m.text for m in bot.new_messages("sam"))
    [moved] = await rows(bot, AuditEvent, AuditEvent.action == "client.moved")
    assert moved.details == {"from": sam, "to": jo, "told": True}
    assert moved.practice_id == bot.practice_id


async def test_moves_that_cannot_be_done_say_why(bot: Harness) -> None:
    sam = await bot.practitioner("sam", "Sam")
    jo = await bot.practitioner("jo", "Jo")
    ada = await bot.client("ada", sam, alias="Ada")
    await bot.client("ada2", jo, alias="ada")
    other = await bot.app.admin.create_practice("Elsewhere", "Europe/Berlin")
    far, _ = await bot.app.admin.add_practitioner(other, "Far")

    async def refused(fn: Callable[[AsyncSession], Awaitable[object]]) -> DirectoryError:
        with pytest.raises(DirectoryError) as caught:
            await act(bot, fn)
        return caught.value

    e = await refused(lambda s: directory.move_client(s, 999, jo, **kw(bot)))
    assert (e.code, e.message) == ("not_found", "no client with id 999")
    e = await refused(lambda s: directory.move_client(s, ada, 999, **kw(bot)))
    assert (e.code, e.message) == ("not_found", "no practitioner with id 999")
    e = await refused(lambda s: directory.move_client(s, ada, far, **kw(bot)))
    assert e.code == "cross_practice"
    e = await refused(lambda s: directory.move_client(s, ada, sam, **kw(bot)))
    assert e.code == "same"
    e = await refused(lambda s: directory.move_client(s, ada, jo, **kw(bot)))
    assert e.code == "alias_taken"
    # Scoped to another practice, these ids do not exist.
    e = await refused(lambda s: directory.show_client(s, ada, scope=other))
    assert e.code == "not_found"
    e = await refused(lambda s: directory.deactivate_practitioner(s, jo, **_no_deps(bot)))
    assert e.code == "has_clients" and "still has 1 client:" in e.message
    [client] = await rows(bot, Client, Client.id == ada)
    assert client.practitioner_id == sam  # nothing half-done


def _no_deps(bot: Harness) -> dict[str, Any]:
    return {"actor": "admin", "now": bot.clock.now()}


async def test_a_practitioner_is_deactivated_once_their_clients_moved(bot: Harness) -> None:
    sam = await bot.practitioner("sam", "Sam")
    jo = await bot.practitioner("jo", "Jo")
    ada = await bot.client("ada", sam, alias="Ada")
    await bot.client("ben", sam, alias="Ben")
    with pytest.raises(DirectoryError, match="still has 2 clients: move them"):
        await act(bot, lambda s: directory.deactivate_practitioner(s, sam, **_no_deps(bot)))
    await act(bot, lambda s: directory.move_client(s, ada, jo, **kw(bot)))
    await act(bot, lambda s: directory.deactivate_client(s, ada + 1, **kw(bot)))
    await act(bot, lambda s: directory.deactivate_practitioner(s, sam, **_no_deps(bot)))
    [pr] = await rows(bot, Practitioner, Practitioner.id == sam)
    assert not pr.active and pr.next_digest_at is None and pr.deactivated_at is not None
    # Their chat is no longer theirs: nothing about the practice is shown there.
    [reply] = await bot.says("sam", "!clients")
    assert "don't recognise this chat" in reply
    with pytest.raises(Exception, match="deactivated"):
        await bot.app.admin.invite_client(sam, "New")
    listed = await act(bot, lambda s: directory.list_practitioners(s, bot.practice_id))
    assert [(p.id, p.active, p.clients) for p in listed] == [(sam, False, 0), (jo, True, 1)]


async def test_a_deactivated_client_is_told_and_cannot_resume(bot: Harness) -> None:
    sam = await bot.practitioner("sam", "Sam")
    ada = await bot.client("ada", sam, alias="Ada")
    await act(bot, lambda s: directory.deactivate_client(s, ada, **kw(bot)))
    await bot.app.drain()
    [told] = [m.text for m in bot.new_messages("ada")]
    assert "closed for you" in told and "!export" in told
    [c] = await rows(bot, Client, Client.id == ada)
    assert c.next_checkin_at is None and c.status == "stopped"
    for attempt in ("!resume", "!start", "I want to say something"):
        [reply] = await bot.says("ada", attempt)
        assert "closed this feedback line for you" in reply, attempt
    listed = await act(bot, lambda s: directory.list_clients(s, bot.practice_id))
    assert [(c.alias, c.status) for c in listed] == [("Ada", "deactivated")]


async def test_deactivating_a_practice_stops_its_schedules(bot: Harness) -> None:
    sam = await bot.practitioner("sam", "Sam")
    ada = await bot.client("ada", sam, alias="Ada")
    await bot.says("ada", "!checkins weekly thursday 18:00")
    [before] = await rows(bot, Client, Client.id == ada)
    [pr_before] = await rows(bot, Practitioner, Practitioner.id == sam)
    assert before.next_checkin_at is not None and pr_before.next_digest_at is not None
    ended = await act(bot, lambda s: directory.deactivate_practice(s, bot.practice_id, **kw(bot)))
    assert ended == 1
    [c] = await rows(bot, Client, Client.id == ada)
    [pr] = await rows(bot, Practitioner, Practitioner.id == sam)
    assert c.next_checkin_at is None and pr.next_digest_at is None and not pr.active
    shown = await act(bot, lambda s: directory.show_practice(s, bot.practice_id))
    assert not shown.active and shown.clients == 0 and shown.practitioners == 0
    with pytest.raises(Exception, match="deactivated"):
        await bot.app.admin.add_practitioner(bot.practice_id, "Late")
