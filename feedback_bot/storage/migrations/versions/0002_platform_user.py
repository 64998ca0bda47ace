"""Identity.platform_user and Practitioner.matrix_user_id

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("identity") as batch:
        batch.add_column(sa.Column("platform_user", sa.String(length=255), nullable=True))
        batch.create_index("ix_identity_platform_user", ["platform_user"])
    with op.batch_alter_table("practitioner") as batch:
        batch.add_column(sa.Column("matrix_user_id", sa.String(length=255), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("practitioner") as batch:
        batch.drop_column("matrix_user_id")
    with op.batch_alter_table("identity") as batch:
        batch.drop_index("ix_identity_platform_user")
        batch.drop_column("platform_user")
