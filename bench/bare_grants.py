"""The floor of the bundle benchmarks: the same grants, run by a minimal script.

What someone would write by hand against the three servers: one connection per server, plain
statements, no locks, no existence checks, no retries, no database of its own. The app's figure
is judged against this (target: within 2×); the ideas come from
``tests/integration/integrations/test_bulk_grant.py``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import closing
from datetime import UTC, datetime, timedelta
from typing import Final

import psycopg
import pymysql
import redis
from psycopg import sql

from app.integrations.base import GrantItem
from bench.targets import (
    LEVELS,
    MYSQL,
    MYSQL_ADMIN,
    MYSQL_HOST,
    MYSQL_PORT,
    PG,
    PG_ADMIN,
    PG_HOST,
    PG_PORT,
    REDIS,
    REDIS_URL,
    Targets,
)

PASSWORD: Final = "bare-password-not-secret"
PG_PRIVILEGES: Final = {
    "read_only": "SELECT",
    "read_write": "SELECT, INSERT, UPDATE, DELETE",
    "admin": "ALL",
}
MYSQL_PRIVILEGES: Final = {
    "read_only": "SELECT",
    "read_write": "SELECT, INSERT, UPDATE, DELETE",
    "admin": "ALL PRIVILEGES",
}
REDIS_RULES: Final = {"read_only": "+@read", "read_write": "+@read +@write", "admin": "+@all"}


def grant(targets: Targets, *, account: str, items: Mapping[str, Sequence[GrantItem]]) -> None:
    _pg_grant(targets, account, items[PG])
    _mysql_grant(account, items[MYSQL])
    _redis_grant(account, items[REDIS])


def revoke(targets: Targets, *, account: str) -> None:
    _pg_revoke(targets, account)
    _mysql_revoke(account)
    _redis_revoke(account)


def _pg_connect(targets: Targets) -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(
        host=PG_HOST, port=PG_PORT, user=PG_ADMIN, dbname=targets.pg_database, autocommit=True
    )


def _pg_grant(targets: Targets, account: str, items: Sequence[GrantItem]) -> None:
    role = sql.Identifier(account)
    until = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    with closing(_pg_connect(targets)) as conn, conn.transaction():
        conn.execute(
            sql.SQL("CREATE ROLE {} LOGIN PASSWORD {} VALID UNTIL {}").format(
                role, sql.Literal(PASSWORD), sql.Literal(until)
            )
        )
        conn.execute(
            sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(
                sql.Identifier(targets.pg_database), role
            )
        )
        conn.execute(sql.SQL("GRANT USAGE ON SCHEMA bulk TO {}").format(role))
        for level in LEVELS:
            tables = sql.SQL(", ").join(
                sql.Identifier(*item.resource.split("."))
                for item in items
                if item.permission == level
            )
            conn.execute(
                sql.SQL("GRANT {} ON TABLE {} TO {}").format(
                    sql.SQL(PG_PRIVILEGES[level]), tables, role
                )
            )


def _pg_revoke(targets: Targets, account: str) -> None:
    role = sql.Identifier(account)
    with closing(_pg_connect(targets)) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s", (account,)
        )
        with conn.transaction():
            conn.execute(sql.SQL("DROP OWNED BY {}").format(role))
            conn.execute(sql.SQL("DROP ROLE {}").format(role))


def _mysql_connect() -> pymysql.Connection[pymysql.cursors.Cursor]:
    return pymysql.connect(host=MYSQL_HOST, port=MYSQL_PORT, user=MYSQL_ADMIN, autocommit=True)


def _mysql_grant(account: str, items: Sequence[GrantItem]) -> None:
    with closing(_mysql_connect()) as conn, conn.cursor() as cursor:
        cursor.execute("CREATE USER %s@'%%' IDENTIFIED BY %s", (account, PASSWORD))
        # One statement per object, as a loop in a script would send them: MySQL's GRANT takes
        # one object at a time.
        for item in items:
            database, table = item.resource.split(".")
            cursor.execute(
                f"GRANT {MYSQL_PRIVILEGES[item.permission]} ON `{database}`.`{table}` TO %s@'%%'",
                (account,),
            )


def _mysql_revoke(account: str) -> None:
    with closing(_mysql_connect()) as conn, conn.cursor() as cursor:
        cursor.execute("DROP USER %s@'%%'", (account,))


def _redis_grant(account: str, items: Sequence[GrantItem]) -> None:
    arguments = [account, "reset", "on", f">{PASSWORD}"]
    for index, level in enumerate(LEVELS):
        patterns = [f"~{item.resource}" for item in items if item.permission == level]
        selector = " ".join([*patterns, REDIS_RULES[level]])
        # The first level is the root selector, the others are extra (selectors).
        arguments += selector.split() if index == 0 else [f"({selector})"]
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.execute_command("ACL SETUSER", *arguments)  # type: ignore[no-untyped-call]
    finally:
        client.close()


def _redis_revoke(account: str) -> None:
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.acl_deluser(account)
    finally:
        client.close()
