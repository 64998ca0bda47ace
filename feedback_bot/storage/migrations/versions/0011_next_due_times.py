"""Stored next-due times: Client.next_checkin_at, Practitioner.next_digest_at and
Appointment.next_digest_at, indexed, plus the indexes a beat's check-in queries use
(and Identity.client_id, which a batch of check-ins looks up).

Existing rows are marked due "since long ago": the first beat after the upgrade computes
their real next-due times in bounded batches, with the same rules as every later beat
(scheduling/due.py), so no calendar arithmetic is copied into this migration.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

LONG_AGO = datetime(2000, 1, 1, tzinfo=UTC)


def upgrade() -> None:
    with op.batch_alter_table("client") as batch:
        batch.add_column(sa.Column("next_checkin_at", sa.DateTime(timezone=True), nullable=True))
        batch.create_index("ix_client_next_checkin_at", ["next_checkin_at"])
    with op.batch_alter_table("practitioner") as batch:
        batch.add_column(sa.Column("next_digest_at", sa.DateTime(timezone=True), nullable=True))
        batch.create_index("ix_practitioner_next_digest_at", ["next_digest_at"])
    with op.batch_alter_table("appointment") as batch:
        batch.add_column(sa.Column("next_digest_at", sa.DateTime(timezone=True), nullable=True))
        batch.create_index("ix_appointment_next_digest_at", ["next_digest_at"])
    with op.batch_alter_table("identity") as batch:
        batch.create_index("ix_identity_client_id", ["client_id"])
    with op.batch_alter_table("checkin") as batch:
        batch.create_index("ix_checkin_status_due_at", ["status", "due_at"])
        batch.create_index("ix_checkin_status_remind_at", ["status", "remind_at"])
        batch.create_index("ix_checkin_status_sent_at", ["status", "sent_at"])
    due = sa.bindparam("due", LONG_AGO, type_=sa.DateTime(timezone=True))
    bind = op.get_bind()
    bind.execute(
        sa.text(
            "UPDATE client SET next_checkin_at = :due "
            "WHERE status = 'active' AND checkin_cadence != 'off'"
        ).bindparams(due)
    )
    bind.execute(
        sa.text("UPDATE practitioner SET next_digest_at = :due WHERE active").bindparams(due)
    )
    bind.execute(sa.text("UPDATE appointment SET next_digest_at = :due").bindparams(due))


def downgrade() -> None:
    with op.batch_alter_table("checkin") as batch:
        batch.drop_index("ix_checkin_status_sent_at")
        batch.drop_index("ix_checkin_status_remind_at")
        batch.drop_index("ix_checkin_status_due_at")
    with op.batch_alter_table("identity") as batch:
        batch.drop_index("ix_identity_client_id")
    for table, column in (
        ("appointment", "next_digest_at"),
        ("practitioner", "next_digest_at"),
        ("client", "next_checkin_at"),
    ):
        with op.batch_alter_table(table) as batch:
            batch.drop_index(f"ix_{table}_{column}")
            batch.drop_column(column)
