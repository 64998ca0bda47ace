"""Nothing is kept longer than the retention period, and keys can be rotated safely."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from feedback_bot.app.bootstrap import make_vault
from feedback_bot.privacy.crypto import DecryptionError, generate_key
from feedback_bot.privacy.key_rotation import rotate_all
from feedback_bot.privacy.vault import Vault
from feedback_bot.storage.models import AuditEvent, FeedbackItem, InboxEvent, OutboxMessage
from tests.harness import Harness


async def share(bot: Harness, who: str, text: str) -> None:
    await bot.says(who, text)
    await bot.presses(who, "Something felt good")
    await bot.presses(who, "Just so you know")


async def count(bot: Harness, model: type) -> int:
    async with bot.app.sessions() as s:
        return int(await s.scalar(select(func.count()).select_from(model)) or 0)


async def test_daily_purge_removes_what_is_older_than_retention(bot: Harness) -> None:
    pid = await bot.practitioner()
    await bot.client("a", pid)
    await share(bot, "a", "old words")
    bot.clock.advance(timedelta(days=bot.app.settings.retention_days - 1))
    await share(bot, "a", "recent words")
    bot.clock.advance(timedelta(days=2))
    counts = await bot.app.purge()
    assert counts["feedback_item"] == 1
    async with bot.app.sessions() as s:
        items = list((await s.execute(select(FeedbackItem))).scalars())
    assert len(items) == 1
    assert bot.app.vault.open("feedback_item", "text", items[0].uid, items[0].text_enc or "") == (
        "recent words"
    )
    async with bot.app.sessions() as s:
        actions = (await s.execute(select(AuditEvent.action))).scalars().all()
    assert "retention.purge" in actions


async def test_rotation_reencrypts_everything_and_can_resume(bot: Harness) -> None:
    pid = await bot.practitioner()
    await bot.client("a", pid)
    for i in range(5):
        await share(bot, "a", f"words {i}")
    old = bot.app.settings.encryption_key
    assert old is not None
    new_settings = bot.app.settings.model_copy(
        update={"encryption_key": type(old)(generate_key()), "old_encryption_keys": [old]}
    )
    rotated_vault: Vault = make_vault(new_settings)

    # Interrupt the first run after one batch, then run again to completion.
    calls = 0

    def stop_after_first_batch(done: int, total: int) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        await rotate_all(bot.app.sessions, rotated_vault, 2, stop_after_first_batch)
    await rotate_all(bot.app.sessions, rotated_vault, 2)

    new_only = make_vault(new_settings.model_copy(update={"old_encryption_keys": []}))
    old_only = bot.app.vault
    async with bot.app.sessions() as s:
        items = list((await s.execute(select(FeedbackItem))).scalars())
        outbox = list((await s.execute(select(OutboxMessage))).scalars())
    texts = sorted(new_only.open("feedback_item", "text", i.uid, i.text_enc or "") for i in items)
    assert texts == [f"words {i}" for i in range(5)]
    for row in outbox:
        new_only.open_json("outbox", "payload", row.uid, row.payload_enc)
        with pytest.raises(DecryptionError):
            old_only.open_json("outbox", "payload", row.uid, row.payload_enc)
    assert await count(bot, InboxEvent) > 0


async def test_a_value_moved_to_another_row_does_not_decrypt(bot: Harness) -> None:
    pid = await bot.practitioner()
    await bot.client("a", pid)
    await share(bot, "a", "first")
    await share(bot, "a", "second")
    async with bot.app.sessions() as s:
        first, second = list(
            (await s.execute(select(FeedbackItem).order_by(FeedbackItem.id))).scalars()
        )
    assert first.text_enc and first.text_enc.startswith("v1.")
    with pytest.raises(DecryptionError):
        bot.app.vault.open("feedback_item", "text", second.uid, first.text_enc)
