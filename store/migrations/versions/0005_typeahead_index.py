"""Typeahead index on bundle objects: FTS5 trigrams on SQLite, pg_trgm on PostgreSQL.

A 100,000-object bundle is searched on every keystroke; a substring LIKE scans every row.
Both engines get a trigram index that answers substring searches directly. On PostgreSQL the
extension may not be installable (no privilege): the search then falls back to LIKE.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SQLITE_UP = [
    """CREATE VIRTUAL TABLE bundle_objects_fts USING fts5(
        search, content='bundle_objects', content_rowid='id', tokenize='trigram')""",
    """CREATE TRIGGER bundle_objects_fts_insert AFTER INSERT ON bundle_objects BEGIN
        INSERT INTO bundle_objects_fts(rowid, search) VALUES (new.id, new.search); END""",
    """CREATE TRIGGER bundle_objects_fts_delete AFTER DELETE ON bundle_objects BEGIN
        INSERT INTO bundle_objects_fts(bundle_objects_fts, rowid, search)
        VALUES ('delete', old.id, old.search); END""",
    """CREATE TRIGGER bundle_objects_fts_update AFTER UPDATE ON bundle_objects BEGIN
        INSERT INTO bundle_objects_fts(bundle_objects_fts, rowid, search)
        VALUES ('delete', old.id, old.search);
        INSERT INTO bundle_objects_fts(rowid, search) VALUES (new.id, new.search); END""",
    "INSERT INTO bundle_objects_fts(bundle_objects_fts) VALUES ('rebuild')",
]


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for statement in SQLITE_UP:
            op.execute(statement)
    elif bind.dialect.name == "postgresql":
        try:
            with bind.begin_nested():
                bind.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
                bind.execute(
                    sa.text(
                        "CREATE INDEX IF NOT EXISTS ix_bundle_objects_search_trgm "
                        "ON bundle_objects USING gin (search gin_trgm_ops)"
                    )
                )
        except sa.exc.DBAPIError:
            pass  # no privilege to add the extension: typeahead uses plain LIKE


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for trigger in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER IF EXISTS bundle_objects_fts_{trigger}")
        op.execute("DROP TABLE IF EXISTS bundle_objects_fts")
    elif bind.dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_bundle_objects_search_trgm")
