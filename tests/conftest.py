"""Fixtures shared by every test folder: throwaway databases on SQLite and the real PostgreSQL."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from store.engine import make_engine
from store.migrate import upgrade
from store.unit_of_work import Store
from tests.integration.integrations.integration_servers import PgCluster, scram_cluster

pytest_plugins = ["slacksim.pytest_plugin"]

ADMIN_PG_URL = os.environ.get(
    "TEST_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


@pytest.fixture(scope="session")
def scram_pg() -> Iterator[PgCluster]:
    """A throwaway PostgreSQL cluster that really checks passwords (scram-sha-256)."""
    with scram_cluster() as cluster:
        yield cluster


@pytest.fixture(scope="session")
def pg_database_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, dropped at the end."""
    name = f"jit_test_{secrets.token_hex(4)}"
    admin = create_engine(ADMIN_PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(ADMIN_PG_URL).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        with admin.connect() as connection:
            connection.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :name AND pid <> pg_backend_pid()"
                ),
                {"name": name},
            )
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


def _reset_postgres(url: str) -> None:
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database of each kind, migrated by whoever uses it."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'jit.db'}"
    url: str = request.getfixturevalue("pg_database_url")
    _reset_postgres(url)
    return url


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    engine = make_engine(database_url)
    upgrade(engine)
    yield Store(engine=engine)
    engine.dispose()


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Store]:
    engine = make_engine(f"sqlite:///{tmp_path / 'jit.db'}")
    upgrade(engine)
    yield Store(engine=engine)
    engine.dispose()


@pytest.fixture
def pg_store(pg_database_url: str) -> Iterator[Store]:
    """An empty PostgreSQL database, migrated, for what only PostgreSQL shows (row locks,
    VACUUM)."""
    _reset_postgres(pg_database_url)
    engine = make_engine(pg_database_url)
    upgrade(engine)
    yield Store(engine=engine)
    engine.dispose()
