"""Engines tuned per database.

SQLite serves a threaded app from one process: WAL so readers never wait for the writer, a busy
timeout instead of "database is locked", ``BEGIN IMMEDIATE`` for write transactions so two writers
queue at the start instead of deadlocking on lock upgrade, and foreign keys switched on.
PostgreSQL: the psycopg 3 driver, preparing the statements it runs more than once
(:data:`PREPARE_THRESHOLD`), and a connection checked with a ping only when it comes back
to work after sitting idle in the pool (:data:`PING_AFTER_IDLE_SECONDS`), as PgBouncer's
``server_check_delay`` does: a ping on every checkout cost a round trip per transaction, and a
click runs several.
"""

from __future__ import annotations

import time
from typing import Any, Final

from sqlalchemy import Engine, create_engine, event, exc
from sqlalchemy.engine import URL, make_url

SQLITE_BUSY_TIMEOUT_MS: Final = 30_000
PING_AFTER_IDLE_SECONDS: Final = 5.0
"""A pooled PostgreSQL connection idle longer than this is pinged before it is handed out (the
server may have closed it meanwhile); one used more recently is trusted, and if the server
dropped it all the same, that transaction fails as any lost connection would and the pool
replaces the connection."""
PREPARE_THRESHOLD: Final = 1
"""psycopg prepares a statement on a connection the second time it runs there (its default: the
sixth). The bot runs about a hundred distinct statements over up to twenty pooled connections
per instance, so with the default most runs were parsed and planned anew by the server."""
PREPARED_MAX: Final = 200
"""Statements psycopg keeps prepared per connection (its default, 100, is about all of the bot's;
past it, each new one costs a DEALLOCATE of the oldest)."""
WRITE: Final = "jit_write"
"""Execution option asking for a write transaction (``BEGIN IMMEDIATE`` on SQLite)."""


def normalise_url(url: str) -> URL:
    """Accept the URLs people paste (``postgres://``, ``postgresql://``) and pick psycopg 3."""
    parsed = make_url(url)
    if parsed.drivername in ("postgres", "postgresql"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def make_engine(url: str, *, pool_size: int = 10) -> Engine:
    parsed = normalise_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed)
    engine = create_engine(
        parsed,
        pool_size=pool_size,
        max_overflow=pool_size,
        connect_args={"connect_timeout": 10, "prepare_threshold": PREPARE_THRESHOLD},
    )
    _ping_after_idle(engine)
    _keep_prepared(engine)
    return engine


def _keep_prepared(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.prepared_max = PREPARED_MAX


def _ping_after_idle(engine: Engine) -> None:
    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since <= PING_AFTER_IDLE_SECONDS:
            return
        try:
            alive = engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as error:
            raise exc.DisconnectionError(str(error)) from error
        if not alive:
            raise exc.DisconnectionError("the connection did not answer a ping")


def _sqlite_engine(url: URL) -> Engine:
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
        pool_size=8,
        max_overflow=16,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event issue BEGIN itself, so it can choose IMMEDIATE.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        if url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        immediate = connection.get_execution_options().get(WRITE, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def is_postgresql(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"
