"""FeedbackItem.contact_id: who an item routed to the feedback contact is for, fixed when
the client chose the route (it was whoever is the contact at reading time, so changing the
contact moved earlier items to someone else, even to the client's own practitioner).

Existing contact-routed items: one already in a contact digest is for the person who got
that digest; one still waiting is for the current contact, unless that is now the client's
own practitioner, in which case it stays unread by anyone but the client.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("feedback_item") as batch:
        batch.add_column(sa.Column("contact_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_feedback_item_contact_id_practitioner"),
            "practitioner",
            ["contact_id"],
            ["id"],
            ondelete="SET NULL",
        )
    bind = op.get_bind()
    bind.execute(
        sa.text(
            "UPDATE feedback_item SET contact_id = ("
            " SELECT digest.practitioner_id FROM digest"
            " WHERE digest.id = feedback_item.digest_id AND digest.kind = 'contact')"
            " WHERE routing = 'contact' AND digest_id IS NOT NULL"
        )
    )
    bind.execute(
        sa.text(
            "UPDATE feedback_item SET contact_id = ("
            " SELECT practice.feedback_contact_id FROM client"
            " JOIN practitioner ON practitioner.id = client.practitioner_id"
            " JOIN practice ON practice.id = practitioner.practice_id"
            " WHERE client.id = feedback_item.client_id"
            " AND practice.feedback_contact_id <> client.practitioner_id)"
            " WHERE routing = 'contact' AND digest_id IS NULL"
        )
    )


def downgrade() -> None:
    with op.batch_alter_table("feedback_item") as batch:
        batch.drop_constraint(op.f("fk_feedback_item_contact_id_practitioner"), type_="foreignkey")
        batch.drop_column("contact_id")
