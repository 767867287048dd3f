"""Grant and revoke of a 1,000-object request across the three real servers (issue 5).

The subject is the app's own services, wired as ``app.bootstrap`` wires them:
``ProvisioningService.provision`` (all three integrations, then the request made active with
its audit events, status messages and sealed credentials, in one transaction) and
``EndingService.end`` after a revoke was asked for (all three revoked, then the request made
``revoked`` likewise). The app's database is a temporary SQLite file, the embedded default.
The floor is :mod:`bench.bare_grants` in the same run, interleaved. Target: within 2× the floor.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Final

import psycopg
import pymysql
import redis

from app.bootstrap import integrations_from
from app.core.catalog import CatalogService
from app.core.notifier import Notifier
from app.core.ports import NobodyDirectory
from app.core.removal_alerts import RemovalAlerts
from app.core.sealing import Sealer
from app.core.still_eligible import StillEligible
from app.core.transitions import Transitions
from app.expiry.ending import EndingService
from app.granting.provisioning import ProvisioningService
from app.integrations.base import Integration
from bench import bare_grants
from bench.context import Context
from bench.figures import Distribution
from bench.registry import benchmark
from bench.sampling import interleaved
from bench.simcalls import BenchError
from bench.sqlite import temporary_database
from bench.targets import PG_ADMIN, PG_HOST, PG_PORT, REDIS_URL, Targets, real_targets
from domain.clock import SystemClock
from domain.ids import RequestId, UserId, account_name, new_request_id
from domain.lifecycle import AccessRequest, Status
from domain.policy import Policy
from store.engine import make_engine
from store.migrate import upgrade
from store.repositories.grants import GrantStatus
from store.repositories.requests import RequesterSnapshot
from store.unit_of_work import Store

REQUESTER: Final = UserId("U0BULK")
APPROVER: Final = UserId("U0APPROVER")
AUDIT_CHANNEL: Final = "C0AUDIT"


@dataclass(frozen=True, slots=True)
class BundleWorld:
    targets: Targets
    store: Store
    provisioning: ProvisioningService
    ending: EndingService


def _bulk_flow(targets: Targets) -> dict[str, Any]:
    """The access flow the 1,000-object request was made under (checked again at grant)."""
    offered = sorted({(o.integration, o.permission) for o in targets.objects()})
    return {
        "name": "bulk",
        "grantees": {"users": [REQUESTER]},
        "objects": [
            {"integration": integration, "resource": "*", "permission": permission}
            for integration, permission in offered
        ],
        "approvers": {"users": [APPROVER]},
        "duration": {"default": "1h", "max": "1h"},
    }


@contextmanager
def bundle_world() -> Iterator[BundleWorld]:
    clock = SystemClock()
    with real_targets() as targets, temporary_database() as url:
        store = Store(engine=make_engine(url))
        try:
            upgrade(store.engine)
            policy = Policy.model_validate(
                {"integrations": targets.integrations(), "access_flows": [_bulk_flow(targets)]}
            )
            integrations: dict[str, Integration] = integrations_from(policy, env={})
            # As app.bootstrap.build_application wires them.
            notifier = Notifier(
                audit_channel=AUDIT_CHANNEL, sealer=Sealer.derived_from(secret="xapp-bench")
            )
            transitions = Transitions(notifier=notifier)
            alerts = RemovalAlerts(notifier=notifier, admins=list)
            catalog = CatalogService(store=store, clock=clock)
            catalog.sync_policy(policy)
            still_eligible = StillEligible(
                store=store,
                catalog=catalog,
                directory=NobodyDirectory(),
                transitions=transitions,
                clock=clock,
            )
            yield BundleWorld(
                targets=targets,
                store=store,
                provisioning=ProvisioningService(
                    store=store,
                    integrations=integrations,
                    notifier=notifier,
                    transitions=transitions,
                    alerts=alerts,
                    still_eligible=still_eligible,
                    clock=clock,
                ),
                ending=EndingService(
                    store=store,
                    integrations=integrations,
                    transitions=transitions,
                    alerts=alerts,
                    clock=clock,
                ),
            )
        finally:
            store.dispose()


def _world(ctx: Context, group: str) -> BundleWorld:
    return ctx.shared(key=f"{group}.bundle_world", factory=bundle_world)


def _approved(world: BundleWorld) -> RequestId:
    """A request of the 1,000 objects, approved and waiting for its grant."""
    now = SystemClock().now()
    request = AccessRequest(
        id=new_request_id(),
        requester=REQUESTER,
        flow="bulk",
        bundle=None,
        duration=timedelta(hours=1),
        justification="Benchmark: 1,000 objects",
        status=Status.PENDING,
        created_at=now,
        last_actor=REQUESTER,
        last_change_at=now,
    )
    with world.store.write() as uow:
        uow.requests.add(
            request=request,
            requester=RequesterSnapshot(id=REQUESTER, name="Bulk Requester", email=None),
            objects=world.targets.objects(),
        )
        approved, change = request.approve(by=APPROVER, at=now)
        uow.requests.apply(change=change, request=approved)
    world.targets.accounts.append(account_name(request.id))
    return request.id


def _grant(world: BundleWorld, request_id: RequestId) -> float:
    started = time.perf_counter()
    status = world.provisioning.provision(request_id)
    elapsed = time.perf_counter() - started
    if status is not Status.ACTIVE:
        raise BenchError(f"{request_id} ended {status} after provisioning, not active")
    return elapsed


def _revoke(world: BundleWorld, request_id: RequestId) -> float:
    """Revoke as a person would ask (the sweeper then ends it); the service's part, timed."""
    with world.store.write() as uow:
        if not uow.grants.ask_revoke(request_id=request_id, by=APPROVER, at=SystemClock().now()):
            raise BenchError(f"{request_id} is not active, it cannot be revoked")
    started = time.perf_counter()
    ended = world.ending.end(request_id)
    elapsed = time.perf_counter() - started
    if not ended:
        raise BenchError(f"{request_id} was not ended")
    return elapsed


