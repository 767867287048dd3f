"""catalog content hash and richer drafts

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 12:52:30.441660
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("bundles", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("content_hash", sa.String(length=64), nullable=False, server_default="")
        )

    with op.batch_alter_table("drafts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("flow_version", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("integration", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("resource", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("duration_seconds", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("justification", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("drafts", schema=None) as batch_op:
        batch_op.drop_column("justification")
        batch_op.drop_column("duration_seconds")
        batch_op.drop_column("resource")
        batch_op.drop_column("integration")
        batch_op.drop_column("flow_version")

    with op.batch_alter_table("bundles", schema=None) as batch_op:
        batch_op.drop_column("content_hash")
