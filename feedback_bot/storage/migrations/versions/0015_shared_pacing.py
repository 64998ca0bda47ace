"""Shared pacing: the platform's send tokens and each chat's next allowed send, so the
rate limits hold for every worker of a deployment, not per process.

Revision ID: 0015
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "platform_pace",
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("token", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("free_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("held_by", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("platform", "token", name=op.f("pk_platform_pace")),
    )
    op.create_table(
        "chat_pace",
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("chat_hash", sa.String(length=64), nullable=False),
        sa.Column("next_allowed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("platform", "chat_hash", name=op.f("pk_chat_pace")),
    )
    with op.batch_alter_table("chat_pace") as batch:
        batch.create_index("ix_chat_pace_next_allowed_at", ["next_allowed_at"])


def downgrade() -> None:
    with op.batch_alter_table("chat_pace") as batch:
        batch.drop_index("ix_chat_pace_next_allowed_at")
    op.drop_table("chat_pace")
    op.drop_table("platform_pace")
