"""requester page index

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29 14:50:45.452743
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    with op.batch_alter_table("requests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_requests_requester_id"))
        batch_op.create_index(
            "ix_requests_requester_created", ["requester_id", "created_at", "id"], unique=False
        )


def downgrade() -> None:

    with op.batch_alter_table("requests", schema=None) as batch_op:
        batch_op.drop_index("ix_requests_requester_created")
        batch_op.create_index(
            batch_op.f("ix_requests_requester_id"), ["requester_id"], unique=False
        )
