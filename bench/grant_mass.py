"""1,000 approved requests granted at once by the app, on the real PostgreSQL, MariaDB and Redis
(issue 13).

The subject is the app as ``python -m app`` builds it (its real integrations and worker threads,
PostgreSQL as its store, the Slack simulator), without its scheduler: 1,000 requests, each of one
PostgreSQL table, one MariaDB table and one Redis pattern, are stored approved under a lease
that keeps the app's provisioning worker off them; the lease is lifted for all of them in one
statement and the worker fired, and it grants them as it grants any approved request. Per
request: the time from its ``granting`` status to ``active`` (the figure), and from the release
to ``active`` (logged); the total is the release to the last ``active``.

The floor, measured in the same run before the app starts: the same 1,000 accounts given the
same objects by the bare statements of :mod:`bench.bare_grants`, one account after another over
one connection per server held for the whole run (what a script granting them all would do;
MariaDB without TLS, as the server has none). They are dropped again before the app grants them.

At the end every account is dropped by plain statements and each server is checked to hold none.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import psycopg
import pymysql
import redis
from psycopg import sql
from sqlalchemy import func, select, update

from app.bootstrap import build_application
from app.settings import Settings
from bench.bare_grants import MYSQL_PRIVILEGES, PASSWORD, PG_PRIVILEGES, REDIS_RULES
from bench.context import Context
from bench.figures import Distribution, ms
from bench.pgdb import temporary_pg_database
from bench.registry import benchmark
from bench.simcalls import BenchError
from bench.stats import median, percentile
from bench.targets import (
    LEVELS,
    MYSQL,
    MYSQL_ADMIN,
    MYSQL_HOST,
    MYSQL_PORT,
    MYSQL_TABLES,
    PG,
    PG_ADMIN,
    PG_HOST,
    PG_PORT,
    PG_TABLES,
    REDIS,
    REDIS_PATTERNS,
    REDIS_URL,
    Targets,
    real_targets,
)
from domain.clock import SystemClock
from domain.ids import RequestId, UserId, account_name, new_request_id
from domain.lifecycle import AccessRequest, Status
from domain.objects import AccessObject
from domain.policy import Policy
from slacksim import Channel, Simulator, User, Workspace
from store.models import GrantRow, RequestRow, StatusChangeRow
from store.repositories.requests import RequestColumns, RequesterSnapshot
from store.unit_of_work import Store

REQUESTER: Final = UserId("U0MASSGRANT")
APPROVER: Final = UserId("U0MASSAPPROVER")
AUDIT_CHANNEL: Final = "C0AUDIT"
HOLD: Final = "bench-hold"
"""The lease owner that keeps the seeded requests from the app until they are released."""
TIMEOUT: Final = 900.0
"""Far beyond what 1,000 grants take here: a stuck worker fails the benchmark, not hangs it."""
POLL_SECONDS: Final = 0.1


@dataclass(frozen=True, slots=True)
class Request:
    id: RequestId
    objects: tuple[AccessObject, AccessObject, AccessObject]

    @property
    def account(self) -> str:
        return account_name(self.id)


def _requests(targets: Targets, count: int) -> list[Request]:
    """One PostgreSQL table, one MariaDB table and one Redis pattern each, levels in turn."""
    ids: set[RequestId] = set()
    while len(ids) < count:
        ids.add(new_request_id())
    return [
        Request(
            id=request_id,
            objects=(
                AccessObject(PG, f"bulk.t{i % PG_TABLES:03d}", LEVELS[i % 3]),
                AccessObject(
                    MYSQL, f"{targets.mysql_database}.t{i % MYSQL_TABLES:03d}", LEVELS[(i + 1) % 3]
                ),
                AccessObject(
                    REDIS, f"{targets.redis_prefix}bulk{i % REDIS_PATTERNS:03d}:*", LEVELS[i % 3]
                ),
            ),
        )
        for i, request_id in enumerate(sorted(ids))
    ]


def _policy(targets: Targets) -> Policy:
    return Policy.model_validate(
        {
            "integrations": targets.integrations(),
            "access_flows": [
                {
                    "name": "mass",
                    "grantees": {"users": [REQUESTER]},
                    "objects": [
                        {"integration": integration, "resource": "*", "permission": level}
                        for integration in (PG, MYSQL, REDIS)
                        for level in LEVELS
                    ],
                    "approvers": {"users": [APPROVER]},
                    "duration": {"default": "1h", "max": "1h"},
                }
            ],
        }
    )


def _workspace() -> Workspace:
    return Workspace(
        users=[
            User(id=REQUESTER, name="mass", real_name="Mass Requester", email="mass@example.com"),
            User(id=APPROVER, name="approver", real_name="Approver", email="appr@example.com"),
        ],
        channels=[Channel(id=AUDIT_CHANNEL, name="access-audit")],
    )


def _seed_held(store: Store, requests: Sequence[Request]) -> None:
    """Each request stored and approved as the app's approval stores it, under a lease the app
    does not own (so its worker leaves them until :func:`_release`)."""
    clock = SystemClock()
    hold = RequestColumns(lease_owner=HOLD, lease_until=clock.now() + timedelta(days=1))
    for start in range(0, len(requests), 100):
        with store.write() as uow:
            for r in requests[start : start + 100]:
                now = clock.now()
                request = AccessRequest(
                    id=r.id,
                    requester=REQUESTER,
                    flow="mass",
                    bundle=None,
                    duration=timedelta(hours=1),
                    justification="Benchmark: 1,000 requests at once",
                    status=Status.PENDING,
                    created_at=now,
                    last_actor=REQUESTER,
                    last_change_at=now,
                )
                uow.requests.add(
                    request=request,
                    requester=RequesterSnapshot(id=REQUESTER, name="Mass Requester", email=None),
                    objects=list(r.objects),
                )
                approved, change = request.approve(by=APPROVER, at=now)
                uow.requests.apply(change=change, request=approved, columns=hold)


def _release(store: Store) -> datetime:
    """Lift the hold from every seeded request in one statement; returns when it committed."""
    with store.engine.begin() as connection:
        connection.execute(
            update(RequestRow)
            .where(RequestRow.lease_owner == HOLD)
            .values(lease_owner=None, lease_until=None)
        )
    return datetime.now(UTC)


def _changes(store: Store, ids: Sequence[RequestId], status: Status) -> dict[RequestId, datetime]:
    with store.read() as uow:
        rows = uow.session.execute(
            select(StatusChangeRow.request_id, StatusChangeRow.at).where(
                StatusChangeRow.to_status == status.value, StatusChangeRow.request_id.in_(ids)
            )
        ).all()
    return {RequestId(r): _aware(at) for r, at in rows}


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def _settled(store: Store, ids: Sequence[RequestId]) -> dict[str, int]:
    with store.read() as uow:
        rows = uow.session.execute(
            select(RequestRow.status).where(RequestRow.id.in_(ids))
        ).scalars()
        counts: dict[str, int] = {}
        for status in rows:
            counts[str(status)] = counts.get(str(status), 0) + 1
    return counts


def _wait_until_active(store: Store, ids: Sequence[RequestId]) -> None:
    deadline = time.monotonic() + TIMEOUT
    while True:
        counts = _settled(store, ids)
        if counts.get(Status.ACTIVE.value, 0) == len(ids):
            return
        if counts.get(Status.FAILED.value, 0):
            raise BenchError(f"some requests failed to be granted: {counts}")
        if time.monotonic() >= deadline:
            raise BenchError(f"not all active within {TIMEOUT:g} s: {counts}")
        time.sleep(POLL_SECONDS)


def _all_granted(store: Store, ids: Sequence[RequestId]) -> None:
    """Three grants recorded ``granted`` for every request, in one query."""
    with store.read() as uow:
        rows = uow.session.execute(
            select(GrantRow.request_id, func.count())
            .where(GrantRow.request_id.in_(ids), GrantRow.status == "granted")
            .group_by(GrantRow.request_id)
        ).all()
    counts = {RequestId(r): int(n) for r, n in rows}
    wrong = [i for i in ids if counts.get(i) != 3]
    if wrong:
        raise BenchError(f"{len(wrong)} requests without three granted grants, e.g. {wrong[0]}")


# -- the floor and the servers, by plain statements ------------------------------------------------


@dataclass
class _Servers:
    """One admin connection per server, held for the whole floor run."""

    pg: psycopg.Connection[tuple[Any, ...]]
    mysql: pymysql.Connection[pymysql.cursors.Cursor]
    redis: redis.Redis


@contextmanager
def _servers(targets: Targets) -> Iterator[_Servers]:
    pg = psycopg.connect(
        host=PG_HOST, port=PG_PORT, user=PG_ADMIN, dbname=targets.pg_database, autocommit=True
    )
    mysql = pymysql.connect(
        host=MYSQL_HOST, port=MYSQL_PORT, user=MYSQL_ADMIN, autocommit=True, ssl_disabled=True
    )
    client = redis.Redis.from_url(REDIS_URL)
    try:
        yield _Servers(pg=pg, mysql=mysql, redis=client)
    finally:
        pg.close()
        mysql.close()
        client.close()


def _bare_grant(servers: _Servers, targets: Targets, request: Request) -> None:
    """:mod:`bench.bare_grants`' statements for one account and its three objects."""
    account = request.account
    pg_object, mysql_object, redis_object = request.objects
    role = sql.Identifier(account)
    until = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    with servers.pg.transaction():
        servers.pg.execute(
            sql.SQL("CREATE ROLE {} LOGIN PASSWORD {} VALID UNTIL {}").format(
                role, sql.Literal(PASSWORD), sql.Literal(until)
            )
        )
        servers.pg.execute(
            sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(
                sql.Identifier(targets.pg_database), role
            )
        )
        servers.pg.execute(sql.SQL("GRANT USAGE ON SCHEMA bulk TO {}").format(role))
        servers.pg.execute(
            sql.SQL("GRANT {} ON TABLE {} TO {}").format(
                sql.SQL(PG_PRIVILEGES[pg_object.permission]),
                sql.Identifier(*pg_object.resource.split(".")),
                role,
            )
        )
    with servers.mysql.cursor() as cursor:
        cursor.execute("CREATE USER %s@'%%' IDENTIFIED BY %s", (account, PASSWORD))
        database, table = mysql_object.resource.split(".")
        cursor.execute(
            f"GRANT {MYSQL_PRIVILEGES[mysql_object.permission]} ON `{database}`.`{table}`"
            " TO %s@'%%'",
            (account,),
        )
    servers.redis.execute_command(  # type: ignore[no-untyped-call]
        "ACL SETUSER",
        account,
        "reset",
        "on",
        f">{PASSWORD}",
        f"~{redis_object.resource}",
        *REDIS_RULES[redis_object.permission].split(),
    )