def _exists(account: str) -> dict[str, bool]:
    """Whether ``account`` exists on each server (plain admin queries)."""
    with closing(
        psycopg.connect(host=PG_HOST, port=PG_PORT, user=PG_ADMIN, dbname="postgres")
    ) as conn:
        pg = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (account,)).fetchone()
    with (
        closing(pymysql.connect(host="127.0.0.1", port=3306, user="root")) as mysql,
        mysql.cursor() as cursor,
    ):
        cursor.execute("SELECT 1 FROM mysql.user WHERE User = %s", (account,))
        my = cursor.fetchone()
    client = redis.Redis.from_url(REDIS_URL)
    try:
        users = {u.decode() if isinstance(u, bytes) else str(u) for u in client.acl_users()}
    finally:
        client.close()
    return {"postgresql": pg is not None, "mariadb": my is not None, "redis": account in users}


def _checked_round(world: BundleWorld) -> None:
    """One grant and revoke through the services, checked on the servers and in the store."""
    request_id = _approved(world)
    account = account_name(request_id)
    _grant(world, request_id)
    if not all(_exists(account).values()):
        raise BenchError(f"after the grant, {account} exists only as {_exists(account)}")
    with world.store.read() as uow:
        grants = uow.grants.for_request(request_id)
    if sorted(g.status for g in grants) != [GrantStatus.GRANTED] * 3:
        raise BenchError(f"{request_id} recorded {grants}")
    _revoke(world, request_id)
    if any(_exists(account).values()):
        raise BenchError(f"after the revoke, {account} still exists: {_exists(account)}")
    with world.store.read() as uow:
        history = [c.to_status for c in uow.requests.history(request_id)]
    if history[-1] is not Status.REVOKED:
        raise BenchError(f"{request_id} went through {history}")


def _bare_accounts(world: BundleWorld) -> Iterator[str]:
    for i in itertools.count():
        account = f"bench_{world.targets.run}_{i}"
        world.targets.accounts.append(account)
        yield account


def _rounds(ctx: Context) -> tuple[int, int]:
    return ctx.samples(full=15, quick=3), ctx.samples(full=2, quick=1)


@benchmark(name="grant.bundle_1000", unit="s")
def grant_bundle_1000(ctx: Context) -> Distribution:
    """1,000 objects (400 PostgreSQL tables, 400 MariaDB tables, 200 Redis patterns) granted."""
    world = _world(ctx, "grant")
    _checked_round(world)
    accounts = _bare_accounts(world)
    items = world.targets.items()

    def subject() -> float:
        request_id = _approved(world)
        elapsed = _grant(world, request_id)
        _revoke(world, request_id)
        return elapsed

    def floor() -> float:
        account = next(accounts)
        started = time.perf_counter()
        bare_grants.grant(world.targets, account=account, items=items)
        elapsed = time.perf_counter() - started
        bare_grants.revoke(world.targets, account=account)
        return elapsed

    n, warmup = _rounds(ctx)
    return interleaved(subject=subject, floor=floor, n=n, warmup=warmup)


@benchmark(name="revoke.bundle_1000", unit="s")
def revoke_bundle_1000(ctx: Context) -> Distribution:
    """The same 1,000-object request revoked: every object on the three servers, together."""
    world = _world(ctx, "revoke")
    _checked_round(world)
    accounts = _bare_accounts(world)
    items = world.targets.items()

    def subject() -> float:
        request_id = _approved(world)
        _grant(world, request_id)
        return _revoke(world, request_id)

    def floor() -> float:
        account = next(accounts)
        bare_grants.grant(world.targets, account=account, items=items)
        started = time.perf_counter()
        bare_grants.revoke(world.targets, account=account)
        return time.perf_counter() - started

    n, warmup = _rounds(ctx)
    return interleaved(subject=subject, floor=floor, n=n, warmup=warmup)
