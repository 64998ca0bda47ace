"""Words that are never stranded, and item numbers that never shift.

``feedback_item.number`` is the client's own number for an item (``edit 2`` always means
the same one); ``client.item_counter`` is the last number given out. Existing items are
numbered in the order they were submitted.

A draft carries ``active_at`` (the client's last word to it) and ``draft_due_at`` /
``draft_nudged`` (when the clock nudges once, then submits it with a skip's defaults);
existing drafts are due at once. ``client.alerts_ask_at``: when to ask the alerts question
again for someone who wrote instead of answering it.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import feedback_bot.storage.models

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def _utc() -> sa.types.TypeEngine[object]:
    return feedback_bot.storage.models.UTCDateTime(timezone=True)  # type: ignore[return-value]


def upgrade() -> None:
    with op.batch_alter_table("client") as batch:
        batch.add_column(
            sa.Column("item_counter", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("alerts_ask_at", _utc(), nullable=True))
        batch.create_index(batch.f("ix_client_alerts_ask_at"), ["alerts_ask_at"], unique=False)
    with op.batch_alter_table("feedback_item") as batch:
        batch.add_column(sa.Column("number", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("active_at", _utc(), nullable=True))
        batch.add_column(sa.Column("draft_due_at", _utc(), nullable=True))
        batch.add_column(
            sa.Column("draft_nudged", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.create_index(batch.f("ix_feedback_item_draft_due_at"), ["draft_due_at"], unique=False)
    bind = op.get_bind()
    counters: dict[int, int] = {}
    for item_id, client_id in bind.execute(
        sa.text(
            "SELECT id, client_id FROM feedback_item WHERE status != 'draft' "
            "ORDER BY client_id, submitted_at, id"
        )
    ):
        counters[client_id] = counters.get(client_id, 0) + 1
        bind.execute(
            sa.text("UPDATE feedback_item SET number = :n WHERE id = :id"),
            {"n": counters[client_id], "id": item_id},
        )
    for client_id, n in counters.items():
        bind.execute(
            sa.text("UPDATE client SET item_counter = :n WHERE id = :id"),
            {"n": n, "id": client_id},
        )
    bind.execute(
        sa.text(
            "UPDATE feedback_item SET draft_due_at = created_at, active_at = created_at "
            "WHERE status = 'draft'"
        )
    )
    with op.batch_alter_table("feedback_item") as batch:
        batch.create_unique_constraint(
            batch.f("uq_feedback_item_client_id"), ["client_id", "number"]
        )


def downgrade() -> None:
    with op.batch_alter_table("feedback_item") as batch:
        batch.drop_constraint(batch.f("uq_feedback_item_client_id"), type_="unique")
        batch.drop_index(batch.f("ix_feedback_item_draft_due_at"))
        batch.drop_column("draft_nudged")
        batch.drop_column("draft_due_at")
        batch.drop_column("active_at")
        batch.drop_column("number")
    with op.batch_alter_table("client") as batch:
        batch.drop_index(batch.f("ix_client_alerts_ask_at"))
        batch.drop_column("alerts_ask_at")
        batch.drop_column("item_counter")
