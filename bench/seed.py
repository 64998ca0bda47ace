"""Many linked, consenting clients written as rows with bulk inserts: the end state of
onboarding through the chat (invite, ``!start CODE``, "I agree", no alerts), fast enough
for 100,000 clients. Used by the scheduler benchmarks and the 40,000-client test.

Each client's ``next_checkin_at`` is set to the seeding time, the way migration 0009
marks existing clients: the first beat computes the real times in bounded batches.
Practitioners get their real next weekly digest time.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, insert, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from feedback_bot.people.practice_config import PracticeConfig
from feedback_bot.scheduling.wallclock import WEEKDAYS, next_weekly_occurrence, parse_hhmm, zone
from feedback_bot.storage.models import (
    Client,
    ConsentRecord,
    Conversation,
    Identity,
    Practice,
    Practitioner,
    new_uid,
)

# Code without stored next-due times (older commits, for before/after runs) seeds the same.
STORED_TIMES = "next_checkin_at" in cast(Table, Client.__table__).c
CHUNK = 5000  # rows per INSERT round trip (well under any bound-parameter limit)


def _t(model: Any) -> Table:
    return cast(Table, model.__table__)


def _sealed(session: AsyncSession, model: Any, row: dict[str, Any]) -> dict[str, Any]:
    """A row as the ORM would store it: values that name a person sealed with the
    session's vault and, where they are looked up, their keyed hash (storage/sealed.py).
    Code from before sealing stores them as they are."""
    table = _t(model)
    vault = session.info.get("vault")
    out = dict(row)
    for name, value in row.items():
        if f"{name}_enc" not in table.c or vault is None:
            continue
        field = getattr(model, name)
        out.setdefault("uid", new_uid())
        del out[name]
        out[f"{name}_enc"] = vault.seal(table.name, name, out["uid"], value)
        if field.lookup is not None:
            out[f"{name}_hash"] = vault.keyed_hash(*field.lookup(value))
    return out


async def _insert_ids(session: AsyncSession, model: Any, rows: list[dict[str, Any]]) -> list[int]:
    table = _t(model)
    rows = [_sealed(session, model, r) for r in rows]
    ids: list[int] = []
    for i in range(0, len(rows), CHUNK):
        result = await session.execute(
            insert(table).returning(table.c.id, sort_by_parameter_order=True), rows[i : i + CHUNK]
        )
        ids.extend(result.scalars())
    return ids


async def _insert(session: AsyncSession, model: Any, rows: list[dict[str, Any]]) -> None:
    rows = [_sealed(session, model, r) for r in rows]
    for i in range(0, len(rows), CHUNK):
        await session.execute(insert(_t(model)), rows[i : i + CHUNK])


async def seed_clients(
    sessions: async_sessionmaker[AsyncSession],
    config: PracticeConfig,
    n_clients: int,
    *,
    now: datetime,
    per_practitioner: int = 25,
    cadence: str = "weekly",
    timezones: Sequence[str | None] = (None,),
    practice_tz: str = "Europe/London",
    platform: str = "console",
    prefix: str = "client-",
    addresses: Sequence[str] | None = None,
) -> list[int]:
    """Returns the client ids; client ``i`` chats at ``addresses[i]`` (default
    ``f"{prefix}{i}"``) and has the zone ``timezones[i % len(timezones)]`` (None: their
    practitioner's, the practice's)."""
    if addresses is None:
        addresses = [f"{prefix}{i}" for i in range(n_clients)]
    c, d = config.checkins, config.digest
    async with sessions() as session, session.begin():
        [practice_id] = await _insert_ids(
            session,
            Practice,
            [
                {
                    "name": "Bench Practice",
                    "timezone": practice_tz,
                    "language": "en",
                    "created_at": now,
                }
            ],
        )
        n_pr = max(1, -(-n_clients // per_practitioner))
        first_digest = next_weekly_occurrence(
            WEEKDAYS.index(d.weekly_day), parse_hhmm(d.weekly_time), zone(practice_tz), now
        )
        pr_ids = await _insert_ids(
            session,
            Practitioner,
            [
                {
                    "practice_id": practice_id,
                    "name": f"P{i}",
                    "timezone": None,
                    "digest_weekday": WEEKDAYS.index(d.weekly_day),
                    "digest_time": d.weekly_time,
                    "pre_session_hours": d.pre_session_hours,
                    "active": True,
                    "auto_alias_counter": 0,
                    **({"next_digest_at": first_digest} if STORED_TIMES else {}),
                    "created_at": now,
                }
                for i in range(n_pr)
            ],
        )
        await _insert(
            session,
            Identity,
            [
                {
                    "platform": platform,
                    "address": f"dr-{prefix}{i}",
                    "practitioner_id": pr_id,
                    "reachable": True,
                    "created_at": now,
                }
                for i, pr_id in enumerate(pr_ids)
            ],
        )
        client_ids = await _insert_ids(
            session,
            Client,
            [
                {
                    "practitioner_id": pr_ids[i // per_practitioner],
                    "alias": f"Client {i}",
                    "status": "active",
                    "status_changed_at": now,
                    "timezone": timezones[i % len(timezones)],
                    "consent_version": config.consent_version,
                    "consented_at": now,
                    "risk_alerts": False,
                    "loop_notices": True,
                    "checkin_cadence": cadence,
                    "checkin_weekday": WEEKDAYS.index(c.weekly_day),
                    "checkin_time": c.weekly_time,
                    "after_session_hours": c.after_session_hours,
                    "quiet_start": c.quiet_start,
                    "quiet_end": c.quiet_end,
                    **({"next_checkin_at": now} if STORED_TIMES else {}),
                    "created_at": now,
                }
                for i in range(n_clients)
            ],
        )
        identity_ids = await _insert_ids(
            session,
            Identity,
            [
                {
                    "platform": platform,
                    "address": addresses[i],
                    "client_id": cid,
                    "reachable": True,
                    "created_at": now,
                }
                for i, cid in enumerate(client_ids)
            ],
        )
        await _insert(
            session,
            ConsentRecord,
            [
                {
                    "client_id": cid,
                    "version": config.consent_version,
                    "risk_alerts": False,
                    "given_at": now,
                }
                for cid in client_ids
            ],
        )
        await _insert(
            session,
            Conversation,
            [
                {"identity_id": iid, "state": "idle", "data": {}, "updated_at": now}
                for iid in identity_ids
            ],
        )
    async with sessions() as session:
        if session.get_bind().dialect.name == "postgresql":
            # Statistics as autovacuum keeps them on a database that has been running;
            # seconds after a bulk load they would still describe empty tables.
            await session.execute(text("ANALYZE"))
            await session.commit()
    return client_ids
