"""The web console on a real HTTP port, over the same app and database as the chat
harness: an admin signs in with a real one-time link, and the client's side of the story
is driven through the console adapter in the same process."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import aiohttp
from aiohttp import web
from sqlalchemy import select

from feedback_bot.app.http import start_http
from feedback_bot.people.console_admins import add_admin, issue_login_link
from feedback_bot.services import ConsoleLinks
from feedback_bot.storage.models import Identity, OutboxMessage
from feedback_bot.storage.states import OutboxStatus
from tests.harness import Harness

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@dataclass
class Served:
    runner: web.AppRunner
    base: str

    @property
    def web_app(self) -> web.Application:
        return self.runner.app


@asynccontextmanager
async def served(bot: Harness) -> AsyncIterator[Served]:
    assert bot.app.settings.console_enabled, "make the harness with console_enabled=True"
    runner = await start_http(bot.app, "127.0.0.1", 0)
    base = f"http://127.0.0.1:{runner.addresses[0][1]}"
    bot.app.deps.console = ConsoleLinks(base_url=base, link_minutes=10)
    try:
        yield Served(runner, base)
    finally:
        await runner.cleanup()


def browser() -> aiohttp.ClientSession:
    """An HTTP client that keeps cookies from 127.0.0.1, as a browser does."""
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))


async def new_admin(bot: Harness, practice_id: int, name: str = "Robin") -> int:
    async with bot.app.sessions() as s, s.begin():
        admin_id, _code = await add_admin(s, practice_id, name, bot.clock.now(), 7)
    return admin_id


async def login_path(bot: Harness, admin_id: int) -> str:
    async with bot.app.sessions() as s, s.begin():
        token = await issue_login_link(s, admin_id, bot.clock.now(), 10, by="admin")
    return f"/console/signin/{token}"


async def sign_in(http: aiohttp.ClientSession, base: str, path: str) -> aiohttp.ClientResponse:
    """Open the link and press "Sign in", as a browser does."""
    async with http.get(base + path) as page:
        assert page.status == 200
        token = csrf_of(await page.text())
    return await http.post(base + path, data={"csrf": token}, allow_redirects=True)


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, "the page has no CSRF field"
    return found.group(1)


async def two_practices(bot: Harness) -> dict[str, int]:
    """Riverside (Sam, client Ada) and Hillside (Lee, client Bo), one admin each."""
    sam = await bot.practitioner("dr", "Sam")
    await bot.client("ada", sam, alias="Ada")
    hill = await bot.app.admin.create_practice("Hillside Practice", "Europe/Berlin")
    lee, code = await bot.app.admin.add_practitioner(hill, "Lee")
    await bot.says("lee", f"!start {code}")
    await bot.client("bo", lee, alias="Bo")
    return {
        "river": bot.practice_id,
        "hill": hill,
        "sam": sam,
        "lee": lee,
        "river_admin": await new_admin(bot, bot.practice_id, "Robin"),
        "hill_admin": await new_admin(bot, hill, "Hana"),
    }


async def dead_letter_for(bot: Harness, practitioner_id: int) -> int:
    """Turn the latest message to this practitioner's chat into a dead letter."""
    async with bot.app.sessions() as s, s.begin():
        chat = (
            await s.execute(select(Identity.id).where(Identity.practitioner_id == practitioner_id))
        ).scalar_one()
        row = (
            (
                await s.execute(
                    select(OutboxMessage)
                    .where(OutboxMessage.identity_id == chat)
                    .order_by(OutboxMessage.id.desc())
                )
            )
            .scalars()
            .first()
        )
        assert row is not None
        row.status = OutboxStatus.DEAD
        row.last_error = "blocked"
        return row.id