def _floor(targets: Targets, requests: Sequence[Request]) -> list[float]:
    """Seconds each account's bare grants take, one account after another."""
    samples: list[float] = []
    with _servers(targets) as servers:
        for request in requests:
            started = time.perf_counter()
            _bare_grant(servers, targets, request)
            samples.append(time.perf_counter() - started)
    return samples


def _drop_accounts(targets: Targets, accounts: Sequence[str]) -> None:
    """Every account gone from the three servers, by plain statements, sessions ended first."""
    with closing(
        psycopg.connect(
            host=PG_HOST, port=PG_PORT, user=PG_ADMIN, dbname=targets.pg_database, autocommit=True
        )
    ) as pg:
        pg.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = ANY(%s)",
            (list(accounts),),
        )
        existing = pg.execute(
            "SELECT rolname FROM pg_roles WHERE rolname = ANY(%s)", (list(accounts),)
        ).fetchall()
        for (account,) in existing:
            # Its privileges live in this database (and on it): DROP OWNED takes them back.
            with pg.transaction():
                pg.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(account)))
                pg.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(account)))
    with (
        closing(
            pymysql.connect(
                host=MYSQL_HOST,
                port=MYSQL_PORT,
                user=MYSQL_ADMIN,
                autocommit=True,
                ssl_disabled=True,
            )
        ) as mysql,
        mysql.cursor() as cursor,
    ):
        for start in range(0, len(accounts), 100):
            users = ", ".join(["%s@'%%'"] * len(accounts[start : start + 100]))
            cursor.execute(f"DROP USER IF EXISTS {users}", tuple(accounts[start : start + 100]))
    client = redis.Redis.from_url(REDIS_URL)
    try:
        for start in range(0, len(accounts), 500):
            client.acl_deluser(*accounts[start : start + 500])
    finally:
        client.close()


