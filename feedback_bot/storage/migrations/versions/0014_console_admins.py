"""The web console for practice admins: admin accounts (one practice each, names sealed),
one-time sign-in links and server-side sessions (only SHA-256 hashes of their tokens),
and admins' chats and link codes (``identity.admin_id``, ``invite_code.admin_id``).

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from feedback_bot.storage.models import UTCDateTime

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "console_admin",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("uid", sa.String(32), nullable=False),
        sa.Column(
            "practice_id",
            sa.Integer(),
            sa.ForeignKey("practice.id", name="fk_console_admin_practice_id_practice"),
            nullable=False,
        ),
        sa.Column("name_enc", sa.Text(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_console_admin"),
        sa.UniqueConstraint("uid", name="uq_console_admin_uid"),
    )
    op.create_index("ix_console_admin_practice_id", "console_admin", ["practice_id"])
    for table in ("console_login_link", "console_session"):
        extra: list[sa.Column[object]] = (
            [sa.Column("used_at", UTCDateTime(timezone=True), nullable=True)]
            if table == "console_login_link"
            else [sa.Column("last_seen_at", UTCDateTime(timezone=True), nullable=False)]
        )
        op.create_table(
            table,
            sa.Column("id", sa.Integer(), primary_key=True),
            sa.Column(
                "admin_id",
                sa.Integer(),
                sa.ForeignKey(
                    "console_admin.id",
                    name=f"fk_{table}_admin_id_console_admin",
                    ondelete="CASCADE",
                ),
                nullable=False,
            ),
            sa.Column("token_hash", sa.String(64), nullable=False),
            sa.Column("expires_at", UTCDateTime(timezone=True), nullable=False),
            sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
            *extra,
            sa.PrimaryKeyConstraint("id", name=f"pk_{table}"),
            sa.UniqueConstraint("token_hash", name=f"uq_{table}_token_hash"),
        )
        op.create_index(f"ix_{table}_expires_at", table, ["expires_at"])
    for table in ("identity", "invite_code"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("admin_id", sa.Integer(), nullable=True))
            batch.create_foreign_key(
                f"fk_{table}_admin_id_console_admin",
                "console_admin",
                ["admin_id"],
                ["id"],
                ondelete="CASCADE",
            )


def downgrade() -> None:
    for table in ("invite_code", "identity"):
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(f"fk_{table}_admin_id_console_admin", type_="foreignkey")
            batch.drop_column("admin_id")
    for table in ("console_session", "console_login_link"):
        op.drop_index(f"ix_{table}_expires_at", table)
        op.drop_table(table)
    op.drop_index("ix_console_admin_practice_id", "console_admin")
    op.drop_table("console_admin")
