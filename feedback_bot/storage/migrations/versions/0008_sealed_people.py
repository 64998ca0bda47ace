"""Who is a client is itself health data: chat addresses, platform user ids, aliases and
practitioners' names are sealed (encrypted, bound to their row's new uid) with a keyed hash
beside those that are looked up; the key of those hashes is stored sealed in key_material.

Existing plaintext is converted in place, which needs the vault (``upgrade(engine,
vault=...)``; ``feedback-bot run`` and ``db upgrade`` pass it). The hash key stored is the one
the deployment's hashes (inbox, outbox) were already made with (``Vault.seed``), so they
stay valid. Two aliases of one practitioner that differ only in case or Unicode form (allowed
long ago) cannot both stay: the later one gets " (2)", " (3)" … appended.

The hash parts and the alias rule are written out here, frozen as this migration used them.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import base64
import os
import unicodedata
import uuid
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

import feedback_bot.storage.models
from feedback_bot.storage.migrate import MigrationNeedsKey

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

PEOPLE_TABLES = ("practitioner", "client", "identity", "inbox", "outbox")


def _alias_key(alias: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", alias).casefold().split())


def _uid() -> str:
    return uuid.uuid4().hex


def _has_rows(bind: Any) -> bool:
    return any(
        bind.execute(sa.text(f"SELECT 1 FROM {t} LIMIT 1")).first() is not None  # noqa: S608
        for t in PEOPLE_TABLES
    )


def upgrade() -> None:
    op.create_table(
        "key_material",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("uid", sa.String(length=32), nullable=False),
        sa.Column("value_enc", sa.Text(), nullable=False),
        sa.Column(
            "created_at", feedback_bot.storage.models.UTCDateTime(timezone=True), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_key_material")),
        sa.UniqueConstraint("name", name=op.f("uq_key_material_name")),
        sa.UniqueConstraint("uid", name=op.f("uq_key_material_uid")),
    )
    for table, columns in (
        ("practitioner", ("name_enc", "platform_user_id_enc")),
        ("client", ("alias_enc", "alias_hash")),
        ("identity", ("address_enc", "address_hash", "platform_user_enc", "platform_user_hash")),
    ):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("uid", sa.String(length=32), nullable=True))
            for name in columns:
                kind = sa.String(length=64) if name.endswith("_hash") else sa.Text()
                batch.add_column(sa.Column(name, kind, nullable=True))

    bind = op.get_bind()
    if _has_rows(bind):
        config = op.get_context().config
        vault = config.attributes.get("vault") if config is not None else None
        if vault is None:
            raise MigrationNeedsKey(
                "this upgrade encrypts the stored chat addresses and aliases: set "
                "FEEDBACK_BOT_ENCRYPTION_KEY and run it again"
            )
        _seal_existing(bind, vault)
        assert config is not None
        config.attributes["scrub"] = True  # storage.migrate rewrites a SQLite file after

    with op.batch_alter_table("practitioner") as batch:
        batch.drop_column("name")
        batch.drop_column("platform_user_id")
        batch.alter_column("uid", existing_type=sa.String(length=32), nullable=False)
        batch.alter_column("name_enc", existing_type=sa.Text(), nullable=False)
        batch.create_unique_constraint(op.f("uq_practitioner_uid"), ["uid"])
    with op.batch_alter_table("client") as batch:
        batch.drop_constraint("uq_client_practitioner_id", type_="unique")
        batch.drop_column("alias")
        batch.alter_column("uid", existing_type=sa.String(length=32), nullable=False)
        batch.alter_column("alias_enc", existing_type=sa.Text(), nullable=False)
        batch.alter_column("alias_hash", existing_type=sa.String(length=64), nullable=False)
        batch.create_unique_constraint(op.f("uq_client_uid"), ["uid"])
        batch.create_unique_constraint(
            op.f("uq_client_practitioner_id"), ["practitioner_id", "alias_hash"]
        )
    with op.batch_alter_table("identity") as batch:
        batch.drop_index("ix_identity_platform_user")
        batch.drop_constraint("uq_identity_platform", type_="unique")
        batch.drop_column("address")
        batch.drop_column("platform_user")
        batch.alter_column("uid", existing_type=sa.String(length=32), nullable=False)
        batch.alter_column("address_enc", existing_type=sa.Text(), nullable=False)
        batch.alter_column("address_hash", existing_type=sa.String(length=64), nullable=False)
        batch.create_unique_constraint(op.f("uq_identity_uid"), ["uid"])
        batch.create_unique_constraint(op.f("uq_identity_platform"), ["platform", "address_hash"])
        batch.create_index("ix_identity_platform_user_hash", ["platform_user_hash"])


def _seal_existing(bind: Any, vault: Any) -> None:
    hash_key = vault.seed if vault.seed is not None else os.urandom(32)
    vault.use_hash_key(hash_key)
    uid = _uid()
    key_material = sa.table(
        "key_material",
        sa.column("name", sa.String()),
        sa.column("uid", sa.String()),
        sa.column("value_enc", sa.Text()),
        sa.column("created_at", feedback_bot.storage.models.UTCDateTime(timezone=True)),
    )
    bind.execute(
        key_material.insert().values(
            name="hash",
            uid=uid,
            value_enc=vault.seal("key_material", "value", uid, base64.b64encode(hash_key).decode()),
            created_at=datetime.now(UTC),
        )
    )

    def seal(table: str, column: str, row_uid: str, value: str | None) -> str | None:
        return None if value is None else vault.seal(table, column, row_uid, value)

    for row_id, name, user in bind.execute(
        sa.text("SELECT id, name, platform_user_id FROM practitioner ORDER BY id")
    ).all():
        row_uid = _uid()
        bind.execute(
            sa.text(
                "UPDATE practitioner SET uid = :uid, name_enc = :name, "
                "platform_user_id_enc = :user WHERE id = :id"
            ),
            {
                "uid": row_uid,
                "name": seal("practitioner", "name", row_uid, name),
                "user": seal("practitioner", "platform_user_id", row_uid, user),
                "id": row_id,
            },
        )

    taken: dict[int, set[str]] = {}
    for row_id, practitioner_id, alias in bind.execute(
        sa.text("SELECT id, practitioner_id, alias FROM client ORDER BY id")
    ).all():
        keys = taken.setdefault(practitioner_id, set())
        final, n = alias, 1
        while _alias_key(final) in keys:  # an old "ann" beside "Ann": keep both, told apart
            n += 1
            final = f"{alias} ({n})"
        keys.add(_alias_key(final))
        row_uid = _uid()
        bind.execute(
            sa.text(
                "UPDATE client SET uid = :uid, alias_enc = :alias, alias_hash = :hash "
                "WHERE id = :id"
            ),
            {
                "uid": row_uid,
                "alias": seal("client", "alias", row_uid, final),
                "hash": vault.keyed_hash("alias", _alias_key(final)),
                "id": row_id,
            },
        )

    for row_id, address, user in bind.execute(
        sa.text("SELECT id, address, platform_user FROM identity ORDER BY id")
    ).all():
        row_uid = _uid()
        bind.execute(
            sa.text(
                "UPDATE identity SET uid = :uid, address_enc = :address, address_hash = :hash, "
                "platform_user_enc = :user, platform_user_hash = :user_hash WHERE id = :id"
            ),
            {
                "uid": row_uid,
                "address": seal("identity", "address", row_uid, address),
                "hash": vault.keyed_hash("address", address),
                "user": seal("identity", "platform_user", row_uid, user),
                "user_hash": None if user is None else vault.keyed_hash("platform-user", user),
                "id": row_id,
            },
        )


def downgrade() -> None:
    raise NotImplementedError(
        "0008 sealed people's names and addresses; going back would write them out in "
        "plaintext again. Restore the backup taken before the upgrade instead."
    )
