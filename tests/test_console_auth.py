"""Signing in to the web console: one-time links that expire, server-side sessions with
strict cookies, CSRF on every form, a rate limit on sign-in, and links asked for in chat."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from yarl import URL

from feedback_bot.people.console_admins import token_hash
from feedback_bot.storage.models import AuditEvent, ConsoleLoginLink, ConsoleSession
from tests.console_support import (
    browser,
    csrf_of,
    login_path,
    new_admin,
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


async def test_a_login_link_signs_in_once_and_is_stored_only_as_a_hash(
    console_bot: Harness,
) -> None:
    bot = console_bot
    ids = await two_practices(bot)
    path = await login_path(bot, ids["river_admin"])
    token = path.rsplit("/", 1)[1]
    assert len(token) >= 43  # 256 bits, URL-safe
    links = await rows(bot, ConsoleLoginLink)
    assert [link.token_hash for link in links] == [token_hash(token)]
    async with served(bot) as web, browser() as http:
        async with http.get(web.base + path) as opened:  # a chat app's link preview does this
            assert opened.status == 200
        signed = await sign_in(http, web.base, path)
        assert signed.status == 200
        assert str(signed.url).endswith(f"/console/{ids['river']}/settings")
        assert "Riverside Practice" in await signed.text()
        cookie = signed.history[0].headers["Set-Cookie"]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
        assert "Secure" not in cookie  # plain HTTP on loopback, no TLS proxy configured
        sessions = await rows(bot, ConsoleSession)
        jar = http.cookie_jar.filter_cookies(URL(web.base + "/console/"))
        assert len(sessions) == 1
        assert sessions[0].token_hash == token_hash(jar["fb_console"].value)

        async with browser() as other:  # the same link again, elsewhere
            again = await sign_in(other, web.base, path)
            assert again.status == 403
            assert "expired or was used already" in await again.text()
            async with other.get(f"{web.base}/console/{ids['river']}/settings") as r:
                assert r.status == 401


async def test_an_expired_link_fails_and_sessions_end(console_bot: Harness) -> None:
    bot = console_bot
    ids = await two_practices(bot)
    path = await login_path(bot, ids["river_admin"])
    bot.clock.advance(timedelta(minutes=10, seconds=1))
    async with served(bot) as web, browser() as http:
        expired = await sign_in(http, web.base, path)
        assert expired.status == 403
        fresh = await sign_in(http, web.base, await login_path(bot, ids["river_admin"]))
        assert fresh.status == 200
        settings = f"{web.base}/console/{ids['river']}/settings"
        bot.clock.advance(timedelta(minutes=59))
        async with http.get(settings) as r:
            assert r.status == 200  # in use: still signed in
        bot.clock.advance(timedelta(minutes=61))  # idle longer than an hour
        async with http.get(settings) as r:
            assert r.status == 401


async def test_every_form_needs_the_sessions_csrf_token(console_bot: Harness) -> None:
    bot = console_bot
    ids = await two_practices(bot)
    async with served(bot) as web, browser() as http:
        await sign_in(http, web.base, await login_path(bot, ids["river_admin"]))
        url = f"{web.base}/console/{ids['river']}/practitioners"
        async with http.get(url) as page:
            token = csrf_of(await page.text())
        async with http.post(url, data={"name": "Noor"}) as r:
            assert r.status == 403
        async with http.post(url, data={"name": "Noor", "csrf": "0" * 64}) as r:
            assert r.status == 403
        async with http.post(url, data={"name": "Noor", "csrf": token}) as r:
            assert r.status == 200
            assert "Noor" in await r.text()
        # Another session's token is no good here.
        async with browser() as other:
            await sign_in(other, web.base, await login_path(bot, ids["river_admin"]))
            async with other.post(url, data={"name": "Ola", "csrf": token}) as r:
                assert r.status == 403
    names = [e.action for e in await rows(bot, AuditEvent)]
    assert names.count("practitioner.added") == 3  # Sam, Lee and Noor; never Ola


async def test_sign_in_attempts_are_rate_limited_per_address(console_bot: Harness) -> None:
    bot = console_bot
    ids = await two_practices(bot)
    async with served(bot) as web, browser() as http:
        async with http.get(web.base + "/console/signin/" + "x" * 43) as page:
            token = csrf_of(await page.text())
        statuses = []
        for _ in range(12):
            async with http.post(
                web.base + "/console/signin/" + "x" * 43, data={"csrf": token}
            ) as r:
                statuses.append(r.status)
        assert statuses[:10] == [403] * 10 and statuses[10:] == [429, 429]
        # Even a good link waits out the minute from this address.
        good = await sign_in(http, web.base, await login_path(bot, ids["river_admin"]))
        assert good.status == 429


async def test_cookies_are_secure_behind_a_trusted_tls_proxy(
    database_url: str, tmp_path: Path, start_time: datetime
) -> None:
    bot = await make_harness(
        database_url,
        tmp_path,
        start_time,
        console_enabled=True,
        console_trusted_proxies=["127.0.0.1"],
    )
    try:
        ids = await two_practices(bot)
        async with served(bot) as web, browser() as http:
            path = await login_path(bot, ids["river_admin"])
            headers = {"X-Forwarded-Proto": "https"}
            async with http.get(web.base + path, headers=headers) as page:
                assert "Secure" in page.headers["Set-Cookie"]
                token = csrf_of(await page.text())
            # aiohttp's jar keeps Secure cookies away from http://: send the pre-cookie by hand
            pre = page.cookies["fb_console_pre"].value
            async with http.post(
                web.base + path,
                data={"csrf": token},
                headers={**headers, "Cookie": f"fb_console_pre={pre}"},
                allow_redirects=False,
            ) as r:
                assert r.status == 303
                cookie = r.headers["Set-Cookie"]
                assert "fb_console=" in cookie and "Secure" in cookie and "HttpOnly" in cookie
    finally:
        await bot.close()


async def test_an_admin_links_their_chat_and_asks_the_bot_for_a_link(
    console_bot: Harness,
) -> None:
    bot = console_bot
    await bot.practitioner("dr", "Sam")
    async with bot.app.sessions() as s, s.begin():
        from feedback_bot.people.console_admins import add_admin

        admin_id, code = await add_admin(s, bot.practice_id, "Robin", bot.clock.now(), 7)
    linked = await bot.says("robin", f"!start {code}")
    assert linked == [
        bot.app.catalog.t(
            "console_admin.welcome", "en", name="Robin", practice="Riverside Practice", p="!"
        )
    ]
    async with served(bot) as web:
        answer = await bot.says("robin", "!console")
        assert len(answer) == 1 and "works once, for 10 minutes" in answer[0]
        link = answer[0].rsplit(" ", 1)[1]
        assert link.startswith(web.base + "/console/signin/")
        async with browser() as http:
            signed = await sign_in(http, web.base, link.removeprefix(web.base))
            assert signed.status == 200
            assert str(signed.url).endswith(f"/console/{bot.practice_id}/settings")
    actions = [e.action for e in await rows(bot, AuditEvent) if e.subject_id == admin_id]
    assert "console.link_issued" in actions and "console.signed_in" in actions
    async with bot.app.sessions() as s:
        issued = (await s.execute(select(ConsoleLoginLink))).scalars().one()
        assert issued.used_at is not None


async def test_the_console_is_off_unless_enabled(bot: Harness) -> None:
    await bot.practitioner("dr", "Sam")
    admin_id = await new_admin(bot, bot.practice_id)
    async with bot.app.sessions() as s, s.begin():
        from feedback_bot.people.codes import issue

        code = issue(s, now=bot.clock.now(), valid_days=7, admin_id=admin_id)
    await bot.says("robin", f"!start {code}")
    assert await bot.says("robin", "!console") == [
        bot.app.catalog.t("console_admin.disabled", "en", p="!")
    ]
    from feedback_bot.app.http import start_http

    runner = await start_http(bot.app, "127.0.0.1", 0)
    try:
        base = f"http://127.0.0.1:{runner.addresses[0][1]}"
        async with browser() as http, http.get(base + "/console/") as r:
            assert r.status == 404
    finally:
        await runner.cleanup()
