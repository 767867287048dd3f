"""audit chain keyed: a key ID per row, and the marker below which rows may be unkeyed

Rows written before this revision keep their plain SHA-256 links and no key ID; the marker
``audit_keyed_from`` in ``meta`` is the first ID that must be keyed (README, "Audit log").

Revision ID: 0009_audit_keyed
Revises: 0008
Create Date: 2026-12-02 02:50:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_audit_keyed"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KEYED_FROM = "audit_keyed_from"


def upgrade() -> None:
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("key_id", sa.String(length=16), nullable=True))
    # The marker: every row after the ones already written must be keyed.
    op.execute(
        sa.text(
            "INSERT INTO meta (key, value) "
            "SELECT :key, CAST(COALESCE(MAX(id), 0) + 1 AS VARCHAR(20)) FROM audit_events"
        ).bindparams(key=KEYED_FROM)
    )


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM meta WHERE key = :key").bindparams(key=KEYED_FROM))
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_column("key_id")
