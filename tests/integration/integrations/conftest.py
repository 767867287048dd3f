"""Fixtures for the integration modules: real servers, everything created is removed afterwards.

PostgreSQL runs as a throwaway cluster that requires scram-sha-256 (this machine's server trusts
local logins, so a wrong password would pass there); MariaDB and Redis are the machine's servers,
used under names unique to this run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import redis

from app.integrations.mysql import MySQLIntegration
from app.integrations.postgresql import PostgresIntegration
from app.integrations.redis import RedisIntegration
from domain.connections import RESOLVED, MySQLConnection, PostgresConnection, RedisConnection
from tests.integration.integrations.integration_servers import (
    MYSQL_HOST,
    MYSQL_PORT,
    PG_DATABASE,
    PG_SUPERUSER,
    REDIS_URL,
    RUN,
    MySQLDatabases,
    PgCluster,
    create_mysql_databases,
    drop_mysql_databases,
    drop_mysql_user,
    drop_pg_role,
    new_account,
    redis_admin,
    scram_cluster,
)

_timings: list[str] = []


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _timings:
        terminalreporter.section("integration timings")
        for line in _timings:
            terminalreporter.write_line(line)


@pytest.fixture
def report_timing() -> Callable[[str], None]:
    """Lines shown in the summary at the end of the run, whatever the output capture."""
    return _timings.append


# --- PostgreSQL ---------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    with scram_cluster() as cluster:
        yield cluster


@pytest.fixture
def pg(pg_cluster: PgCluster) -> PostgresIntegration:
    connection = PostgresConnection.model_validate(
        {
            "host": "127.0.0.1",
            "port": pg_cluster.port,
            "database": PG_DATABASE,
            "user": PG_SUPERUSER,
            "password": pg_cluster.password,
            "public_host": "db.example.com",
        },
        context={RESOLVED: True},
    )
    return PostgresIntegration(name="test-postgres", connection=connection)


@pytest.fixture
def pg_account(pg_cluster: PgCluster) -> Iterator[str]:
    account = new_account()
    yield account
    drop_pg_role(pg_cluster, account)


# --- MariaDB ------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def mysql_dbs() -> Iterator[MySQLDatabases]:
    dbs = MySQLDatabases.for_run()
    try:
        create_mysql_databases(dbs)
        yield dbs
    finally:
        drop_mysql_databases(dbs)


@pytest.fixture
def mysql(mysql_dbs: MySQLDatabases) -> MySQLIntegration:
    connection = MySQLConnection.model_validate(
        {"host": MYSQL_HOST, "port": MYSQL_PORT, "user": "root"}, context={RESOLVED: True}
    )
    return MySQLIntegration(name="test-mariadb", connection=connection)


@pytest.fixture
def mysql_account() -> Iterator[str]:
    account = new_account()
    yield account
    drop_mysql_user(account)


# --- Redis --------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def redis_prefix() -> Iterator[str]:
    prefix = f"jittest:{RUN}:"
    yield prefix
    admin = redis_admin()
    keys = list(admin.scan_iter(match=f"{prefix}*"))
    if keys:
        admin.delete(*keys)
    admin.close()


@pytest.fixture
def redis_root() -> Iterator[redis.Redis]:
    client = redis_admin()
    yield client
    client.close()


@pytest.fixture
def rds(redis_prefix: str) -> RedisIntegration:
    connection = RedisConnection.model_validate({"url": REDIS_URL}, context={RESOLVED: True})
    return RedisIntegration(
        name="test-redis", connection=connection, patterns=[f"{redis_prefix}orders:*"]
    )


@pytest.fixture
def redis_account(redis_root: redis.Redis) -> Iterator[str]:
    account = new_account()
    yield account
    redis_root.acl_deluser(account)
