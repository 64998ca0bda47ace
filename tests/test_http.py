"""Health and metrics endpoints, as an orchestrator and Prometheus see them."""

from __future__ import annotations

import aiohttp

from feedback_bot.app.http import start_http
from tests.harness import Harness


async def test_healthz_and_metrics(bot: Harness) -> None:
    pid = await bot.practitioner()
    await bot.client("a", pid)
    await bot.says("a", "A private sentence about my week")
    runner = await start_http(bot.app, "127.0.0.1", 0)
    try:
        port = runner.addresses[0][1]
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{port}/healthz") as r:
                assert r.status == 200
                assert (await r.json())["ready"] is True
            async with http.get(f"http://127.0.0.1:{port}/metrics") as r:
                body = await r.text()
        assert "feedback_bot_messages_in_total" in body
        assert "feedback_bot_outbox_depth 0.0" in body  # refreshed at scrape: all delivered
        assert "private sentence" not in body
        await bot.console.stop()  # the platform connection drops: not ready
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"http://127.0.0.1:{port}/healthz") as r,
        ):
            assert r.status == 503
    finally:
        await runner.cleanup()
