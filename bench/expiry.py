"""Expiry benchmarks (issue 5): how late access ends, and 10,000 endings shared by two instances.

``expiry.lateness``: the app in a process of its own with its real triggers (APScheduler wakes
the sweeper every second and at start-up), requests falling due one after another over a
minute, each with a real Redis ACL user to revoke. Lateness is the time from a request's due
time to its ``expired`` status being visible in the database (committed), polled every
25 ms. Target: p99 under 5 s.

``expiry.mass_10k``: 10,000 active requests on PostgreSQL all falling due at the same moment,
two app instances sweeping; seconds from the due time until every one is ``expired``. Each
must end exactly once: one ``expired`` status change each, one revoke per account. The
integration is a counting one (:mod:`bench.ledger`, a Redis hash, no real account): the point
is the instances' coordination, not a target server. Its floor, measured in the same run on a
second database seeded alike: the same accounts counted in the same batches (one pipeline each)
and the set-wise SQL of those ends (the conditional UPDATE, the history, grant, audit and outbox
rows) as bare statements, one batch after another, in one process.
``expiry.mass_10k_one_instance``: the same with one instance.

The mass expiries run the instances as production runs them, their relay at Slack's pace (about
a message a second per channel, ``CHANNEL_RATE``): the ends' 20,000 messages then leave at the
rate of the batch's 51 channels while the sweep works, as they would against Slack. At the
benchmarks' usual unlimited pace the relay and the simulator would deliver all 20,000 in the same
seconds, a burst Slack answers with 429s, and on two cores that burst, not the ending, takes
half the CPU. ``expiry.mass_10k_unpaced`` (on demand) measures it so.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import redis
from sqlalchemy import func, insert, select, tuple_, update

from app.expiry.ending import BATCH
from app.integrations.base import GrantItem
from app.integrations.redis import RedisIntegration
from bench.appprocess import CHANNEL_RATE, app_process
from bench.context import Context
from bench.figures import Distribution, Single
from bench.instance import INSTANCES, LedgerSpec, app_instances
from bench.ledger import REVOKES, Ledger, temporary_ledger
from bench.pgdb import temporary_pg_database
from bench.registry import benchmark
from bench.report_seeding import bench_request_id
from bench.seeding import ActiveRequest, make_due, seed_active
from bench.simcalls import BenchError
from domain.audit import AuditKind
from domain.connections import RESOLVED, RedisConnection
from domain.ids import RequestId, account_name, new_request_id
from domain.lifecycle import Status
from domain.policy import Policy
from slacksim import Channel, Simulator, User, Workspace
from store.engine import make_engine
from store.migrate import upgrade
from store.models import AuditEventRow, GrantRow, OutboxRow, RequestRow, StatusChangeRow
from store.unit_of_work import Store

REDIS_URL: Final = "redis://127.0.0.1:6379/0"
AUDIT_CHANNEL: Final = "C0AUDIT"
REQUESTERS: Final = tuple(f"U0EXPIRY{i:02d}" for i in range(50))
INTEGRATION: Final = "cache"
POLL_SECONDS: Final = 0.025
LATENESS_TARGET_SECONDS: Final = 5.0
MASS_TIMEOUT: Final = 900.0
"""About 2.5× what 10,000 endings take on the reference machine: a stuck sweep fails, not hangs."""
START_MARGIN: Final = timedelta(seconds=2)
"""Time for the seeding to commit before the first request falls due."""


def workspace() -> Workspace:
    return Workspace(
        users=[
            User(id=u, name=u.lower(), real_name=f"Requester {u[-2:]}", email=f"{u.lower()}@ex.com")
            for u in REQUESTERS
        ],
        channels=[Channel(id=AUDIT_CHANNEL, name="access-audit")],
    )


def policy(*, resource: str) -> Policy:
    data: dict[str, Any] = {
        "integrations": [
            {"name": INTEGRATION, "type": "redis", "connection": {"url": REDIS_URL}},
        ],
        "bundles": [
            {
                "name": "cache",
                "objects": [
                    {"integration": INTEGRATION, "resource": resource, "permission": "read_only"}
                ],
            }
        ],
        "access_flows": [
            {
                "name": "expiry",
                "grantees": {"users": list(REQUESTERS)},
                "bundles": ["cache"],
                "approvers": "automatic",
                "duration": {"default": "10m", "max": "10m"},
            }
        ],
    }
    return Policy.model_validate(data)


def _expired_count(store: Store) -> int:
    with store.read() as uow:
        return uow.requests.count(statuses=[Status.EXPIRED])


def _observe_expiries(
    store: Store, *, expected: Sequence[RequestId], timeout: float
) -> dict[RequestId, datetime]:
    """When each request was first seen ``expired``: the start of the poll that saw it, so the
    figure is late by at most one poll interval."""
    wanted = set(expected)
    seen: dict[RequestId, datetime] = {}
    deadline = time.monotonic() + timeout
    while len(seen) < len(wanted):
        polled_at = datetime.now(UTC)
        if _expired_count(store) > len(seen):
            with store.read() as uow:
                page = uow.requests.page(number=0, size=len(wanted), statuses=[Status.EXPIRED])
            for row in page.rows:
                if row.id in wanted:
                    seen.setdefault(row.id, polled_at)
        if time.monotonic() >= deadline:
            raise BenchError(f"{len(seen)} of {len(wanted)} requests expired within {timeout} s")
        time.sleep(POLL_SECONDS)
    return seen


def _expired_once(store: Store, ids: Sequence[RequestId]) -> None:
    """Exactly one ``expired`` status change for every request, in one query."""
    with store.read() as uow:
        rows = uow.session.execute(
            select(StatusChangeRow.request_id, func.count())
            .where(StatusChangeRow.to_status == Status.EXPIRED.value)
            .group_by(StatusChangeRow.request_id)
        ).all()
    counts = {RequestId(r): int(n) for r, n in rows}
    wrong = {i: counts.get(i, 0) for i in ids if counts.get(i, 0) != 1}
    if wrong:
        sample = dict(list(wrong.items())[:5])
        raise BenchError(f"{len(wrong)} requests without exactly one expiry, e.g. {sample}")


def _distinct_ids(count: int) -> list[RequestId]:
    ids: set[RequestId] = set()
    while len(ids) < count:
        ids.add(new_request_id())
    return sorted(ids)


@benchmark(name="expiry.lateness", unit="s")
def expiry_lateness(ctx: Context) -> Distribution:
    """Due time → status `expired` committed, requests due over a minute, the app's own triggers."""
    count = ctx.samples(full=240, quick=20)
    spread = timedelta(seconds=ctx.samples(full=60, quick=5))
    prefix = f"jitbench:{secrets.token_hex(3)}:"
    redis_integration = RedisIntegration(
        name=INTEGRATION,
        connection=RedisConnection.model_validate({"url": REDIS_URL}, context={RESOLVED: True}),
    )
    ids = _distinct_ids(count)
    accounts = [account_name(i) for i in ids]
    with app_process(
        workspace=workspace(),
        policy=policy(resource=f"{prefix}*"),
        audit_channel=AUDIT_CHANNEL,
        sweeps=True,
    ) as subject:
        try:
            for i, request_id in enumerate(ids):
                # Real accounts, so that every expiry really revokes something.
                redis_integration.grant(
                    account=account_name(request_id),
                    items=[GrantItem(f"{prefix}{i}:*", "read_only")],
                    until=datetime.now(UTC) + timedelta(hours=1),
                )
            first = datetime.now(UTC) + START_MARGIN
            requests = [
                ActiveRequest(
                    id=request_id,
                    requester=REQUESTERS[i % len(REQUESTERS)],
                    expires_at=first + spread * i / count,
                    integration=INTEGRATION,
                    resource=f"{prefix}{i}:*",
                )
                for i, request_id in enumerate(ids)
            ]
            seed_active(subject.store, requests)
            timeout = (spread + START_MARGIN).total_seconds() + 30
            seen = _observe_expiries(subject.store, expected=ids, timeout=timeout)
            _expired_once(subject.store, ids)
            left = _existing_users(accounts)
            if left:
                raise BenchError(f"{len(left)} Redis users outlived their expiry, e.g. {left[0]}")
        finally:
            _delete_users(accounts)
    due = {r.id: r.expires_at for r in requests}
    lateness = [(seen[i] - due[i]).total_seconds() for i in ids]
    ctx.log(
        f"[bench] expiry.lateness: {count} requests over {spread.total_seconds():g} s, "
        f"latest {max(lateness):.2f} s (target p99 < {LATENESS_TARGET_SECONDS:g} s)"
    )
    return Distribution(samples=lateness)


