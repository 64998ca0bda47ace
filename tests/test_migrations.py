"""The numbered migrations build exactly the schema the models describe, on both backends."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, func, select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from feedback_bot.app.bootstrap import App, build_app, make_vault
from feedback_bot.delivery.outbox import enqueue, to_message
from feedback_bot.people.admin import AdminError
from feedback_bot.people.rules import find_client_by_alias
from feedback_bot.privacy.vault import Vault
from feedback_bot.storage.database import create_engine, session_factory
from feedback_bot.storage.migrate import MigrationNeedsKey, upgrade
from feedback_bot.storage.models import (
    Base,
    Client,
    Conversation,
    Identity,
    OutboxMessage,
    Practitioner,
)
from tests.harness import settings_for


async def test_migrations_match_the_models(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        await upgrade(engine)
        await upgrade(engine)  # running it again is a no-op, as on every start
        async with engine.connect() as conn:
            diff = await conn.run_sync(
                lambda sync: compare_metadata(MigrationContext.configure(sync), Base.metadata)
            )
    finally:
        await engine.dispose()
    assert diff == []


async def _seed_plaintext_people(engine: AsyncEngine, vault: Vault) -> dict[str, int]:
    """Rows as a deployment at 0006 had them: names, aliases and chat addresses in
    plaintext, and an outbox row for the chat, hashed with the key of that time."""
    now = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)

    def seed(sync: Connection) -> dict[str, int]:
        meta = sa.MetaData()
        table = {
            name: sa.Table(name, meta, autoload_with=sync)
            for name in ("practice", "practitioner", "client", "identity", "conversation")
        }
        sync.execute(
            table["practice"].insert(),
            [
                {
                    "id": 1,
                    "name": "Oak",
                    "timezone": "Europe/Berlin",
                    "language": "en",
                    "created_at": now,
                }
            ],
        )
        sync.execute(
            table["practitioner"].insert(),
            [
                {
                    "id": 1,
                    "practice_id": 1,
                    "name": PEOPLE["name"],
                    "digest_weekday": 0,
                    "digest_time": "08:00",
                    "pre_session_hours": 24,
                    "active": True,
                    "platform": "matrix",
                    "platform_user_id": PEOPLE["pr_user"],
                    "auto_alias_counter": 0,
                    "created_at": now,
                }
            ],
        )
        client = {
            "practitioner_id": 1,
            "status": "active",
            "risk_alerts": False,
            "loop_notices": True,
            "checkin_cadence": "after_session",
            "checkin_weekday": 3,
            "checkin_time": "18:00",
            "after_session_hours": 20,
            "quiet_start": "21:00",
            "quiet_end": "08:00",
            "created_at": now,
        }
        # "Ann" and "ann" could both be given once (before aliases compared by case).
        sync.execute(
            table["client"].insert(),
            [
                {**client, "id": 1, "alias": PEOPLE["alias"]},
                {**client, "id": 2, "alias": PEOPLE["alias"].lower()},
            ],
        )
        sync.execute(
            table["identity"].insert(),
            [
                {
                    "id": 1,
                    "platform": "telegram",
                    "address": PEOPLE["chat"],
                    "client_id": 1,
                    "practitioner_id": None,
                    "reachable": True,
                    "platform_user": PEOPLE["user"],
                    "created_at": now,
                },
                {
                    "id": 2,
                    "platform": "telegram",
                    "address": PEOPLE["pr_chat"],
                    "client_id": None,
                    "practitioner_id": 1,
                    "reachable": True,
                    "platform_user": None,
                    "created_at": now,
                },
            ],
        )
        sync.execute(
            table["conversation"].insert(),
            [{"identity_id": 1, "state": "idle", "data": {}, "updated_at": now}],
        )
        return {"client": 1, "practitioner": 1}

    async with engine.begin() as conn:
        ids = await conn.run_sync(seed)
    # The hash key of 0006 was derived from the current encryption key (Vault.seed).
    vault.use_hash_key(vault.seed or b"")
    sessions = session_factory(engine)
    async with sessions() as session, session.begin():
        enqueue(
            session,
            vault,
            platform="telegram",
            address=PEOPLE["chat"],
            text="hello",
            now=now,
            identity_id=1,
        )
    return ids


PEOPLE = {
    "name": "Dr Jane QZXplain",
    "pr_user": "@jane.qzx:example.org",
    "alias": "Ann QZXalias",
    "chat": "5550012345",
    "pr_chat": "5550067890",
    "user": "@ann.qzx:example.org",
}


async def test_0008_seals_plaintext_people_in_place(database_url: str, tmp_path: Path) -> None:
    settings = settings_for(database_url)
    engine = create_engine(database_url)
    try:
        await upgrade(engine, "0006")
        await _seed_plaintext_people(engine, make_vault(settings))
        with pytest.raises(MigrationNeedsKey):
            await upgrade(engine)  # no key: nothing changes, the bot can't start half-way
        await upgrade(engine, vault=make_vault(settings))
    finally:
        await engine.dispose()

    app = await build_app(settings, config=None)
    try:
        async with app.sessions() as s:
            ident = (
                await s.execute(
                    select(Identity).where(
                        Identity.platform == "telegram", Identity.address == PEOPLE["chat"]
                    )
                )
            ).scalar_one()
            assert (ident.client_id, ident.platform_user) == (1, PEOPLE["user"])
            moved = await s.scalar(select(Identity).where(Identity.platform_user == PEOPLE["user"]))
            assert moved is ident
            pr = await s.get(Practitioner, 1)
            assert pr is not None
            assert (pr.name, pr.platform_user_id) == (PEOPLE["name"], PEOPLE["pr_user"])
            ann = await find_client_by_alias(s, 1, PEOPLE["alias"].upper())
            assert ann is not None and (ann.id, ann.alias) == (1, PEOPLE["alias"])
            twin = await s.get(Client, 2)
            assert twin is not None and twin.alias == PEOPLE["alias"].lower() + " (2)"
            # Nothing that refers to a rebuilt table went with it.
            assert await s.scalar(select(func.count()).select_from(Conversation)) == 1
            [row] = (await s.execute(select(OutboxMessage))).scalars()
            # The stored hash key is the one the outbox row was hashed with.
            assert row.address == app.vault.keyed_hash("telegram", PEOPLE["chat"])
            assert to_message(app.vault, row).address == PEOPLE["chat"]
        with pytest.raises(AdminError):
            await app.admin.invite_client(1, PEOPLE["alias"].lower())
        dump = await _all_rows(app)
    finally:
        await app.close()
    on_disk = _sqlite_bytes(database_url)
    for value in PEOPLE.values():
        assert value not in dump, value
        assert value.encode() not in on_disk, value


async def _all_rows(app: App) -> str:
    out: list[str] = []
    async with app.sessions() as s:
        for table in Base.metadata.sorted_tables:
            out += [repr(tuple(row)) for row in (await s.execute(select(table))).all()]
    return "\n".join(out)


def _sqlite_bytes(database_url: str) -> bytes:
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite":
        return b""
    base = Path(url.database or "")
    return b"".join(p.read_bytes() for p in (base, Path(f"{base}-wal")) if p.exists())


async def test_0012_gives_existing_practices_the_files_settings_and_keeps_their_own_numbers(
    database_url: str,
) -> None:
    """Each existing practice gets the deployment file's settings, with the crisis
    resources it had stored (0005) in place of the file's; the old column goes."""
    import json

    from feedback_bot.people.practice_config import load_practice_config
    from feedback_bot.people.practice_settings import settings_document
    from tests.harness import REPO

    defaults = settings_document(
        load_practice_config(REPO / "config" / "prompts.yaml").practice_defaults()
    )
    own = {
        lang: {
            "emergency": [{"name": "Notruf", "contact": "112"}],
            "crisis_lines": [{"name": "Berliner Krisendienst", "contact": "030 555 0102"}],
        }
        for lang in ("en", "de", "es")
    }
    engine = create_engine(database_url)
    try:
        await upgrade(engine, "0011")
        practice = sa.table(
            "practice",
            sa.column("id", sa.Integer()),
            sa.column("name", sa.String()),
            sa.column("timezone", sa.String()),
            sa.column("language", sa.String()),
            sa.column("crisis_resources", sa.JSON()),
            sa.column("created_at", sa.DateTime(timezone=True)),
        )
        now = datetime(2026, 12, 1, tzinfo=UTC)
        async with engine.begin() as conn:
            await conn.execute(
                practice.insert(),
                [
                    {
                        "id": 1,
                        "name": "Berlin",
                        "timezone": "Europe/Berlin",
                        "language": "en",
                        "crisis_resources": own,
                        "created_at": now,
                    },
                    {
                        "id": 2,
                        "name": "London",
                        "timezone": "Europe/London",
                        "language": "en",
                        "crisis_resources": None,
                        "created_at": now,
                    },
                ],
            )
        with pytest.raises(MigrationNeedsKey, match="prompts.yaml"):
            await upgrade(engine)  # Berlin's own numbers need somewhere to go
        await upgrade(engine, practice_defaults=defaults)
        async with engine.connect() as conn:
            result = await conn.execute(
                sa.text("SELECT practice_id, document FROM practice_settings")
            )
            rows = {pid: doc for pid, doc in result.all()}
            columns = await conn.run_sync(
                lambda c: {col["name"] for col in sa.inspect(c).get_columns("practice")}
            )
    finally:
        await engine.dispose()
    documents = {
        pid: doc if isinstance(doc, dict) else json.loads(doc) for pid, doc in rows.items()
    }
    expected = {k: v for k, v in defaults.items() if k != "feedback_contact"}
    assert documents[2] == expected
    assert documents[1] == {**expected, "crisis_resources": own}
    assert "crisis_resources" not in columns
