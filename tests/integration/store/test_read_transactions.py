"""A read transaction leaves the connection as it found it, prepared statements included.

psycopg forgets every statement it prepared on a connection when a transaction there ends in
ROLLBACK (it may have dropped what they refer to) and deallocates them on the server. Reads
are most of the bot's transactions, so ending them that way left almost nothing prepared: the
server parsed and planned nearly every statement anew. They end in COMMIT instead, and are
READ ONLY, so a read that tried to write would fail rather than be committed."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from store.engine import PREPARE_THRESHOLD
from store.models import RequestRow
from store.unit_of_work import Store


def prepared_on_the_connection(store: Store) -> int:
    with store.read() as uow:
        return int(uow.session.scalar(text("SELECT count(*) FROM pg_prepared_statements")) or 0)


def test_a_statement_run_in_reads_gets_prepared_and_stays_prepared(pg_store: Store) -> None:
    for _ in range(PREPARE_THRESHOLD + 1):
        with pg_store.read() as uow:
            uow.session.scalar(select(RequestRow.id).where(RequestRow.id == "AR-NOBODY"))

    assert prepared_on_the_connection(pg_store) >= 1
    assert prepared_on_the_connection(pg_store) >= 1


def test_a_read_that_tries_to_write_fails_and_leaves_nothing(pg_store: Store) -> None:
    def write_in_a_read() -> None:
        with pg_store.read() as uow:
            uow.meta.put("written", "in a read")
            uow.session.flush()

    with pytest.raises(DBAPIError, match="read-only transaction"):
        write_in_a_read()

    with pg_store.read() as uow:
        assert uow.meta.get("written") is None
