"""A message left "sending" by a crash no longer blocks its chat: a restarted worker resolves
its previous life's claims at once (on SQLite, anyone's), and on PostgreSQL a worker's claims
are a lease that others see lapse within seconds, not minutes."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from feedback_bot.delivery.outbox import enqueue
from feedback_bot.storage.database import is_sqlite
from feedback_bot.storage.models import OutboxMessage
from feedback_bot.storage.states import Delivery, OutboxKind, OutboxStatus
from tests.harness import Harness, make_harness

IN_ORDER = [
    "the reply that was in flight",
    "the check-in that was in flight",
    "the reply queued behind them",
]


async def crash_mid_send(bot: Harness, claimed_by: str) -> list[int]:
    """Client "a" has a reply left "sending" by a crash (claimed just now) and a check-in
    queued behind it: the chat's order makes the second wait for the first."""
    async with bot.app.sessions() as s, s.begin():
        ids = []
        for text, kind, delivery in (
            ("the reply that was in flight", OutboxKind.REPLY, Delivery.AT_LEAST_ONCE),
            ("the check-in that was in flight", OutboxKind.CHECKIN, Delivery.AT_MOST_ONCE),
            ("the reply queued behind them", OutboxKind.REPLY, Delivery.AT_LEAST_ONCE),
        ):
            row = enqueue(
                s,
                bot.app.vault,
                platform="console",
                address="a",
                text=text,
                now=bot.clock.now(),
                kind=kind,
                delivery=delivery,
            )
            await s.flush()
            ids.append(row.id)
        await s.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(ids[:2]))
            .values(status=OutboxStatus.SENDING, claimed_by=claimed_by, claimed_at=bot.clock.now())
        )
    return ids


async def restart(bot: Harness, tmp: Path) -> Harness:
    key = bot.app.settings.encryption_key
    url = bot.app.settings.database_url
    now = bot.clock.now()
    await bot.close()
    again = await make_harness(url, tmp, now, encryption_key=key)
    await again.app.start()
    return again


@pytest.fixture
async def linked(bot: Harness) -> Harness:
    pid = await bot.practitioner()
    await bot.client("a", pid)
    bot.new_messages("a")
    return bot


async def test_a_restarted_worker_resolves_its_previous_lifes_claims_at_once(
    linked: Harness, tmp_path: Path
) -> None:
    previous_life = f"{linked.app.dispatcher.worker_name}/0123456789ab"
    await crash_mid_send(linked, previous_life)
    bot = await restart(linked, tmp_path / "again")
    try:
        await bot.app.drain()  # no time has passed
        # The crash rule; the console's sends are idempotent, so all three go, in order.
        assert [m.text for m in bot.console.sent["a"]] == IN_ORDER
        async with bot.app.sessions() as s:
            statuses = (
                await s.execute(select(OutboxMessage.status).where(OutboxMessage.address != ""))
            ).scalars()
            assert OutboxStatus.SENDING not in set(statuses)
    finally:
        await bot.close()


async def test_claims_of_another_worker_wait_only_for_its_short_lease(
    linked: Harness, tmp_path: Path
) -> None:
    await crash_mid_send(linked, "another-host/0123456789ab")
    bot = await restart(linked, tmp_path / "again")
    try:
        await bot.app.drain()
        if is_sqlite(bot.app.settings.database_url):
            # SQLite runs one worker: whoever claimed it is gone.
            assert [m.text for m in bot.console.sent["a"]] == IN_ORDER
            return
        # PostgreSQL: the other worker may be alive; its lease is what tells.
        assert bot.console.sent["a"] == []
        bot.clock.advance(timedelta(seconds=bot.app.settings.scheduling.sending_stale_seconds + 1))
        assert await bot.app.dispatcher.recover_stale() == 2
        await bot.app.drain()
        assert [m.text for m in bot.console.sent["a"]] == IN_ORDER
        # Well inside what used to be five minutes.
        assert bot.app.settings.scheduling.sending_stale_seconds <= 60
    finally:
        await bot.close()


async def test_a_living_worker_renews_its_lease_so_no_one_resends_its_messages(
    linked: Harness, tmp_path: Path
) -> None:
    ids = await crash_mid_send(linked, linked.app.dispatcher.worker_id)
    lease = linked.app.settings.scheduling.sending_stale_seconds
    linked.clock.advance(timedelta(seconds=lease - 1))
    assert await linked.app.dispatcher.renew_lease() == 2
    linked.clock.advance(timedelta(seconds=lease - 1))
    # Another worker's periodic check finds nothing lapsed: the claim was renewed.
    other = await make_harness(
        linked.app.settings.database_url,
        tmp_path / "other",
        linked.clock.now(),
        encryption_key=linked.app.settings.encryption_key,
    )
    try:
        assert await other.app.dispatcher.recover_stale() == 0
        async with other.app.sessions() as s:
            claimed = (
                await s.execute(select(OutboxMessage.status).where(OutboxMessage.id.in_(ids[:2])))
            ).scalars()
            assert set(claimed) == {OutboxStatus.SENDING}
        other.clock.advance(timedelta(seconds=2))  # no renewal: now the lease has lapsed
        assert await other.app.dispatcher.recover_stale() == 2
    finally:
        await other.close()
