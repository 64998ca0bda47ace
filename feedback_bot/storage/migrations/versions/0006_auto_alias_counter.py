"""Practitioner.auto_alias_counter: the last automatic "Client N" given out, so that a
number is never given out twice (it was a count of clients, which an erasure lowers).
Filled from the highest "Client N" each practitioner has now.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import re

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_AUTO = re.compile(r"client (\d{1,9})")


def upgrade() -> None:
    with op.batch_alter_table("practitioner") as batch:
        batch.add_column(
            sa.Column("auto_alias_counter", sa.Integer(), nullable=False, server_default="0")
        )
    bind = op.get_bind()
    highest: dict[int, int] = {}
    for practitioner_id, alias in bind.execute(
        sa.text("SELECT practitioner_id, alias FROM client")
    ):
        match = _AUTO.fullmatch(" ".join(str(alias).casefold().split()))
        if match:
            highest[practitioner_id] = max(highest.get(practitioner_id, 0), int(match.group(1)))
    for practitioner_id, n in highest.items():
        bind.execute(
            sa.text("UPDATE practitioner SET auto_alias_counter = :n WHERE id = :id"),
            {"n": n, "id": practitioner_id},
        )


def downgrade() -> None:
    with op.batch_alter_table("practitioner") as batch:
        batch.drop_column("auto_alias_counter")
