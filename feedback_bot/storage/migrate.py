"""Schema upgrades with Alembic, numbered migrations in ``feedback_bot/storage/migrations``.

Only ``run``, ``demo``, ``chat`` and ``db upgrade`` change the schema; every other command
checks it with :func:`require_current` and asks for ``feedback-bot db upgrade`` when behind.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


class MigrationNeedsKey(Exception):
    """A migration must encrypt stored data and was given no vault; ``str()`` says what to do."""


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def _upgrade(
    connection: Connection, revision: str, vault: Any, practice_defaults: dict[str, Any] | None
) -> bool:
    """Runs the migrations; True when one replaced plaintext that must not linger."""
    cfg = alembic_config()
    cfg.attributes["connection"] = connection
    cfg.attributes["vault"] = vault
    cfg.attributes["practice_defaults"] = practice_defaults
    command.upgrade(cfg, revision)
    return bool(cfg.attributes.get("scrub"))


async def upgrade(
    engine: AsyncEngine,
    revision: str = "head",
    vault: Any = None,
    practice_defaults: dict[str, Any] | None = None,
) -> None:
    """``vault`` (privacy.vault.Vault) is needed by migrations that seal stored data
    (0008: people's names and addresses) when there is data to seal. ``practice_defaults``
    (the deployment file's settings document) is what 0012 gives existing practices."""
    async with engine.connect() as conn:
        sqlite = conn.dialect.name == "sqlite"
        if sqlite:
            # A batch migration rebuilds a SQLite table (copy, drop, rename); with foreign
            # keys on, the drop would first delete, and cascade to, every row referring to
            # it. Off only works outside a transaction, hence before ours begins.
            await conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
            await conn.commit()
        scrub = False
        try:
            async with conn.begin():
                if sqlite:
                    # pysqlite starts a transaction only before DML: without this, DDL
                    # would commit itself and a failed migration would stay half done.
                    await conn.exec_driver_sql("BEGIN")
                scrub = await conn.run_sync(_upgrade, revision, vault, practice_defaults)
                if sqlite and (await conn.exec_driver_sql("PRAGMA foreign_key_check")).first():
                    raise RuntimeError("a migration left rows pointing at nothing")
        finally:
            if sqlite:
                await conn.exec_driver_sql("PRAGMA foreign_keys=ON")
                await conn.commit()
        if sqlite and scrub:
            # Replaced plaintext stays in SQLite's free pages and its WAL until the file
            # is rewritten: rewrite it now, once, rather than leave it for a copy to show.
            await conn.exec_driver_sql("VACUUM")
            await conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            await conn.commit()


@dataclass(frozen=True)
class SchemaStatus:
    current: str | None  # None: an empty database (no schema yet)
    head: str
    known: bool  # the current revision is one of ours (False: written by a newer version)

    @property
    def up_to_date(self) -> bool:
        return self.current == self.head

    @property
    def behind(self) -> bool:
        return not self.up_to_date and self.known

    def problem(self) -> str | None:
        """One line saying what is wrong and what to do, or None when up to date."""
        if self.up_to_date:
            return None
        if self.behind:
            return (
                f"The database schema is behind (at {self.current or 'none'}, needs "
                f"{self.head}). Run `feedback-bot db upgrade` first."
            )
        return (
            f"The database schema is at {self.current}, which this version of feedback-bot "
            f"does not know (it needs {self.head}). Is a newer version using this database?"
        )


def _status(connection: Connection) -> SchemaStatus:
    # Reads alembic_version only; creates nothing, on an empty database either.
    current = MigrationContext.configure(connection).get_current_revision()
    script = ScriptDirectory.from_config(alembic_config())
    head = script.get_current_head()
    assert head is not None, "no migrations"
    known = current is None or any(r.revision == current for r in script.walk_revisions())
    return SchemaStatus(current, head, known)


async def schema_status(engine: AsyncEngine) -> SchemaStatus:
    async with engine.connect() as conn:
        return await conn.run_sync(_status)


class SchemaNotCurrent(Exception):
    """The database is not at the schema this code needs; ``str()`` is one readable line."""

    def __init__(self, status: SchemaStatus) -> None:
        super().__init__(status.problem())
        self.status = status


async def require_current(engine: AsyncEngine) -> None:
    """Raise :class:`SchemaNotCurrent` unless the schema is exactly at head."""
    status = await schema_status(engine)
    if not status.up_to_date:
        raise SchemaNotCurrent(status)
