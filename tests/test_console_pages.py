"""What an admin does on the console's pages, over HTTP: choose the feedback contact,
deactivate a practitioner (refused while they have clients or are the contact), put an
undelivered message back in the queue; every change in the audit log under their id."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import pytest

from feedback_bot.storage.models import AuditEvent, OutboxMessage, Practice, Practitioner
from feedback_bot.storage.states import OutboxStatus
from tests.console_support import (
    browser,
    csrf_of,
    dead_letter_for,
    login_path,
    served,
    sign_in,
    two_practices,
)
from tests.harness import Harness, make_harness, rows


@pytest.fixture
async def console_bot(
    database_url: str, tmp_path: Path, start_time: datetime
) -> AsyncIterator[Harness]:
    harness = await make_harness(database_url, tmp_path, start_time, console_enabled=True)
    try:
        yield harness
    finally:
        await harness.close()


async def test_contact_deactivation_and_retry_from_the_pages(console_bot: Harness) -> None:
    bot = console_bot
    ids = await two_practices(bot)
    jo, code = await bot.app.admin.add_practitioner(ids["river"], "Jo")
    await bot.says("jo", f"!start {code}")
    dead = await dead_letter_for(bot, ids["sam"])
    async with served(bot) as web, browser() as http:
        await sign_in(http, web.base, await login_path(bot, ids["river_admin"]))
        base = f"{web.base}/console/{ids['river']}"
        async with http.get(f"{base}/practitioners") as page:
            token = csrf_of(await page.text())
        form = {"csrf": token}
        async with http.post(f"{base}/practitioners/{jo}/contact", data=form) as r:
            assert r.status == 200 and "The feedback contact is changed" in await r.text()
        async with http.post(f"{base}/practitioners/{jo}/deactivate", data=form) as r:
            assert r.status == 400 and "feedback contact" in await r.text()
        async with http.post(f"{base}/practitioners/{ids['sam']}/deactivate", data=form) as r:
            assert r.status == 400 and "still has 1 client" in await r.text()
        async with http.post(f"{base}/practitioners/{ids['sam']}/contact", data=form) as r:
            assert r.status == 200
        async with http.post(f"{base}/practitioners/{jo}/deactivate", data=form) as r:
            assert r.status == 200 and "deactivated" in await r.text()

        async with http.get(f"{base}/dead-letters") as page:
            listed = await page.text()
            assert f"#{dead}" in listed and "blocked" in listed
        async with http.post(f"{base}/dead-letters/{dead}/retry", data=form) as r:
            assert r.status == 200 and "Queued again" in await r.text()
        async with http.get(f"{base}/audit") as page:
            audit_page = await page.text()
    async with bot.app.sessions() as s:
        river = await s.get(Practice, ids["river"])
        jo_row = await s.get(Practitioner, jo)
        message = await s.get(OutboxMessage, dead)
    assert river is not None and river.feedback_contact_id == ids["sam"]
    assert jo_row is not None and not jo_row.active
    assert message is not None and message.status != OutboxStatus.DEAD
    who = f"console-admin:{ids['river_admin']}"
    mine = [(e.action, e.subject_id) for e in await rows(bot, AuditEvent) if e.actor == who]
    assert ("practice.feedback_contact", ids["river"]) in mine
    assert ("practitioner.deactivated", jo) in mine
    assert ("outbox.retried", dead) in mine
    assert "practitioner.deactivated" in audit_page and who in audit_page