def _existing(accounts: Sequence[str]) -> dict[str, int]:
    """How many of ``accounts`` each server holds (and MariaDB sessions of them)."""
    names = list(accounts)
    with closing(
        psycopg.connect(host=PG_HOST, port=PG_PORT, user=PG_ADMIN, dbname="postgres")
    ) as pg:
        row = pg.execute(
            "SELECT COUNT(*) FROM pg_roles WHERE rolname = ANY(%s)", (names,)
        ).fetchone()
        pg_count = int(row[0]) if row else 0
    with (
        closing(
            pymysql.connect(host=MYSQL_HOST, port=MYSQL_PORT, user=MYSQL_ADMIN, ssl_disabled=True)
        ) as mysql,
        mysql.cursor() as cursor,
    ):
        cursor.execute("SELECT COUNT(*) FROM mysql.user WHERE User IN %s", (tuple(names),))
        my = cursor.fetchone()
    client = redis.Redis.from_url(REDIS_URL, decode_responses=True)
    try:
        users = set(client.acl_users())
    finally:
        client.close()
    return {
        "postgresql": pg_count,
        "mariadb": int(my[0]) if my else 0,
        "redis": sum(1 for a in names if a in users),
    }


# -- the benchmark ---------------------------------------------------------------------------------


@benchmark(name="grant.mass_1k_requests", unit="ms")
def grant_mass_1k_requests(ctx: Context) -> Distribution:
    """1,000 approved requests (a PostgreSQL, a MariaDB and a Redis object each) released at once
    → each granted by the app's worker (granting → active, per request)."""
    count = ctx.samples(full=1_000, quick=50)
    accounts: list[str] = []
    try:
        with real_targets() as targets:
            requests = _requests(targets, count)
            accounts = [r.account for r in requests]
            targets.accounts.extend(accounts)  # dropped with the targets, whatever happens
            floor = _floor(targets, requests)
            held = _existing(accounts)
            if held != {"postgresql": count, "mariadb": count, "redis": count}:
                ctx.log(f"[bench] WARNING: after the floor's grants the servers hold {held}")
            _drop_accounts(targets, accounts)
            service, latency, total = _granted_by_the_app(targets, requests)
            held = _existing(accounts)
            if held != {"postgresql": count, "mariadb": count, "redis": count}:
                # Every request is active with its three grants recorded (checked above); an
                # account missing now was removed by someone else (as above for the floor's):
                # another app whose reconciler runs on these shared servers takes every
                # temporary account its database does not know.
                ctx.log(f"[bench] WARNING: after the grants the servers hold {held} of {count}")
            _drop_accounts(targets, accounts)
    finally:
        left = _existing(accounts) if accounts else {}
    if any(left.values()):
        raise BenchError(f"accounts left on the servers after clean-up: {left}")
    ctx.log(
        f"[bench] grant.mass_1k_requests: {count} requests, total {total:.2f} s"
        f" ({count / total:.0f} requests/s); per request granting→active p50"
        f" {ms(median(service)):.1f} ms p99 {ms(percentile(service, q=99)):.1f} ms, release→active"
        f" p50 {median(latency):.2f} s p99 {percentile(latency, q=99):.2f} s; floor (bare"
        f" grants, same accounts) total {sum(floor):.2f} s, per account p50"
        f" {ms(median(floor)):.1f} ms p99 {ms(percentile(floor, q=99)):.1f} ms; ratio total"
        f" {total / sum(floor):.1f}×; nothing left on the servers"
    )
    return Distribution(samples=[ms(s) for s in service], floor=[ms(s) for s in floor])


