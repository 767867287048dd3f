"""1,000 objects in one request, across the three servers, timed against the bare statements.

The baseline runs the same GRANTs a minimal script would (one connection, plain statements) so the
ratio shows what the integration layer costs on top of the servers' own work.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC
from itertools import cycle

import pytest
import redis
from psycopg import sql

from app.integrations.base import GrantItem
from app.integrations.mysql import MySQLIntegration
from app.integrations.postgresql import PostgresIntegration
from app.integrations.redis import RedisIntegration
from tests.integration.integrations.integration_servers import (
    BULK_PATTERNS,
    BULK_TABLES,
    PgCluster,
    drop_mysql_user,
    drop_pg_role,
    in_one_hour,
    mysql_login,
    mysql_root,
    new_account,
    pg_login,
    redis_admin,
    redis_login,
)
from tests.integration.integrations.integration_servers import MySQLDatabases as Dbs

pytestmark = pytest.mark.integration

LEVELS = ("read_only", "read_write", "admin")
ROUNDS = 3
"""Each side is timed this many times and the best run kept: the servers' noise is large."""


def best_of(action: Callable[[], object], undo: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(ROUNDS):
        started = time.perf_counter()
        action()
        best = min(best, time.perf_counter() - started)
        undo()
    return best


def pg_items() -> list[GrantItem]:
    levels = cycle(LEVELS)
    return [GrantItem(f"bulk.t{i:03d}", next(levels)) for i in range(BULK_TABLES)]


def mysql_items(dbs: Dbs) -> list[GrantItem]:
    levels = cycle(LEVELS)
    return [GrantItem(f"{dbs.bulk}.t{i:03d}", next(levels)) for i in range(BULK_TABLES)]


def redis_items(prefix: str) -> list[GrantItem]:
    levels = cycle(LEVELS)
    return [GrantItem(f"{prefix}bulk{i:03d}:*", next(levels)) for i in range(BULK_PATTERNS)]


@pytest.fixture
def account(pg_cluster: PgCluster) -> Iterator[str]:
    """One account on all three servers, as the service would use for one request."""
    name = new_account()
    yield name
    drop_pg_role(pg_cluster, name)
    drop_mysql_user(name)
    admin = redis_admin()
    admin.acl_deluser(name)
    admin.close()


def test_a_grant_of_1000_objects_across_three_servers_works_and_is_timed(
    pg: PostgresIntegration,
    pg_cluster: PgCluster,
    mysql: MySQLIntegration,
    mysql_dbs: Dbs,
    rds: RedisIntegration,
    redis_prefix: str,
    account: str,
    report_timing: Callable[[str], None],
) -> None:
    pg_objects, mysql_objects = pg_items(), mysql_items(mysql_dbs)
    redis_objects = redis_items(redis_prefix)
    assert len(pg_objects) + len(mysql_objects) + len(redis_objects) == 1_000

    started = time.perf_counter()
    pg_details = pg.grant(account=account, items=pg_objects, until=in_one_hour())
    pg_granted = time.perf_counter()
    mysql_details = mysql.grant(account=account, items=mysql_objects, until=in_one_hour())
    mysql_granted = time.perf_counter()
    redis_details = rds.grant(account=account, items=redis_objects, until=in_one_hour())
    granted = time.perf_counter()

    with pg_login(pg_details, pg_cluster) as conn:
        conn.execute("SELECT * FROM bulk.t000, bulk.t399")
        conn.execute("INSERT INTO bulk.t001 VALUES (1)")  # t001 is read_write
    session = mysql_login(mysql_details)
    with session.cursor() as cursor:
        cursor.execute(f"SELECT * FROM `{mysql_dbs.bulk}`.t000, `{mysql_dbs.bulk}`.t399")
    session.close()
    user = redis_login(redis_details)
    user.set(f"{redis_prefix}bulk199:k", "v")  # bulk199 is admin
    user.close()

    revoke_started = time.perf_counter()
    pg.revoke(account=account)
    pg_revoked = time.perf_counter()
    mysql.revoke(account=account)
    mysql_revoked = time.perf_counter()
    rds.revoke(account=account)
    revoked = time.perf_counter()

    report_timing(
        f"grant.bundle_1000: {granted - started:.3f} s "
        f"(postgresql {BULK_TABLES} tables {pg_granted - started:.3f} s, "
        f"mariadb {BULK_TABLES} tables {mysql_granted - pg_granted:.3f} s, "
        f"redis {BULK_PATTERNS} patterns {granted - mysql_granted:.3f} s)"
    )
    report_timing(
        f"revoke.bundle_1000: {revoked - revoke_started:.3f} s "
        f"(postgresql {pg_revoked - revoke_started:.3f} s, "
        f"mariadb {mysql_revoked - pg_revoked:.3f} s, redis {revoked - mysql_revoked:.3f} s)"
    )
    assert granted - started < 30
    assert revoked - revoke_started < 30


def test_the_integrations_stay_close_to_the_bare_statements(
    pg: PostgresIntegration,
    pg_cluster: PgCluster,
    mysql: MySQLIntegration,
    mysql_dbs: Dbs,
    rds: RedisIntegration,
    redis_prefix: str,
    account: str,
    report_timing: Callable[[str], None],
) -> None:
    pg_objects, mysql_objects = pg_items(), mysql_items(mysql_dbs)
    redis_objects = redis_items(redis_prefix)
    rows: list[tuple[str, float, float]] = []

    def measure(label: str, grant: Callable[[], object], revoke: Callable[[], object]) -> None:
        grant_time = best_of(grant, revoke)
        grant()
        revoke_time = best_of(revoke, grant)
        revoke()
        rows.append((label, grant_time, revoke_time))

    measure(
        "postgresql (integration)",
        lambda: pg.grant(account=account, items=pg_objects, until=in_one_hour()),
        lambda: pg.revoke(account=account),
    )
    measure(
        "postgresql (bare)",
        lambda: bare_pg_grant(pg_cluster, account, pg_objects),
        lambda: bare_pg_revoke(pg_cluster, account),
    )
    measure(
        "mariadb (integration)",
        lambda: mysql.grant(account=account, items=mysql_objects, until=in_one_hour()),
        lambda: mysql.revoke(account=account),
    )
    measure(
        "mariadb (bare)",
        lambda: bare_mysql_grant(account, mysql_objects),
        lambda: bare_mysql_revoke(account),
    )
    measure(
        "redis (integration)",
        lambda: rds.grant(account=account, items=redis_objects, until=in_one_hour()),
        lambda: rds.revoke(account=account),
    )
    measure(
        "redis (bare)",
        lambda: bare_redis_grant(account, redis_objects),
        lambda: bare_redis_revoke(account),
    )

    for label, grant_time, revoke_time in rows:
        report_timing(
            f"{label:26} grant {grant_time * 1000:8.1f} ms   revoke {revoke_time * 1000:8.1f} ms"
        )
    integration = [(g, r) for label, g, r in rows if "integration" in label]
    bare = [(g, r) for label, g, r in rows if "bare" in label]
    grant_ratio = sum(g for g, _ in integration) / sum(g for g, _ in bare)
    revoke_ratio = sum(r for _, r in integration) / sum(r for _, r in bare)
    report_timing(f"integration / bare: grant {grant_ratio:.2f}x, revoke {revoke_ratio:.2f}x")
    # The figures are for reading; what must hold is that each measured revoke really removed
    # the account it timed, on every server, bare or not.
    assert len(rows) == 6
    for integration_under_test in (pg, mysql, rds):
        left = integration_under_test.accounts()
        assert left is not None
        assert account not in left


# --- the bare statements, as a minimal script would run them ------------------------------------


def bare_pg_grant(cluster: PgCluster, account: str, items: list[GrantItem]) -> None:
    role = sql.Identifier(account)
    until = in_one_hour().astimezone(UTC).isoformat()
    with cluster.connect() as conn, conn.transaction():
        conn.execute(
            sql.SQL("CREATE ROLE {} LOGIN PASSWORD {} VALID UNTIL {}").format(
                role, sql.Literal("bare-password"), sql.Literal(until)
            )
        )
        conn.execute(sql.SQL("GRANT CONNECT ON DATABASE shop TO {}").format(role))
        conn.execute(sql.SQL("GRANT USAGE ON SCHEMA bulk TO {}").format(role))
        privileges = {
            "read_only": "SELECT",
            "read_write": "SELECT, INSERT, UPDATE, DELETE",
            "admin": "ALL",
        }
        for level, privilege in privileges.items():
            tables = sql.SQL(", ").join(
                sql.Identifier(*item.resource.split("."))
                for item in items
                if item.permission == level
            )
            conn.execute(
                sql.SQL("GRANT {} ON TABLE {} TO {}").format(sql.SQL(privilege), tables, role)
            )


def bare_pg_revoke(cluster: PgCluster, account: str) -> None:
    role = sql.Identifier(account)
    with cluster.connect() as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s", (account,)
        )
        with conn.transaction():
            conn.execute(sql.SQL("REASSIGN OWNED BY {} TO postgres").format(role))
            conn.execute(sql.SQL("DROP OWNED BY {}").format(role))
            conn.execute(sql.SQL("DROP ROLE {}").format(role))


