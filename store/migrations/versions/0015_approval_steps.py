"""approval steps: each request's steps with their quorums, and one decision per approver and step

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02 03:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("requests", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("current_step", sa.Integer(), server_default="0", nullable=False)
        )
    with op.batch_alter_table("approvals", schema=None) as batch_op:
        batch_op.add_column(sa.Column("step", sa.Integer(), server_default="0", nullable=False))
    op.create_table(
        "request_steps",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("request_id", sa.String(length=16), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("quorum", sa.String(length=8), nullable=False),
        sa.Column("needed", sa.Integer(), nullable=False),
        sa.Column("approvals", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["requests.id"],
            name=op.f("fk_request_steps_request_id_requests"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_request_steps")),
        sa.UniqueConstraint("request_id", "step", name=op.f("uq_request_steps_request_id_step")),
    )
    op.create_table(
        "approval_decisions",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("request_id", sa.String(length=16), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("approver_id", sa.String(length=32), nullable=False),
        sa.Column("approver_name", sa.String(length=200), nullable=False),
        sa.Column("approved", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["requests.id"],
            name=op.f("fk_approval_decisions_request_id_requests"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_approval_decisions")),
        sa.UniqueConstraint(
            "request_id",
            "step",
            "approver_id",
            name=op.f("uq_approval_decisions_request_id_step_approver_id"),
        ),
    )
    # Requests pending at the upgrade were made with one step, quorum any.
    op.execute(
        "INSERT INTO request_steps (request_id, step, quorum, needed, approvals, started_at) "
        "SELECT id, 0, 'any', 1, 0, created_at FROM requests WHERE status = 'pending'"
    )


def downgrade() -> None:
    op.drop_table("approval_decisions")
    op.drop_table("request_steps")
    with op.batch_alter_table("approvals", schema=None) as batch_op:
        batch_op.drop_column("step")
    with op.batch_alter_table("requests", schema=None) as batch_op:
        batch_op.drop_column("current_step")