def _existing_users(accounts: Sequence[str]) -> list[str]:
    client = redis.Redis.from_url(REDIS_URL, decode_responses=True)
    try:
        users = set(client.acl_users())
    finally:
        client.close()
    return [a for a in accounts if a in users]


def _delete_users(accounts: Sequence[str]) -> None:
    client = redis.Redis.from_url(REDIS_URL)
    try:
        for start in range(0, len(accounts), 500):
            client.acl_deluser(*accounts[start : start + 500])
    finally:
        client.close()


@benchmark(name="expiry.mass_10k", unit="s")
def expiry_mass_10k(ctx: Context) -> Single:
    """10,000 requests due at once on PostgreSQL, two instances → seconds until all are expired."""
    return _mass(ctx, instances=INSTANCES, name="expiry.mass_10k")


@benchmark(name="expiry.mass_10k_one_instance", unit="s")
def expiry_mass_10k_one_instance(ctx: Context) -> Single:
    """10,000 requests due at once on PostgreSQL, one instance → seconds until all are expired."""
    return _mass(ctx, instances=1, name="expiry.mass_10k_one_instance")


@benchmark(name="expiry.mass_10k_unpaced", unit="s", on_demand=True)
def expiry_mass_10k_unpaced(ctx: Context) -> Single:
    """expiry.mass_10k with the relay sending as fast as the simulator takes messages."""
    return _mass(ctx, instances=INSTANCES, name="expiry.mass_10k_unpaced", rate=CHANNEL_RATE)


