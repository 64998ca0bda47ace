"""Key rotation is complete or says what is left, and `run` will not start while stored
values need a key it does not have (an old key removed too early)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import create_async_engine

from feedback_bot.privacy.crypto import generate_key
from feedback_bot.privacy.key_rotation import missing_keys, rotate_all
from feedback_bot.storage.models import Identity, OutboxMessage
from tests.harness import REPO, Harness, make_harness
from tests.test_cli import invoke
from tests.test_retention_keys import share

START = datetime(2026, 11, 16, 9, tzinfo=UTC)


async def seeded(url: str, tmp: Path, key: str) -> Harness:
    """A practice with feedback and sent messages, all under ``key``."""
    h = await make_harness(url, tmp, START, encryption_key=key)
    pid = await h.practitioner()
    await h.client("a", pid)
    await share(h, "a", "the ending felt rushed")
    return h


def use_keys(monkeypatch: pytest.MonkeyPatch, url: str, current: str, *old: str) -> None:
    monkeypatch.setenv("FEEDBACK_BOT_DATABASE_URL", url)
    monkeypatch.setenv("FEEDBACK_BOT_ENCRYPTION_KEY", current)
    monkeypatch.setenv("FEEDBACK_BOT_OLD_ENCRYPTION_KEYS", json.dumps(list(old)))
    monkeypatch.setenv("FEEDBACK_BOT_PROMPTS_FILE", str(REPO / "config" / "prompts.yaml"))
    monkeypatch.setenv("FEEDBACK_BOT_TELEGRAM__TOKEN", "123456:not-a-real-token")
    # Nothing listens there: were the bot to start, it would fail, never reach Telegram.
    monkeypatch.setenv("FEEDBACK_BOT_TELEGRAM__BASE_URL", "http://127.0.0.1:9/bot")
    monkeypatch.setenv("FEEDBACK_BOT_TELEGRAM__BASE_FILE_URL", "http://127.0.0.1:9/file/bot")


async def test_run_refuses_to_start_while_values_need_a_key_it_does_not_have(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    old, new = generate_key(), generate_key()
    h = await seeded(database_url, tmp_path, old)
    old_id = h.app.vault.keys.current_id
    await h.close()

    use_keys(monkeypatch, database_url, new)  # the old key dropped without rotating
    code, out = await asyncio.to_thread(invoke, "run")
    assert code == 2, out
    lines = [line for line in out.splitlines() if line.strip()]
    assert lines[0].startswith("error: stored values are encrypted under key id(s) " + old_id)
    assert "feedback_item.text: 1" in out and "FEEDBACK_BOT_OLD_ENCRYPTION_KEYS" in out
    # Who people are is sealed too, and so is the key of their hashes.
    for sealed in ("identity.address: 2", "client.alias: 1", "practitioner.name: 1"):
        assert sealed in out, out
    assert "key_material.value: 1" in out


async def test_people_are_found_after_a_rotation_once_the_old_key_is_gone(
    database_url: str, tmp_path: Path
) -> None:
    """Addresses and aliases are looked up by keyed hash: the hashes must survive a key
    rotation, or nobody would be recognised once the old key is removed."""
    old, new = generate_key(), generate_key()
    h = await seeded(database_url, tmp_path, old)
    hashes = await identity_hashes(h)
    await h.close()

    h = await make_harness(
        database_url, tmp_path, START, encryption_key=new, old_encryption_keys=[old]
    )
    assert (await rotate_all(h.app.sessions, h.app.vault)).complete
    await h.close()

    h = await make_harness(database_url, tmp_path, START, encryption_key=new)
    try:
        assert await missing_keys(h.app.sessions, h.app.vault.keys) == {}
        assert await identity_hashes(h) == hashes
        async with h.app.sessions() as s:
            tokens = (await s.execute(select(Identity.address_enc))).scalars().all()
        assert tokens and all(t.startswith(f"v1.{h.app.vault.keys.current_id}.") for t in tokens)
        [reply] = await h.says("dr", "!session A 2026-11-20 14:00")
        assert reply.startswith("Next session with A:"), reply
        replies = await h.says("a", "one more thing")  # the client's own chat, known
        assert replies and not any("don't recognise" in r for r in replies), replies
        labels = [c.label for c in h.last_with_choices("a").choices]  # this run's only
        assert "Something felt good" in labels, replies
    finally:
        await h.close()


async def identity_hashes(h: Harness) -> list[tuple[str, str | None]]:
    async with h.app.sessions() as s:
        rows = await s.execute(
            select(Identity.address_hash, Identity.platform_user_hash).order_by(Identity.id)
        )
    return [tuple(r) for r in rows.all()]  # type: ignore[misc]


async def test_rotation_on_postgres_takes_locked_rows_or_says_what_is_left(
    postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    old, new = generate_key(), generate_key()
    h = await seeded(postgres_url, tmp_path, old)
    old_id = h.app.vault.keys.current_id
    await h.close()
    use_keys(monkeypatch, postgres_url, new, old)

    # Another transaction (a worker mid-delivery) holds one outbox row for the whole run.
    engine = create_async_engine(postgres_url)
    try:
        async with engine.connect() as conn:
            await conn.begin()
            held = (
                await conn.execute(
                    select(OutboxMessage.id).order_by(OutboxMessage.id).limit(1).with_for_update()
                )
            ).scalar_one()
            code, out = await asyncio.to_thread(invoke, "keys", "rotate", "--wait", "1")
            assert code == 1, out
            assert "not done: 1 value(s) in outbox.payload still under an old key" in out
            assert "rotation complete" not in out
            # Removing the old key now would lose that row: run says so and won't start.
            monkeypatch.setenv("FEEDBACK_BOT_OLD_ENCRYPTION_KEYS", "[]")
            code, out = await asyncio.to_thread(invoke, "run")
            assert code == 2 and old_id in out and "outbox.payload: 1" in out, out
            monkeypatch.setenv("FEEDBACK_BOT_OLD_ENCRYPTION_KEYS", json.dumps([old]))

            # The lock is let go while a rotation is waiting: it finishes the job.
            async def release_soon() -> None:
                await asyncio.sleep(1.0)
                await conn.rollback()

            releasing = asyncio.create_task(release_soon())
            code, out = await asyncio.to_thread(invoke, "keys", "rotate", "--wait", "20")
            await releasing
            assert code == 0, out
            assert "rotation complete" in out
        async with engine.connect() as conn:
            payload = (
                await conn.execute(
                    text("SELECT payload_enc FROM outbox WHERE id = :id"), {"id": held}
                )
            ).scalar_one()
        assert not payload.startswith(f"v1.{old_id}.")
    finally:
        await engine.dispose()

    # With every value under the new key, the old key can go.
    monkeypatch.setenv("FEEDBACK_BOT_OLD_ENCRYPTION_KEYS", "[]")
    h = await make_harness(postgres_url, tmp_path, START, encryption_key=new)
    try:
        from feedback_bot.privacy.key_rotation import missing_keys

        assert await missing_keys(h.app.sessions, h.app.vault.keys) == {}
    finally:
        await h.close()
