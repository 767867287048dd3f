"""Many rows into one table at once: ``COPY`` on PostgreSQL, one executemany elsewhere.

The set-wise endings (docs/architecture.md, "Durable time") write a batch's history and
messages this way; ``COPY`` sends the rows as one stream, where an executemany still runs one
INSERT per row on the server.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from psycopg import sql
from psycopg.types.json import Json
from sqlalchemy import JSON, insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import DeclarativeBase, Session


def insert_rows(
    session: Session, model: type[DeclarativeBase], rows: Sequence[Mapping[str, Any]]
) -> None:
    """Insert ``rows`` (column name → value, every row the same columns) in this transaction."""
    if not rows:
        return
    if session.get_bind().dialect.name != "postgresql":
        session.execute(insert(model), list(rows))
        return
    table = model.__table__
    names = list(rows[0])
    json = {name for name in names if isinstance(table.c[name].type, JSON)}
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table.name),  # type: ignore[attr-defined]
        sql.SQL(", ").join(map(sql.Identifier, names)),
    )
    connection = session.connection().connection.driver_connection
    with connection.cursor() as cursor, cursor.copy(statement) as copy:  # type: ignore[union-attr]
        for row in rows:
            copy.write_row(
                [Json(row[n]) if n in json and row[n] is not None else row[n] for n in names]
            )


_LOST_RACES: frozenset[str] = frozenset({"40P01", "40001"})
"""``deadlock_detected``, ``serialization_failure``: the server undid the whole transaction."""


def lost_to_a_lock(error: BaseException) -> bool:
    """Whether ``error`` means the transaction was undone because it raced another for the
    same rows (a deadlock victim): running the whole transaction again is safe."""
    orig = getattr(error, "orig", None)
    return isinstance(error, DBAPIError) and getattr(orig, "sqlstate", None) in _LOST_RACES
