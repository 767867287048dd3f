"""removal problems: access that could not be removed yet, and its alerts

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 23:20:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "removal_problems",
        sa.Column("request_id", sa.String(length=16), nullable=False),
        sa.Column("problem", sa.Text(), nullable=False),
        sa.Column("first_failed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_failed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("alerts", sa.Integer(), nullable=False),
        sa.Column("next_alert_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("request_id", name=op.f("pk_removal_problems")),
    )
    with op.batch_alter_table("removal_problems", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_removal_problems_next_alert_at"), ["next_alert_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("removal_problems", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_removal_problems_next_alert_at"))
    op.drop_table("removal_problems")
