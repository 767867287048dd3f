"""requests keep their summary parts, computed once at submission; grants indexed by status

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02 17:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # No backfill: requests stored before this have their parts computed from their objects
    # when read (store/repositories/requests.py, RequestRepository._parts_of).
    with op.batch_alter_table("requests", schema=None) as batch_op:
        batch_op.add_column(sa.Column("parts", sa.JSON(), nullable=True))
    op.create_index("ix_grants_status", "grants", ["status"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_grants_status", table_name="grants")
    with op.batch_alter_table("requests", schema=None) as batch_op:
        batch_op.drop_column("parts")
