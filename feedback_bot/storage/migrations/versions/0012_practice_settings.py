"""practice_settings: each practice's own settings (languages, crisis resources, check-in
and digest defaults, alliance items, texts), one validated document per practice.

Existing practices get the deployment file's values (handed in by ``storage.migrate.upgrade``
as ``practice_defaults``), with their own crisis resources (practice.crisis_resources, now
dropped) in place of the file's. Without the file's values, a practice that had no own
resources keeps no row and follows the file until its settings are first saved.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

from feedback_bot.storage.migrate import MigrationNeedsKey

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "practice_settings",
        sa.Column("practice_id", sa.Integer(), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["practice_id"],
            ["practice.id"],
            name=op.f("fk_practice_settings_practice_id_practice"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("practice_id", name=op.f("pk_practice_settings")),
    )
    config = op.get_context().config
    defaults: dict[str, Any] | None = (
        config.attributes.get("practice_defaults") if config is not None else None
    )
    practice = sa.table(
        "practice", sa.column("id", sa.Integer()), sa.column("crisis_resources", sa.JSON())
    )
    settings = sa.table(
        "practice_settings",
        sa.column("practice_id", sa.Integer()),
        sa.column("document", sa.JSON()),
        sa.column("version", sa.Integer()),
        sa.column("updated_at", sa.DateTime(timezone=True)),
    )
    bind = op.get_bind()
    now = datetime.now(UTC)
    rows = []
    for pid, own in bind.execute(sa.select(practice.c.id, practice.c.crisis_resources)):
        if defaults is None:
            if own:
                raise MigrationNeedsKey(
                    "this upgrade moves each practice's settings into the database and needs "
                    "the deployment's config/prompts.yaml: set FEEDBACK_BOT_PROMPTS_FILE and "
                    "run `feedback-bot db upgrade` again"
                )
            continue
        document = copy.deepcopy(defaults)
        document.pop("feedback_contact", None)  # practice.feedback_contact_id holds it
        if own:
            document["crisis_resources"] = own
        rows.append({"practice_id": pid, "document": document, "version": 1, "updated_at": now})
    if rows:
        op.bulk_insert(settings, rows)
    with op.batch_alter_table("practice") as batch:
        batch.drop_column("crisis_resources")


def downgrade() -> None:
    with op.batch_alter_table("practice") as batch:
        batch.add_column(sa.Column("crisis_resources", sa.JSON(), nullable=True))
    op.drop_table("practice_settings")
