"""extensions of active requests, and the reminder before the end

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 03:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("requests", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("extensions", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(sa.Column("end_reminder_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("end_reminder_for", sa.DateTime(timezone=True), nullable=True)
        )
    op.create_table(
        "extensions",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("request_id", sa.String(length=16), nullable=False),
        sa.Column("asked_by", sa.String(length=32), nullable=False),
        sa.Column("asked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("old_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("new_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("automatic", sa.Boolean(), nullable=False),
        sa.Column("decided_by", sa.String(length=32), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("problem", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["requests.id"],
            name=op.f("fk_extensions_request_id_requests"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_extensions")),
    )
    with op.batch_alter_table("extensions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_extensions_request_id"), ["request_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_extensions_status"), ["status"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("extensions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_extensions_status"))
        batch_op.drop_index(batch_op.f("ix_extensions_request_id"))
    op.drop_table("extensions")
    with op.batch_alter_table("requests", schema=None) as batch_op:
        batch_op.drop_column("end_reminder_for")
        batch_op.drop_column("end_reminder_at")
        batch_op.drop_column("extensions")
