"""revoke requests

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 13:11:52.597648
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("requests", schema=None) as batch_op:
        batch_op.add_column(sa.Column("revoke_requested_by", sa.String(length=32), nullable=True))
        batch_op.add_column(
            sa.Column("revoke_requested_at", sa.DateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("requests", schema=None) as batch_op:
        batch_op.drop_column("revoke_requested_at")
        batch_op.drop_column("revoke_requested_by")
