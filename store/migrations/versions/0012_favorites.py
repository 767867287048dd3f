"""favorites: requests saved by their requester to start again in one click

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 03:20:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    big_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    op.create_table(
        "favorites",
        sa.Column("id", big_id, autoincrement=True, nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("bundle", sa.String(length=64), nullable=True),
        sa.Column("flow", sa.String(length=64), nullable=False),
        sa.Column("duration_seconds", sa.Integer(), nullable=False),
        sa.Column("justification", sa.Text(), nullable=False),
        sa.Column("object_count", sa.Integer(), nullable=False),
        sa.Column("source_request", sa.String(length=16), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_favorites")),
    )
    op.create_index(
        "ix_favorites_user_created", "favorites", ["user_id", "created_at", "id"], unique=False
    )
    op.create_table(
        "favorite_objects",
        sa.Column("id", big_id, autoincrement=True, nullable=False),
        sa.Column("favorite_id", big_id, nullable=False),
        sa.Column("integration", sa.String(length=64), nullable=False),
        sa.Column("resource", sa.String(length=200), nullable=False),
        sa.Column("permission", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["favorite_id"],
            ["favorites.id"],
            name=op.f("fk_favorite_objects_favorite_id_favorites"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_favorite_objects")),
    )
    op.create_index(
        "ix_favorite_objects_favorite", "favorite_objects", ["favorite_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_favorite_objects_favorite", table_name="favorite_objects")
    op.drop_table("favorite_objects")
    op.drop_index("ix_favorites_user_created", table_name="favorites")
    op.drop_table("favorites")
