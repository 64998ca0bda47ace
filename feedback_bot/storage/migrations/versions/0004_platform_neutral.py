"""Practitioner.platform_user_id (was matrix_user_id) with its platform; outbox delivery
policy and after-send action, decided at enqueue instead of read from the kind

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# Existing rows get the policy their kind stood for when this migration was written.
_BACKFILL = (
    "UPDATE outbox SET delivery = 'urgent' WHERE kind = 'safety'",
    "UPDATE outbox SET delivery = 'at_most_once' WHERE kind IN ('checkin', 'reminder')",
    "UPDATE outbox SET delivery = 'ephemeral' WHERE kind = 'ephemeral'",
    "UPDATE outbox SET after_send = 'practitioner_menu' WHERE kind = 'practitioner_welcome'",
    # Only Matrix opened DMs by user id until now.
    "UPDATE practitioner SET platform = 'matrix' WHERE platform_user_id IS NOT NULL",
)


def upgrade() -> None:
    with op.batch_alter_table("practitioner") as batch:
        batch.alter_column(
            "matrix_user_id",
            new_column_name="platform_user_id",
            existing_type=sa.String(length=255),
            existing_nullable=True,
        )
        batch.add_column(sa.Column("platform", sa.String(length=16), nullable=True))
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(
            sa.Column(
                "delivery",
                sa.String(length=16),
                nullable=False,
                server_default="at_least_once",
            )
        )
        batch.add_column(
            sa.Column("after_send", sa.String(length=24), nullable=False, server_default="nothing")
        )
    for statement in _BACKFILL:
        op.execute(statement)


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("after_send")
        batch.drop_column("delivery")
    with op.batch_alter_table("practitioner") as batch:
        batch.drop_column("platform")
        batch.alter_column(
            "platform_user_id",
            new_column_name="matrix_user_id",
            existing_type=sa.String(length=255),
            existing_nullable=True,
        )
