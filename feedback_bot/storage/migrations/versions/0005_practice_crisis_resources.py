"""Practice.crisis_resources: a practice's own crisis resources per language (NULL: the
deployment's from config/prompts.yaml)

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("practice") as batch:
        batch.add_column(sa.Column("crisis_resources", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("practice") as batch:
        batch.drop_column("crisis_resources")
