"""on behalf of a teammate: who the access of a request is for, when not its requester

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02 03:45:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("requests", schema=None) as batch_op:
        batch_op.add_column(sa.Column("grantee_id", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("grantee_name", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("grantee_email", sa.String(length=320), nullable=True))
        batch_op.create_index(
            "ix_requests_grantee_created", ["grantee_id", "created_at", "id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("requests", schema=None) as batch_op:
        batch_op.drop_index("ix_requests_grantee_created")
        batch_op.drop_column("grantee_email")
        batch_op.drop_column("grantee_name")
        batch_op.drop_column("grantee_id")
