"""Two-way, where it helps: what a client was told on their practitioner's behalf
(``practitioner_message``, their own words encrypted), the buttons under a digest
(``digest.choices``, read back when a number is typed instead), and ``feedback_item.acked_at`` so
an acknowledgement tells each client once, whichever digest or ``ack ALIAS`` covered it.
Items already in an acknowledged digest count as acknowledged then.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from feedback_bot.storage.models import UTCDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("feedback_item") as batch:
        batch.add_column(sa.Column("acked_at", UTCDateTime(timezone=True), nullable=True))
    with op.batch_alter_table("digest") as batch:
        batch.add_column(sa.Column("choices", sa.JSON(), nullable=True))
    op.execute(
        "UPDATE feedback_item SET acked_at = "
        "(SELECT digest.acked_at FROM digest WHERE digest.id = feedback_item.digest_id) "
        "WHERE digest_id IS NOT NULL"
    )
    op.create_table(
        "practitioner_message",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("uid", sa.String(32), nullable=False, unique=True),
        sa.Column(
            "client_id",
            sa.Integer(),
            sa.ForeignKey("client.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "practitioner_id", sa.Integer(), sa.ForeignKey("practitioner.id"), nullable=False
        ),
        sa.Column(
            "item_id",
            sa.Integer(),
            sa.ForeignKey("feedback_item.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("text_enc", sa.Text(), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_practitioner_message_client_id", "practitioner_message", ["client_id"])


def downgrade() -> None:
    op.drop_index("ix_practitioner_message_client_id", "practitioner_message")
    op.drop_table("practitioner_message")
    with op.batch_alter_table("digest") as batch:
        batch.drop_column("choices")
    with op.batch_alter_table("feedback_item") as batch:
        batch.drop_column("acked_at")