def _mass_requests(ids: Sequence[RequestId], *, expires_at: datetime) -> list[ActiveRequest]:
    return [
        ActiveRequest(
            id=request_id,
            requester=REQUESTERS[i % len(REQUESTERS)],
            expires_at=expires_at,
            integration=INTEGRATION,
            resource=f"mass:{i}:*",
        )
        for i, request_id in enumerate(ids)
    ]


def _mass(ctx: Context, *, instances: int, name: str, rate: float | None = None) -> Single:
    """``rate``: the relay's messages per second per channel (``None``: Slack's pace)."""
    count = ctx.samples(full=10_000, quick=500)
    ids = [RequestId(bench_request_id(i)) for i in range(count)]
    floor = _mass_floor(ids)
    with (
        temporary_pg_database() as url,
        Simulator(workspace=workspace()) as sim,
        temporary_ledger(url=REDIS_URL) as ledger,
        app_instances(
            sim=sim,
            database_url=url,
            policy=policy(resource="mass:*"),
            count=instances,
            audit_channel=AUDIT_CHANNEL,
            ledger=LedgerSpec(url=ledger.url, key=ledger.key, real=False),
            channel_rate=rate,
        ),
    ):
        store = Store(engine=make_engine(url))
        try:
            later = datetime.now(UTC) + timedelta(days=1)
            seed_active(store, _mass_requests(ids, expires_at=later))
            due = datetime.now(UTC) + timedelta(seconds=1)
            make_due(store, ids, at=due)
            deadline = time.monotonic() + MASS_TIMEOUT
            while _expired_count(store) < count:
                if time.monotonic() >= deadline:
                    raise BenchError(
                        f"{_expired_count(store)} of {count} expired in {MASS_TIMEOUT:g} s"
                    )
                time.sleep(POLL_SECONDS)
            seconds = (datetime.now(UTC) - due).total_seconds()
            _expired_once(store, ids)
            revokes = ledger.counts(REVOKES)
            wrong = {a: n for a, n in revokes.items() if n != 1}
            missing = {account_name(i) for i in ids} - revokes.keys()
            if wrong or missing:
                raise BenchError(
                    f"revokes: {len(missing)} accounts never revoked, {len(wrong)} revoked more "
                    f"than once (e.g. {dict(list(wrong.items())[:3])})"
                )
        finally:
            store.dispose()
    ctx.log(
        f"[bench] {name}: {count / seconds:.0f} requests ended per second with {instances}"
        f" instance(s); floor {floor:.2f} s, ratio {seconds / floor:.1f}×"
    )
    return Single(value=seconds, n=count, floor=floor)


