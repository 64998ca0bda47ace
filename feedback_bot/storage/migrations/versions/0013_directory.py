"""What the admin directory needs: practices, practitioners and clients can be deactivated
(kept, not deleted: the audit and the clients' own data rights still refer to them); a
client moved to another practitioner remembers since when (``practitioner_since``: the new
practitioner reads only what came after); and every audit event names its practice, so
the audit can be listed per practice even after a client it names was erased.

Existing audit rows get their practice from their subject where it still exists.

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("practice") as batch:
        batch.add_column(sa.Column("deactivated_at", WHEN, nullable=True))
    with op.batch_alter_table("practitioner") as batch:
        batch.add_column(sa.Column("deactivated_at", WHEN, nullable=True))
    with op.batch_alter_table("client") as batch:
        batch.add_column(sa.Column("deactivated_at", WHEN, nullable=True))
        batch.add_column(sa.Column("practitioner_since", WHEN, nullable=True))
    with op.batch_alter_table("audit_event") as batch:
        batch.add_column(sa.Column("practice_id", sa.Integer(), nullable=True))
        batch.create_index("ix_audit_event_practice_id", ["practice_id"])
        batch.create_index("ix_audit_event_at", ["at"])
    bind = op.get_bind()
    of_practitioner = "(SELECT practice_id FROM practitioner WHERE practitioner.id = {})"
    for subject, practice in (
        ("practice", "subject_id"),
        ("practitioner", of_practitioner.format("subject_id")),
        (
            "client",
            of_practitioner.format(
                "(SELECT practitioner_id FROM client WHERE client.id = subject_id)"
            ),
        ),
        (
            "digest",
            of_practitioner.format(
                "(SELECT practitioner_id FROM digest WHERE digest.id = subject_id)"
            ),
        ),
    ):
        bind.execute(
            sa.text(
                f"UPDATE audit_event SET practice_id = {practice} "  # noqa: S608 - constants
                "WHERE subject_type = :subject AND subject_id IS NOT NULL"
            ).bindparams(subject=subject)
        )


def downgrade() -> None:
    with op.batch_alter_table("audit_event") as batch:
        batch.drop_index("ix_audit_event_at")
        batch.drop_index("ix_audit_event_practice_id")
        batch.drop_column("practice_id")
    with op.batch_alter_table("client") as batch:
        batch.drop_column("practitioner_since")
        batch.drop_column("deactivated_at")
    for table in ("practitioner", "practice"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("deactivated_at")
