"""A row nobody can decrypt (a key removed too early, a partial rotation) is set aside;
everyone else, people in crisis first, keeps being served; an operator can see and
release such rows once the key is back."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import select

from feedback_bot.app.bootstrap import make_vault
from feedback_bot.delivery.outbox import enqueue
from feedback_bot.privacy.crypto import generate_key
from feedback_bot.privacy.vault import Vault
from feedback_bot.storage.models import InboxEvent, OutboxMessage
from feedback_bot.storage.states import InboxStatus, OutboxStatus
from tests.harness import Harness, make_harness
from tests.test_safety_paths import RISKY

GHOST_WORDS = "words sealed under a key that is gone"


def other_vault(bot: Harness, key: str) -> Vault:
    return make_vault(bot.app.settings.model_copy(update={"encryption_key": SecretStr(key)}))


async def plant_unreadable_rows(bot: Harness, key: str) -> tuple[int, int]:
    """An inbox row from an unlinked chat and an outbox row to client "a", both sealed
    under ``key`` (not configured): what a partial rotation leaves behind."""
    foreign = other_vault(bot, key)
    await bot.console.say("ghost", GHOST_WORDS)  # committed, not processed yet
    async with bot.app.sessions() as s, s.begin():
        inbox_row = (await s.execute(select(InboxEvent).order_by(InboxEvent.id.desc()))).scalars()
        row = next(iter(inbox_row))
        payload = bot.app.vault.open_json("inbox", "payload", row.uid, row.payload_enc or "")
        row.payload_enc = foreign.seal_json("inbox", "payload", row.uid, payload)
        out = enqueue(
            s,
            bot.app.vault,
            platform="console",
            address="a",
            text=GHOST_WORDS,
            now=bot.clock.now(),
        )
        await s.flush()
        payload = bot.app.vault.open_json("outbox", "payload", out.uid, out.payload_enc)
        out.payload_enc = foreign.seal_json("outbox", "payload", out.uid, payload)
        return row.id, out.id


async def test_an_undecryptable_row_is_quarantined_and_everyone_else_is_served(
    bot: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    pid = await bot.practitioner()
    await bot.client("a", pid)
    inbox_id, outbox_id = await plant_unreadable_rows(bot, generate_key())

    with caplog.at_level(logging.INFO):
        replies = await bot.says("a", RISKY)
    # The person in crisis gets the resources, in the same chat as the unreadable message.
    assert any("findahelpline.com" in r for r in replies)
    assert all(GHOST_WORDS not in r for r in replies)
    assert bot.console.sent.get("ghost", []) == []
    # And the bot goes on serving: an ordinary turn works too.
    assert await bot.says("a", "!help")

    async with bot.app.sessions() as s:
        inbox_row = await s.get(InboxEvent, inbox_id)
        out_row = await s.get(OutboxMessage, outbox_id)
        assert inbox_row is not None and inbox_row.status == InboxStatus.QUARANTINED
        assert inbox_row.payload_enc  # kept, so it can be released once the key is back
        assert out_row is not None and out_row.status == OutboxStatus.QUARANTINED
    lines = [r.getMessage() for r in caplog.records if "quarantined" in r.getMessage()]
    assert len(lines) == 2
    assert f"inbox row {inbox_id} quarantined" in lines[0]
    assert f"outbox {outbox_id} quarantined" in lines[1]
    assert all("ghost" not in line and GHOST_WORDS not in line for line in lines)
    # Nothing else is left claimed or waiting behind the bad rows.
    async with bot.app.sessions() as s:
        stuck = await s.scalar(
            select(OutboxMessage.id).where(
                OutboxMessage.status.in_([OutboxStatus.SENDING, OutboxStatus.PENDING])
            )
        )
    assert stuck is None


def test_operator_lists_quarantined_rows_and_releases_them_once_the_key_is_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tests.test_cli as cli

    invoke = cli.invoke

    monkeypatch.chdir(tmp_path)
    url = f"sqlite+aiosqlite:///{tmp_path / 'q.sqlite3'}"
    current, gone = generate_key(), generate_key()
    monkeypatch.setenv("FEEDBACK_BOT_DATABASE_URL", url)
    monkeypatch.setenv("FEEDBACK_BOT_ENCRYPTION_KEY", current)
    monkeypatch.setenv(
        "FEEDBACK_BOT_PROMPTS_FILE", str(Path(__file__).parent.parent / "config" / "prompts.yaml")
    )

    async def seed() -> tuple[int, int, str]:
        h = await make_harness(
            url, tmp_path, datetime(2026, 11, 16, 9, tzinfo=UTC), encryption_key=current
        )
        try:
            pid = await h.practitioner()
            await h.client("a", pid)
            ids = await plant_unreadable_rows(h, gone)
            await h.app.drain()
            return (*ids, other_vault(h, gone).keys.current_id)
        finally:
            await h.close()

    inbox_id, outbox_id, gone_id = asyncio.run(seed())

    for queue, row_id in (("inbox", inbox_id), ("outbox", outbox_id)):
        code, out = invoke(queue, "quarantined", "--json")
        assert code == 0, out
        [row] = json.loads(out)["quarantined"]
        assert row["id"] == row_id and row["key_id"] == gone_id
        assert row["reason"] == "no configured key matches this value"
        assert row["key_configured"] is False and row["at"].startswith("2026-11-16")
        assert GHOST_WORDS not in out
        code, out = invoke(queue, "quarantined")
        assert code == 0 and str(row_id) in out and gone_id in out
        # Without the key, releasing would only quarantine it again: refused, said so.
        code, out = invoke(queue, "release", "--all")
        assert code == 1 and "still unreadable" in out

    monkeypatch.setenv("FEEDBACK_BOT_OLD_ENCRYPTION_KEYS", json.dumps([gone]))
    code, out = invoke("inbox", "quarantined", "--json")
    assert json.loads(out)["quarantined"][0]["reason"] == "readable now: retry"
    code, out = invoke("inbox", "release", "--all")
    assert code == 0 and "1 inbox row(s) queued again" in out
    code, out = invoke("outbox", "release", str(outbox_id), "--json")
    assert code == 0 and json.loads(out)["requeued"] == [outbox_id]
    assert json.loads(invoke("outbox", "quarantined", "--json")[1])["quarantined"] == []

    async def statuses() -> tuple[str, str]:
        from feedback_bot.storage.database import create_engine, session_factory

        engine = create_engine(url)
        try:
            async with session_factory(engine)() as s:
                i = await s.scalar(select(InboxEvent.status).where(InboxEvent.id == inbox_id))
                o = await s.scalar(
                    select(OutboxMessage.status).where(OutboxMessage.id == outbox_id)
                )
            return str(i), str(o)
        finally:
            await engine.dispose()

    assert asyncio.run(statuses()) == ("pending", "pending")
