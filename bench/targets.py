"""The three real servers as grant targets: 400 PostgreSQL tables, 400 MariaDB tables, 200 Redis
key patterns, all under names unique to this run and removed afterwards.

PostgreSQL gets a throwaway database on the machine's server (it trusts local logins, which is
fine here: nothing logs in with the delivered credentials); MariaDB a throwaway database of Aria
tables (creating 400 InnoDB tables would take longer than the whole benchmark, and GRANT does
not care about the engine); Redis only a key prefix, since ACL users are what is granted.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from itertools import cycle
from typing import Any, Final

import psycopg
import pymysql
import redis
from psycopg import sql

from app.integrations.base import GrantItem
from domain.objects import AccessObject

PG_HOST, PG_PORT, PG_ADMIN = "127.0.0.1", 5432, "postgres"
MYSQL_HOST, MYSQL_PORT, MYSQL_ADMIN = "127.0.0.1", 3306, "root"
REDIS_URL: Final = "redis://127.0.0.1:6379/0"
PG_TABLES: Final = 400
MYSQL_TABLES: Final = 400
REDIS_PATTERNS: Final = 200
LEVELS: Final = ("read_only", "read_write", "admin")
PG, MYSQL, REDIS = "bulk-postgres", "bulk-mariadb", "bulk-redis"


def _pg(database: str = "postgres") -> psycopg.Connection[tuple[Any, ...]]:
    return psycopg.connect(
        host=PG_HOST, port=PG_PORT, user=PG_ADMIN, dbname=database, autocommit=True
    )


def _mysql() -> pymysql.Connection[pymysql.cursors.Cursor]:
    return pymysql.connect(host=MYSQL_HOST, port=MYSQL_PORT, user=MYSQL_ADMIN, autocommit=True)


@dataclass(frozen=True, slots=True)
class Targets:
    run: str
    pg_database: str
    mysql_database: str
    redis_prefix: str
    accounts: list[str] = field(default_factory=list)
    """Every account created on the servers (by the app or the bare script), for clean-up."""

    def integrations(self) -> list[dict[str, Any]]:
        """Policy entries for the three servers, as an admin would write them."""
        return [
            {
                "name": PG,
                "type": "postgresql",
                "connection": {
                    "host": PG_HOST,
                    "port": PG_PORT,
                    "database": self.pg_database,
                    "user": PG_ADMIN,
                },
            },
            {
                "name": MYSQL,
                "type": "mysql",
                "connection": {"host": MYSQL_HOST, "port": MYSQL_PORT, "user": MYSQL_ADMIN},
            },
            {"name": REDIS, "type": "redis", "connection": {"url": REDIS_URL}},
        ]

    def items(self) -> dict[str, list[GrantItem]]:
        """1,000 objects, the three permission levels in turn on each server."""
        levels = cycle(LEVELS)
        return {
            PG: [GrantItem(f"bulk.t{i:03d}", next(levels)) for i in range(PG_TABLES)],
            MYSQL: [
                GrantItem(f"{self.mysql_database}.t{i:03d}", next(levels))
                for i in range(MYSQL_TABLES)
            ],
            REDIS: [
                GrantItem(f"{self.redis_prefix}bulk{i:03d}:*", next(levels))
                for i in range(REDIS_PATTERNS)
            ],
        }

    def objects(self) -> list[AccessObject]:
        return [
            AccessObject(integration, item.resource, item.permission)
            for integration, items in self.items().items()
            for item in items
        ]


def _create(targets: Targets) -> None:
    with closing(_pg()) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(targets.pg_database)))
    with closing(_pg(targets.pg_database)) as conn:
        conn.execute(
            f"""
            CREATE SCHEMA bulk;
            DO $$ BEGIN
              FOR i IN 0..{PG_TABLES - 1} LOOP
                EXECUTE format('CREATE TABLE bulk.%I (id int)', 't' || lpad(i::text, 3, '0'));
              END LOOP;
            END $$;
            """.encode()
        )
    with closing(_mysql()) as session, session.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE `{targets.mysql_database}`")
        for i in range(MYSQL_TABLES):
            cursor.execute(f"CREATE TABLE `{targets.mysql_database}`.t{i:03d} (id int) ENGINE=Aria")


def _drop(targets: Targets) -> None:
    """The databases, then every account a round may have left (a failed revoke, an interrupt):
    plain statements, not the integrations' revoke, so a broken revoke leaves nothing behind."""
    accounts = list(targets.accounts)
    with closing(_pg()) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = %s OR usename = ANY(%s)",
            (targets.pg_database, accounts),
        )
        # A role's privileges live in the database: dropping it first frees the role.
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(targets.pg_database))
        )
        for account in accounts:
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(account)))
    with closing(_mysql()) as session, session.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS `{targets.mysql_database}`")
        for account in accounts:
            cursor.execute("DROP USER IF EXISTS %s@'%%'", (account,))
    if accounts:
        client = redis.Redis.from_url(REDIS_URL)
        try:
            client.acl_deluser(*accounts)
        finally:
            client.close()


@contextmanager
def real_targets() -> Iterator[Targets]:
    run = secrets.token_hex(3)
    targets = Targets(
        run=run,
        pg_database=f"jit_bench_{run}",
        mysql_database=f"jit_bench_{run}_bulk",
        redis_prefix=f"jitbench:{run}:",
    )
    try:
        _create(targets)
        yield targets
    finally:
        _drop(targets)
