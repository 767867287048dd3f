"""PostgreSQL grants on one table (issue 13): how many the integration reaches, and how fast.

``pg.grants_per_table``: concurrent grants of ``read_write`` on one table through the
integration's real grant path (its own connections, locks, the shared group role), until one
fails or 10,000 are held at once; then all of them ended by ``revoke_many`` in the batches the
ending sweeper uses. When every login held its own entry in the table's ACL, the 2,443rd grant
failed ("row is too big") and dropping 10,000 roles took 80-120 s; through a group role the ACL
holds one entry and a login holds nothing of its own.

The figure is the seconds to grant them all (``n``: how many were reached). Its floor, measured
in the same run against the same group: bare ``CREATE ROLE ... LOGIN IN ROLE group`` statements
for the same count, one per round trip on one connection. The revoke and its floor (bare
``DROP ROLE`` of the same number of members, 100 per statement as ``revoke_many`` does) go to
stderr. Everything is made in a throwaway database and removed afterwards.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import psycopg
from psycopg import sql

from app.expiry.ending import BATCH
from app.integrations import _pg_plan as plan
from app.integrations.base import GrantItem, IntegrationError
from app.integrations.postgresql import PostgresIntegration
from bench.context import Context
from bench.figures import Single
from bench.registry import benchmark
from domain.connections import RESOLVED, PostgresConnection

HOST, PORT, ADMIN = "127.0.0.1", 5432, "postgres"
TABLE: Final = "shop.orders"
PERMISSION: Final = "read_write"
WORKERS: Final = 8
"""Grants in flight at once, as several app workers (and instances) would send them."""


@dataclass(frozen=True, slots=True)
class _World:
    database: str
    run: str

    def account(self, i: int) -> str:
        return f"jit_b{self.run}_{i:05d}"

    def floor_role(self, i: int) -> str:
        return f"jit_f{self.run}_{i:05d}"

    @property
    def group(self) -> str:
        schema, table = TABLE.split(".")
        return plan.Group(
            database=self.database, schema=schema, table=table, permission=PERMISSION
        ).name


def _admin(database: str = "postgres") -> psycopg.Connection[tuple[Any, ...]]:
    return psycopg.connect(host=HOST, port=PORT, user=ADMIN, dbname=database, autocommit=True)


@contextmanager
def _world() -> Iterator[_World]:
    run = secrets.token_hex(3)
    world = _World(database=f"jit_bench_{run}_acl", run=run)
    with closing(_admin()) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(world.database)))
    try:
        with closing(_admin(world.database)) as conn:
            conn.execute("CREATE SCHEMA shop; CREATE TABLE shop.orders (id serial, item text)")
        yield world
    finally:
        _clean(world)


def _clean(world: _World) -> None:
    """Plain statements, not revoke: an interrupted or broken round leaves nothing behind."""
    with closing(_admin()) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
            (world.database,),
        )
        # The database first: with it go the privileges, and the roles hold nothing else.
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(world.database)))
        for prefix in (f"jit_b{world.run}_", f"jit_f{world.run}_"):
            names = [
                str(name)
                for (name,) in conn.execute(
                    "SELECT rolname FROM pg_roles WHERE starts_with(rolname, %s)", (prefix,)
                ).fetchall()
            ]
            for start in range(0, len(names), plan.DROP_BATCH):
                chunk = names[start : start + plan.DROP_BATCH]
                conn.execute(
                    sql.SQL("DROP ROLE {}").format(sql.SQL(", ").join(map(sql.Identifier, chunk)))
                )
        conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(world.group)))


def _integration(world: _World) -> PostgresIntegration:
    connection = PostgresConnection.model_validate(
        {"host": HOST, "port": PORT, "database": world.database, "user": ADMIN},
        context={RESOLVED: True},
    )
    return PostgresIntegration(name="bench-postgres", connection=connection)


def _grant_all(
    integration: PostgresIntegration, accounts: Sequence[str]
) -> tuple[list[str], str | None]:
    """Grants until one fails or all are held: those granted, and the first error if any."""
    until = datetime.now(UTC) + timedelta(hours=1)
    items = [GrantItem(TABLE, PERMISSION)]
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        futures = {
            pool.submit(integration.grant, account=a, items=items, until=until): a for a in accounts
        }
        _, pending = wait(futures, return_when=FIRST_EXCEPTION)
        for future in pending:
            future.cancel()
        wait(pending)
    granted, error = [], None
    for future, account in futures.items():
        if future.cancelled():
            continue
        failure = future.exception()
        if failure is None:
            granted.append(account)
        elif error is None:
            error = str(failure)
    return granted, error


def _revoke_all(integration: PostgresIntegration, accounts: Sequence[str]) -> list[str]:
    """``revoke_many`` in the sweeper's batches; the accounts it could not end."""
    left: list[str] = []
    for start in range(0, len(accounts), BATCH):
        outcome = integration.revoke_many(accounts=accounts[start : start + BATCH])
        left += [name for name, error in outcome.items() if error is not None]
    return left


def _floor(world: _World, count: int) -> tuple[float, float]:
    """Seconds for ``count`` bare member logins of the group, then to drop them."""
    names = [world.floor_role(i) for i in range(count)]
    until = sql.Literal((datetime.now(UTC) + timedelta(hours=1)).isoformat())
    group = sql.Identifier(world.group)
    with closing(_admin(world.database)) as conn:
        started = time.perf_counter()
        for name in names:
            conn.execute(
                sql.SQL("CREATE ROLE {} LOGIN PASSWORD 'floor' VALID UNTIL {} IN ROLE {}").format(
                    sql.Identifier(name), until, group
                )
            )
        granting = time.perf_counter() - started
        started = time.perf_counter()
        for start in range(0, count, plan.DROP_BATCH):
            chunk = names[start : start + plan.DROP_BATCH]
            conn.execute(
                sql.SQL("DROP ROLE {}").format(sql.SQL(", ").join(map(sql.Identifier, chunk)))
            )
        return granting, time.perf_counter() - started


def _members(world: _World) -> int:
    with closing(_admin()) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid"
            " WHERE g.rolname = %s",
            (world.group,),
        ).fetchone()
    return int(row[0]) if row else 0


@benchmark(name="pg.grants_per_table", unit="s")
def pg_grants_per_table(ctx: Context) -> Single:
    """Concurrent grants on one PostgreSQL table until failure or 10,000 → seconds to grant."""
    count = ctx.samples(full=10_000, quick=200)
    with _world() as world:
        integration = _integration(world)
        accounts = [world.account(i) for i in range(count)]
        started = time.perf_counter()
        granted, error = _grant_all(integration, accounts)
        granting = time.perf_counter() - started
        if error is not None:
            ctx.log(f"[pg.grants_per_table] grant {len(granted) + 1} failed: {error}")
        ctx.log(
            f"[pg.grants_per_table] {len(granted)} grants held, group members {_members(world)}"
        )
        started = time.perf_counter()
        left = _revoke_all(integration, granted)
        revoking = time.perf_counter() - started
        if left or _members(world):
            raise IntegrationError(
                f"revoke_many left {len(left)} accounts, {_members(world)} members"
            )
        floor_grant, floor_revoke = _floor(world, len(granted))
        ctx.log(
            f"[pg.grants_per_table] reached {len(granted)}/{count}: grant {granting:.2f} s"
            f" (floor {floor_grant:.2f} s), revoke_many {revoking:.2f} s"
            f" (floor {floor_revoke:.2f} s)"
        )
    return Single(value=granting, n=len(granted), floor=floor_grant)
