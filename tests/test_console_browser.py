"""The web console in a real browser (Debian's chromium, driven by Playwright): an admin
signs in with a one-time link, changes the practice's crisis resources and sees a client
get them, invites a client, reads the code off the page and onboards them, moves them to
another practitioner. Pages work by keyboard, on a phone, with labels and contrast.

Screenshots of the main pages go to docs/console/ when FEEDBACK_BOT_WRITE_SCREENSHOTS=1
(`make screenshots`), so an ordinary run leaves the tree as it was."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from feedback_bot.storage.models import Client, Practitioner
from tests.console_support import Served, dead_letter_for, login_path, served, two_practices
from tests.harness import REPO, Harness, make_harness

CHROMIUM = Path(os.environ.get("FEEDBACK_BOT_CHROMIUM", "/usr/bin/chromium"))
SHOTS = REPO / "docs" / "console"
DESKTOP = {"width": 1280, "height": 860}
PHONE = {"width": 390, "height": 844}

# WCAG contrast of every element's own text against the background it is drawn on.
CONTRAST_JS = """() => {
  const rgb = s => (s.match(/[\\d.]+/g) || []).map(Number);
  const lum = c => { const [r, g, b] = c.slice(0, 3).map(v => { v /= 255;
      return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
  const bg = el => { for (; el; el = el.parentElement) {
      const c = rgb(getComputedStyle(el).backgroundColor);
      if (c.length === 3 || (c.length === 4 && c[3] > 0)) return c; }
    return [255, 255, 255]; };
  const low = [];
  for (const el of document.querySelectorAll('body *')) {
    const own = [...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
    const box = el.getBoundingClientRect();
    if (!own || box.width === 0 || box.height === 0 || box.left < -100) continue;
    const a = lum(rgb(getComputedStyle(el).color)), b = lum(bg(el));
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    if (ratio < 4.5) low.push(`${el.tagName}: ${el.textContent.trim().slice(0, 40)} ${ratio}`);
  }
  return low;
}"""
UNLABELLED_JS = """() => [...document.querySelectorAll(
    'input:not([type=hidden]), select, textarea')].filter(e => e.labels.length === 0
    && !e.getAttribute('aria-label')).map(e => e.name)"""


@pytest.fixture
async def chromium() -> AsyncIterator[Any]:
    if not os.path.exists(CHROMIUM):  # noqa: ASYNC240 (once, before anything runs)
        message = f"{CHROMIUM} is missing: `make test` installs it (apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(message)  # required in CI: never skipped there
        pytest.skip(message)
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"]
        )
        try:
            yield browser
        finally:
            await browser.close()


@pytest.fixture
async def console_bot(
    database_url: str, tmp_path: Path, start_time: datetime
) -> AsyncIterator[Harness]:
    harness = await make_harness(database_url, tmp_path, start_time, console_enabled=True)
    try:
        yield harness
    finally:
        await harness.close()


async def shoot(page: Any, name: str, tmp: Path) -> None:
    """A screenshot of the whole page: into docs/console/ only when asked to."""
    write = os.environ.get("FEEDBACK_BOT_WRITE_SCREENSHOTS") == "1"
    target = (SHOTS if write else tmp) / f"{name}.png"
    target.parent.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(target), full_page=True)
    assert target.stat().st_size > 5_000


async def check_page(page: Any) -> None:
    """What every page must be: labelled inputs, enough contrast, a skip link first."""
    assert await page.evaluate(UNLABELLED_JS) == []
    assert await page.evaluate(CONTRAST_JS) == []
    assert await page.get_attribute("html", "lang") == "en"
    await page.keyboard.press("Tab")
    focused = await page.evaluate(
        "() => [document.activeElement.textContent.trim(),"
        " getComputedStyle(document.activeElement).outlineStyle]"
    )
    assert focused == ["Skip to main content", "solid"]  # first stop, and it shows focus
    await page.evaluate("() => document.activeElement.blur()")


async def signed_in_page(browser: Any, bot: Harness, web: Served, admin: int, **ctx: Any) -> Any:
    context = await browser.new_context(**ctx)
    page = await context.new_page()
    await page.goto(web.base + await login_path(bot, admin))
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url("**/settings")
    return page


async def test_admin_changes_crisis_resources_and_a_client_gets_them(
    console_bot: Harness, chromium: Any, tmp_path: Path
) -> None:
    bot = console_bot
    ids = await two_practices(bot)
    async with served(bot) as web:
        page = await signed_in_page(chromium, bot, web, ids["river_admin"], viewport=DESKTOP)
        assert await page.title() == "Settings · Riverside Practice · Practice console"
        await check_page(page)
        await shoot(page, "settings-desktop", tmp_path)
        # A number without its name is refused, with the error beside that field.
        first = "#crisis_resources-en-emergency-0"
        await page.fill(f"{first}-name", "")
        await page.fill(f"{first}-contact", "999 RIVER")
        await page.get_by_role("button", name="Save crisis resources").click()
        error = page.locator("#crisis_resources-en-emergency-0-name-error")
        assert await error.is_visible()
        assert await page.get_attribute(f"{first}-name", "aria-invalid") == "true"
        assert await page.get_attribute(f"{first}-name", "aria-describedby") == (
            "crisis_resources-en-emergency-0-name-error"
        )
        assert await page.input_value(f"{first}-contact") == "999 RIVER"  # kept as typed
        await check_page(page)
        await page.fill(f"{first}-name", "Riverside emergency line")
        await page.get_by_role("button", name="Save crisis resources").click()
        await page.wait_for_url("**/settings?done=crisis_resources*")
        assert "Saved" in (await page.locator("[role=status]").text_content() or "")
        # A check-in default that is no time of day: the error is beside that field.
        await page.fill("#checkins-weekly_time", "25:00")
        await page.get_by_role("button", name="Save check-in defaults").click()
        assert await page.locator("#checkins-weekly_time-error").is_visible()
        assert await page.get_attribute("#checkins-weekly_time", "aria-invalid") == "true"

    # Ada (Riverside) sees the new number under her next acknowledgement; Bo (Hillside)
    # keeps the deployment's.
    await bot.says("ada", "The session ran over and I felt rushed")
    await bot.presses("ada", "Something didn't feel right")
    ack = "\n".join(await bot.presses("ada", "Bring it into our next session"))
    assert "call 999 RIVER" in ack
    await bot.says("bo", "The session ran over and I felt rushed")
    await bot.presses("bo", "Something didn't feel right")
    other = "\n".join(await bot.presses("bo", "Bring it into our next session"))
    assert "urgent" in other and "999 RIVER" not in other


async def test_admin_invites_a_client_who_onboards_and_is_moved(
    console_bot: Harness, chromium: Any, tmp_path: Path
) -> None:
    bot = console_bot
    ids = await two_practices(bot)
    async with served(bot) as web:
        page = await signed_in_page(chromium, bot, web, ids["river_admin"], viewport=DESKTOP)
        # A second practitioner, added on the page and linked with the code it shows.
        await page.get_by_role("link", name="Practitioners").click()
        await page.get_by_label("Name", exact=True).fill("Jo")
        await page.get_by_role("button", name="Add practitioner").click()
        jo_code = (await page.locator("#link-code").text_content() or "").strip()
        await bot.says("jo", f"!start {jo_code}")
        await page.goto(f"{web.base}/console/{ids['river']}/practitioners")
        await check_page(page)
        assert await page.locator("tr", has_text="Jo").locator("td").nth(1).text_content() == (
            "linked"
        )
        await shoot(page, "practitioners-desktop", tmp_path)

        # As on a deployment with a Telegram bot (the console adapter has no deep links).
        bot.app.deps.invite_links["telegram"] = "https://t.me/riverside_feedback_bot?start={code}"
        await page.get_by_role("link", name="Clients").click()
        await page.get_by_label("Practitioner", exact=True).select_option(label="Sam")
        await page.get_by_label("Alias (optional)").fill("Kim")
        await page.get_by_role("button", name="Create invitation").click()
        code = (await page.locator("#invite-code").text_content() or "").strip()
        assert len(code) >= 32
        assert await page.get_attribute("#invite-link", "href") == (
            f"https://t.me/riverside_feedback_bot?start={code}"
        )
        assert await page.locator("figure.qr svg").count() == 1
        await shoot(page, "invite-desktop", tmp_path)

        # Kim onboards with the code read off the page.
        welcome = "\n".join(await bot.says("kim", f"!start {code}"))
        assert "Riverside Practice" in welcome
        await bot.presses("kim", "I agree")
        await bot.presses("kim", "No, thank you")

        await page.goto(f"{web.base}/console/{ids['river']}/clients")
        row = page.locator("tr", has_text="Kim")
        assert await row.locator("td").nth(2).text_content() == "active"
        await check_page(page)
        await shoot(page, "clients-desktop", tmp_path)
        await row.get_by_label("New practitioner for Kim").select_option(label="Jo")
        await row.get_by_role("button", name="Move").click()
        await page.wait_for_url("**/clients?done=moved")
        assert await page.locator("tr", has_text="Kim").locator("td").nth(1).text_content() == (
            "Jo"
        )
        await dead_letter_for(bot, ids["sam"])  # a message to Sam that could not be delivered
        for name in ("audit", "dead-letters"):
            await page.goto(f"{web.base}/console/{ids['river']}/{name}")
            await check_page(page)
            await shoot(page, f"{name}-desktop", tmp_path)

        # The same pages on a phone: nothing wider than the screen.
        phone = await signed_in_page(chromium, bot, web, ids["river_admin"], viewport=PHONE)
        for name in ("settings", "clients"):
            await phone.goto(f"{web.base}/console/{ids['river']}/{name}")
            assert await phone.evaluate(
                "() => document.documentElement.scrollWidth <= window.innerWidth"
            )
            await check_page(phone)
            await shoot(phone, f"{name}-phone", tmp_path)
    async with bot.app.sessions() as s:
        clients = (await s.execute(select(Client))).scalars()
        by_alias = {c.alias: c.practitioner_id for c in clients}
        practitioners = (await s.execute(select(Practitioner))).scalars()
        jo = [p.id for p in practitioners if p.name == "Jo"]
    assert len(jo) == 1 and by_alias["Kim"] == jo[0] and by_alias["Ada"] == ids["sam"]


async def test_used_and_expired_links_and_another_practice_are_refused(
    console_bot: Harness, chromium: Any
) -> None:
    bot = console_bot
    ids = await two_practices(bot)
    async with served(bot) as web:
        link = web.base + await login_path(bot, ids["river_admin"])
        context = await chromium.new_context()
        page = await context.new_page()
        await page.goto(link)
        await page.get_by_role("button", name="Sign in").click()
        await page.wait_for_url("**/settings")
        # Another practice's page, by URL: refused.
        response = await page.goto(f"{web.base}/console/{ids['hill']}/clients")
        assert response is not None and response.status == 403
        assert "another practice" in (await page.text_content("main") or "")

        stranger = await (await chromium.new_context()).new_page()
        await stranger.goto(link)  # the same link, used already
        await stranger.get_by_role("button", name="Sign in").click()
        assert "expired or was used already" in (await stranger.text_content("main") or "")

        late = web.base + await login_path(bot, ids["river_admin"])
        bot.clock.advance(timedelta(minutes=11))
        await stranger.goto(late)
        await stranger.get_by_role("button", name="Sign in").click()
        assert "expired or was used already" in (await stranger.text_content("main") or "")
        response = await stranger.goto(f"{web.base}/console/{ids['river']}/settings")
        assert response is not None and response.status == 401