def _mass_floor(ids: Sequence[RequestId]) -> float:
    """Seconds the bare work of those ends takes: each batch's accounts counted in one
    pipeline, then its ends as set-wise statements without the app around them."""
    with temporary_pg_database() as url, temporary_ledger(url=REDIS_URL) as ledger:
        engine = make_engine(url)
        try:
            upgrade(engine)
            store = Store(engine=engine)
            seed_active(store, _mass_requests(ids, expires_at=datetime.now(UTC)))
            started = time.perf_counter()
            for start in range(0, len(ids), BATCH):
                _bare_batch(store, ledger, ids[start : start + BATCH])
            return time.perf_counter() - started
        finally:
            engine.dispose()


def _bare_batch(store: Store, ledger: Ledger, batch: Sequence[RequestId]) -> None:
    ledger.count_many(REVOKES, [account_name(i) for i in batch])
    now = datetime.now(UTC)
    with store.engine.begin() as connection:
        ended = list(
            connection.scalars(
                update(RequestRow)
                .where(RequestRow.id.in_(batch), RequestRow.status == Status.ACTIVE.value)
                .values(
                    status=Status.EXPIRED.value,
                    last_change_at=now,
                    ended_at=now,
                    lease_owner=None,
                    lease_until=None,
                )
                .returning(RequestRow.id)
            )
        )
        connection.execute(
            insert(StatusChangeRow),
            [
                {"request_id": i, "from_status": "active", "to_status": "expired", "at": now}
                for i in ended
            ],
        )
        connection.execute(
            update(GrantRow)
            .where(
                tuple_(GrantRow.request_id, GrantRow.integration).in_(
                    [(i, INTEGRATION) for i in ended]
                )
            )
            .values(status="revoked", revoked_at=now)
        )
        events = [
            (kind, i)
            for i in ended
            for kind in (AuditKind.ACCESS_REVOKED.value, AuditKind.REQUEST_STATUS.value)
        ]
        connection.execute(
            insert(AuditEventRow),
            [
                {
                    "at": now,
                    "kind": kind,
                    "request_id": i,
                    "data": {"request": i},
                    "prev_hash": "0" * 64,
                    "hash": "0" * 64,
                }
                for kind, i in events
            ],
        )
        connection.execute(
            insert(OutboxRow),
            [
                {
                    "created_at": now,
                    "ordering_key": f"{i}:{channel}",
                    "channel": channel,
                    "kind": "post",
                    "payload": {"text": f"{i} expired"},
                    "status": "pending",
                    "attempts": 0,
                    "next_attempt_at": now,
                }
                for i in ended
                for channel in (REQUESTERS[0], AUDIT_CHANNEL)
            ],
        )