def bare_mysql_grant(account: str, items: list[GrantItem]) -> None:
    privileges = {"read_only": "SELECT", "read_write": "SELECT, INSERT, UPDATE, DELETE",
                  "admin": "ALL PRIVILEGES"}  # fmt: skip
    conn = mysql_root()
    with conn.cursor() as cursor:
        cursor.execute("CREATE USER %s@'%%' IDENTIFIED BY 'bare-password'", (account,))
        for item in items:
            database, table = item.resource.split(".")
            cursor.execute(
                f"GRANT {privileges[item.permission]} ON `{database}`.`{table}` TO %s@'%%'",
                (account,),
            )
    conn.close()


def bare_mysql_revoke(account: str) -> None:
    conn = mysql_root()
    with conn.cursor() as cursor:
        cursor.execute("DROP USER %s@'%%'", (account,))
    conn.close()


def bare_redis_grant(account: str, items: list[GrantItem]) -> None:
    rules = {"read_only": "+@read", "read_write": "+@read +@write", "admin": "+@all"}
    arguments = [account, "reset", "on", ">bare-password"]
    for index, level in enumerate(LEVELS):
        patterns = [f"~{item.resource}" for item in items if item.permission == level]
        selector = " ".join([*patterns, rules[level]])
        arguments += selector.split() if index == 0 else [f"({selector})"]
    client = redis.Redis.from_url("redis://127.0.0.1:6379/0")
    client.execute_command("ACL SETUSER", *arguments)  # type: ignore[no-untyped-call]
    client.close()


def bare_redis_revoke(account: str) -> None:
    client = redis.Redis.from_url("redis://127.0.0.1:6379/0")
    client.acl_deluser(account)
    client.close()
