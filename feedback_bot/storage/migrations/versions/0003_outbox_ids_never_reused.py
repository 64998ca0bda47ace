"""Outbox ids are never reused on SQLite (AUTOINCREMENT)

The outbox id is the adapters' idempotency key. Without AUTOINCREMENT, SQLite hands out
the id of a deleted newest row again, and an adapter would drop the new message as a
resend. PostgreSQL sequences never reuse ids, so nothing changes there.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    with op.batch_alter_table(
        "outbox", recreate="always", table_kwargs={"sqlite_autoincrement": True}
    ):
        pass


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    with op.batch_alter_table(
        "outbox", recreate="always", table_kwargs={"sqlite_autoincrement": False}
    ):
        pass
