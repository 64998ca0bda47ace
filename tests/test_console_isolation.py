"""An admin of one practice can neither see nor change another: every route the HTTP
server has is tried across practices. And no console page ever shows a client's words."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import pytest
from aiohttp import web
from sqlalchemy import select, update

from feedback_bot.console.routes import PUBLIC
from feedback_bot.people.practice_settings import load_settings, settings_document
from feedback_bot.storage.models import Client, OutboxMessage, Practice, Practitioner
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
from tests.harness import Harness, make_harness

MARKER = "zq-marker-7731-private"
PARAM = re.compile(r"\{(\w+)(?::[^}]*)?\}")
# Routes that show no practice's data, so they have no practice to check.
OPEN_ROUTES = {"/healthz", "/metrics", "/console", *PUBLIC}


@pytest.fixture
async def console_bot(
    database_url: str, tmp_path: Path, start_time: datetime
) -> AsyncIterator[Harness]:
    harness = await make_harness(database_url, tmp_path, start_time, console_enabled=True)
    try:
        yield harness
    finally:
        await harness.close()


def routes(web_app: web.Application) -> list[tuple[str, str]]:
    """(method, path template) of every route the server answers."""
    found = []
    for route in web_app.router.routes():
        if route.method == "HEAD":
            continue
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter")
        assert path, f"a route without a path: {route}"
        found.append((route.method, path))
    return sorted(found)


async def settings_of(bot: Harness, practice_id: int) -> dict[str, object]:
    async with bot.app.sessions() as s:
        return settings_document(await load_settings(s, practice_id))


def fill(path: str, values: dict[str, int]) -> str:
    return PARAM.sub(lambda m: str(values[m.group(1)]), path)


async def test_every_route_refuses_another_practice(console_bot: Harness) -> None:
    bot = console_bot
    ids = await two_practices(bot)
    hill_resources = await bot.app.admin.crisis_resources(ids["hill"])
    hill_settings = await settings_of(bot, ids["hill"])
    async with bot.app.sessions() as s:
        bo_id = (
            await s.execute(select(Client.id).where(Client.practitioner_id == ids["lee"]))
        ).scalar_one()
    hill_dead = await dead_letter_for(bot, ids["lee"])
    # What {id} names in each section: Hillside's practitioner, client, message.
    by_section = {"practitioners": ids["lee"], "clients": bo_id, "dead-letters": hill_dead}
    async with served(bot) as web_, browser() as http:
        await sign_in(http, web_.base, await login_path(bot, ids["river_admin"]))
        async with http.get(f"{web_.base}/console/{ids['river']}/settings") as page:
            token = csrf_of(await page.text())
        table = routes(web_.web_app)
        guarded = [(m, p) for m, p in table if p not in OPEN_ROUTES]
        assert {p for _m, p in table} - {p for _m, p in guarded} == OPEN_ROUTES
        assert len(guarded) >= 12
        form = {
            "csrf": token,
            "to": str(ids["sam"]),
            "name": "X",
            "practitioner": str(ids["lee"]),
            "alias": "Sneaky",
        }
        for method, path in guarded:
            assert "{practice}" in path, f"{path}: a page outside a practice"
            section = path.split("/")[3] if path.count("/") > 3 else ""
            theirs = {
                "practice": ids["hill"],
                "id": by_section.get(section, 1),
                "section": "crisis_resources",
            }
            # 1. Another practice's URL outright.
            async with http.request(method, web_.base + fill(path, theirs), data=form) as r:
                assert r.status == 403, (method, path, r.status)
            # 2. Our own practice's URL naming their practitioner, client or message.
            if "{id}" in path:
                ours = {**theirs, "practice": ids["river"]}
                async with http.request(method, web_.base + fill(path, ours), data=form) as r:
                    assert r.status in (403, 404), (method, path, r.status)
        # Inviting a client for their practitioner from our own page is refused as well.
        async with http.post(f"{web_.base}/console/{ids['river']}/clients", data=form) as r:
            assert r.status == 400
    async with bot.app.sessions() as s:
        lee = await s.get(Practitioner, ids["lee"])
        bo = await s.get(Client, bo_id)
        hill = await s.get(Practice, ids["hill"])
        dead = await s.get(OutboxMessage, hill_dead)
        aliases = [c.alias for c in (await s.execute(select(Client))).scalars()]
    assert lee is not None and lee.active
    assert bo is not None and bo.practitioner_id == ids["lee"]
    assert hill is not None and hill.feedback_contact_id is None
    assert dead is not None and dead.status == OutboxStatus.DEAD
    assert "Sneaky" not in aliases
    assert await bot.app.admin.crisis_resources(ids["hill"]) == hill_resources
    assert await settings_of(bot, ids["hill"]) == hill_settings


async def test_no_page_ever_shows_a_clients_words(console_bot: Harness) -> None:
    bot = console_bot
    ids = await two_practices(bot)
    # Ada's words: an item her practitioner reads, a draft, a reply, messages that died.
    await bot.says("ada", f"I felt {MARKER} when we talked about my sister")
    await bot.presses("ada", "Something didn't feel right")
    await bot.presses("ada", "Bring it into our next session")
    await bot.says("ada", f"another {MARKER} thought, unfinished")
    await bot.says("dr", "!digest")
    await bot.says("dr", f"!reply Ada {MARKER} thank you")
    async with bot.app.sessions() as s, s.begin():
        await s.execute(
            update(OutboxMessage)
            .where(OutboxMessage.status == OutboxStatus.SENT)
            .values(status=OutboxStatus.DEAD, last_error="blocked")
        )
    seen: dict[str, str] = {}
    async with served(bot) as web_, browser() as http:
        await sign_in(http, web_.base, await login_path(bot, ids["river_admin"]))
        for method, path in routes(web_.web_app):
            if method == "GET" and "{id}" not in path and "{token}" not in path:
                url = web_.base + fill(path, {"practice": ids["river"]})
                async with http.get(url) as r:
                    seen[path] = await r.text()
        token = csrf_of(seen["/console/{practice}/settings"])
        async with http.post(
            f"{web_.base}/console/{ids['river']}/clients",
            data={"csrf": token, "practitioner": str(ids["sam"])},
        ) as r:
            seen["the invitation"] = await r.text()
    assert len(seen) >= 7
    # The pages do show what they are for: the messages that died, the clients.
    assert "blocked" in seen["/console/{practice}/dead-letters"]
    assert "Ada" in seen["/console/{practice}/clients"]
    for page, html in seen.items():
        assert MARKER not in html, page
        assert "my sister" not in html, page