def _granted_by_the_app(
    targets: Targets, requests: Sequence[Request]
) -> tuple[list[float], list[float], float]:
    """Per request: seconds granting → active and release → active; and the total.

    The app is built as ``python -m app`` builds it and started with its worker threads, but
    without its scheduler: the provisioning worker is fired once, after the release. Scheduled,
    the reconciler would also run, and remove every temporary account on these shared servers
    that this app's database does not know (other people's test accounts among them).
    """
    ids = [r.id for r in requests]
    with (
        temporary_pg_database(prefix=f"jit_bench_mass_{secrets.token_hex(2)}") as url,
        Simulator(workspace=_workspace()) as sim,
    ):
        settings = Settings(
            _env_file=None,
            slack_bot_token=sim.bot_token,
            slack_app_token=sim.app_token,
            slack_api_url=sim.api_url,
            database_url=url,
            audit_channel=AUDIT_CHANNEL,
        )
        app = build_application(settings=settings, policy=_policy(targets))
        try:
            app.prepare()
            _seed_held(app.store, requests)
            app.start(sweeps=False)
            released = _release(app.store)
            app.fire("provision")
            _wait_until_active(app.store, ids)
            _all_granted(app.store, ids)
            granting = _changes(app.store, ids, Status.GRANTING)
            active = _changes(app.store, ids, Status.ACTIVE)
        finally:
            app.stop(wait_for_socket=False)
    service = [(active[i] - granting[i]).total_seconds() for i in ids]
    latency = [(active[i] - released).total_seconds() for i in ids]
    return service, latency, max(latency)
