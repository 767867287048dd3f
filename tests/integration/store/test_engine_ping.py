"""A pooled PostgreSQL connection is pinged only after sitting idle (store/engine.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import OperationalError

import store.engine
from store.engine import make_engine


@pytest.fixture
def engine(pg_database_url: str) -> Iterator[Engine]:
    made = make_engine(pg_database_url, pool_size=1)
    yield made
    made.dispose()


def backend_of(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(text("SELECT pg_backend_pid()")).scalar_one())


def kill(pg_database_url: str, pid: int) -> None:
    admin = create_engine(pg_database_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    finally:
        admin.dispose()


def test_a_connection_the_server_closed_while_idle_is_replaced_before_anyone_uses_it(
    engine: Engine, pg_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store.engine, "PING_AFTER_IDLE_SECONDS", 0.0)
    first = backend_of(engine)
    kill(pg_database_url, first)

    second = backend_of(engine)  # no error: the ping found it dead and the pool replaced it

    assert second != first


def test_a_connection_used_a_moment_ago_is_handed_out_without_a_ping(
    engine: Engine, pg_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store.engine, "PING_AFTER_IDLE_SECONDS", 3600.0)
    first = backend_of(engine)
    kill(pg_database_url, first)

    # Trusted without a round trip, so the server's close shows as that transaction's error...
    with pytest.raises(OperationalError):
        backend_of(engine)
    # ...and the pool has replaced the connection for the next one.
    assert backend_of(engine) != first
