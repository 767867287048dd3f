"""The promise as a property, on the real PostgreSQL, MariaDB and Redis of this machine.

Hypothesis interleaves requests being granted, revoked and expiring with the bot crashing in
the middle of a grant or a revoke, restarting, and an operator deleting request rows. Whatever
the order, once every request has ended and one reconcile pass has run, no account of any of
them exists on any server, no password delivered still opens a session, and nothing an account
created survives it (a PostgreSQL role cannot be dropped while it owns anything).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import psycopg
import pymysql
import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from redis.backoff import NoBackoff
from redis.retry import Retry
from sqlalchemy import delete

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
from app.integrations.base import (
    AccessDetails,
    GrantItem,
    Integration,
    Resource,
    RevokeOutcome,
)
from app.revocation.reconciler import Reconciler
from demo.targets import Targets, demo_targets
from domain.clock import ManualClock, SystemClock
from domain.ids import RequestId, UserId, account_name, new_request_id, request_of_account
from domain.lifecycle import AccessRequest, Status
from domain.objects import AccessObject
from domain.policy import Policy
from store.engine import make_engine
from store.migrate import upgrade
from store.models import RequestRow
from store.repositories.requests import RequesterSnapshot
from store.unit_of_work import Store

pytestmark = pytest.mark.integration

LEASE = timedelta(seconds=5)
ALICE = UserId("U0ALICE")


def once(call: Callable[[], object], *, what: str) -> object:
    """No retries: each step of the test is one attempt, so the interleavings stay exact."""
    return call()


class Crash(BaseException):
    """The process dies here: not an Exception, so no service catches it."""


@dataclass
class Crashing:
    """A real integration that can be told to take the process down before or after a call."""

    inner: Integration
    crash: str | None = None
    """``grant:before``, ``grant:after``, ``revoke:before`` or ``revoke:after``, once."""
    delivered: dict[str, AccessDetails] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def type_name(self) -> str:
        return self.inner.type_name

    def permissions(self) -> Sequence[str]:
        return self.inner.permissions()

    def discover(self) -> list[Resource]:
        return self.inner.discover()

    def _maybe(self, when: str) -> None:
        if self.crash == when:
            self.crash = None
            raise Crash(when)

    def grant(self, *, account: str, items: Sequence[GrantItem], until: datetime) -> AccessDetails:
        self._maybe("grant:before")
        details = self.inner.grant(account=account, items=items, until=until)
        self.delivered[account] = details
        self._maybe("grant:after")
        return details

    def revoke(self, *, account: str) -> None:
        self._maybe("revoke:before")
        self.inner.revoke(account=account)
        self._maybe("revoke:after")

    def revoke_many(self, *, accounts: Sequence[str]) -> RevokeOutcome:
        self._maybe("revoke:before")
        outcome = self.inner.revoke_many(accounts=accounts)
        self._maybe("revoke:after")
        return outcome

    def extend(self, *, account: str, until: datetime) -> None:
        self.inner.extend(account=account, until=until)

    def accounts(self) -> list[str] | None:
        return self.inner.accounts()

    def preflight(self) -> list[str]:
        return self.inner.preflight()

    def safeguard_problem(self) -> str | None:
        return self.inner.safeguard_problem()

    def check(self) -> None:
        self.inner.check()


@pytest.fixture(scope="module")
def targets() -> Iterator[Targets]:
    with demo_targets() as found:
        if set(found.kinds.values()) != {"postgresql", "mysql", "redis"}:
            pytest.fail(f"the real servers must run on this machine: {found.notes}")
        yield found


@dataclass
class World:
    store: Store
    catalog: CatalogService
    clock: ManualClock
    integrations: dict[str, Crashing]
    objects: list[AccessObject]
    ids: list[RequestId] = field(default_factory=list)
    provisioning: ProvisioningService | None = None
    ending: EndingService | None = None
    reconciler: Reconciler | None = None

    def restart(self) -> None:
        """A new process: new lease owners; what the dead one held lapses one lease later."""
        notifier = Notifier(audit_channel="C0AUDIT", sealer=Sealer.derived_from(secret="xapp-t"))
        transitions = Transitions(notifier=notifier)
        alerts = RemovalAlerts(notifier=notifier, admins=list)
        still_eligible = StillEligible(
            store=self.store, catalog=self.catalog, directory=NobodyDirectory(),
            transitions=transitions, clock=self.clock,
        )  # fmt: skip
        self.provisioning = ProvisioningService(
            store=self.store, integrations=self.integrations, notifier=notifier,
            transitions=transitions, alerts=alerts, still_eligible=still_eligible,
            clock=self.clock, lease=LEASE, retry=once,
        )  # fmt: skip
        self.ending = EndingService(
            store=self.store, integrations=self.integrations, transitions=transitions,
            alerts=alerts, clock=self.clock, lease=LEASE, retry=once,
        )  # fmt: skip
        self.reconciler = Reconciler(
            store=self.store, integrations=self.integrations, notifier=notifier, alerts=alerts,
            clock=self.clock, retry=once, owner_of=self.owner_of,
        )  # fmt: skip

    def owner_of(self, account: str) -> RequestId | None:
        """Only this example's accounts: other tests' accounts on the same servers stay."""
        request_id = request_of_account(account)
        return request_id if request_id in self.ids else None

    def submit_approved(self, minutes: int) -> None:
        request_id = new_request_id()
        self.ids.append(request_id)
        now = self.clock.now()
        request = AccessRequest(
            id=request_id, requester=ALICE, flow="property", bundle=None,
            duration=timedelta(minutes=minutes), justification="property test",
            status=Status.PENDING, created_at=now, last_actor=ALICE, last_change_at=now,
        )  # fmt: skip
        with self.store.write() as uow:
            uow.requests.add(
                request=request,
                requester=RequesterSnapshot(id=ALICE, name="Alice", email=None),
                objects=self.objects,
            )
            approved, change = request.approve(by=UserId("U0BOB"), at=now)
            uow.requests.apply(change=change, request=approved)

    def step(self, operation: tuple[Any, ...]) -> None:
        assert self.provisioning is not None
        assert self.ending is not None
        assert self.reconciler is not None
        kind = operation[0]
        try:
            if kind == "submit":
                self.submit_approved(operation[1])
            elif kind == "provision":
                self.provisioning.run_due()
            elif kind == "end":
                self.ending.run_due()
            elif kind == "reconcile":
                self.reconciler.run()
            elif kind == "advance":
                self.clock.advance(timedelta(minutes=operation[1]))
            elif kind == "crash":
                name = sorted(self.integrations)[operation[2] % len(self.integrations)]
                self.integrations[name].crash = operation[1]
            elif kind == "revoke" and self.ids:
                with self.store.write() as uow:
                    uow.grants.ask_revoke(
                        request_id=self.ids[operation[1] % len(self.ids)], by=ALICE,
                        at=self.clock.now(),
                    )  # fmt: skip
            elif kind == "delete" and self.ids:
                with self.store.write() as uow:
                    uow.session.execute(
                        delete(RequestRow).where(
                            RequestRow.id == self.ids[operation[1] % len(self.ids)]
                        )
                    )
        except Crash:
            self.clock.advance(LEASE + timedelta(seconds=1))
            self.restart()


OPERATIONS = st.one_of(
    st.tuples(st.just("submit"), st.sampled_from([10, 60])),
    st.tuples(st.just("provision")),
    st.tuples(st.just("end")),
    st.tuples(st.just("reconcile")),
    st.tuples(st.just("advance"), st.sampled_from([1, 15, 90])),
    st.tuples(
        st.just("crash"),
        st.sampled_from(["grant:before", "grant:after", "revoke:before", "revoke:after"]),
        st.integers(0, 2),
    ),
    st.tuples(st.just("revoke"), st.integers(0, 10)),
    st.tuples(st.just("delete"), st.integers(0, 10)),
)


def logs_in(kind: str, details: AccessDetails) -> bool:
    fields = details.fields
    try:
        if kind == "postgresql":
            psycopg.connect(
                host=fields["host"], port=int(fields["port"]), dbname=fields["database"],
                user=fields["user"], password=fields["password"], connect_timeout=5,
            ).close()  # fmt: skip
        elif kind == "mysql":
            pymysql.connect(
                host=fields["host"], port=int(fields["port"]), user=fields["user"],
                password=fields["password"], connect_timeout=5,
            ).close()  # fmt: skip
        else:
            redis.Redis(
                host=fields["host"], port=int(fields["port"]), username=fields["user"],
                password=fields["password"], socket_timeout=5, retry=Retry(NoBackoff(), 0),
            ).ping()  # fmt: skip
    except (psycopg.Error, pymysql.Error, redis.RedisError):
        return False
    return True


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(operations=st.lists(OPERATIONS, min_size=4, max_size=18))
def test_no_account_outlives_its_request_whatever_happens_in_between(
    targets: Targets, tmp_path_factory: pytest.TempPathFactory, operations: list[tuple[Any, ...]]
) -> None:
    flow = {
        "name": "property",
        "grantees": {"users": [ALICE]},
        "objects": targets.objects,
        "approvers": "automatic",
        "duration": {"default": "1h", "max": "1h"},
    }
    policy = Policy.model_validate({"integrations": targets.integrations, "access_flows": [flow]})
    real = integrations_from(policy, env={})
    url = f"sqlite:///{tmp_path_factory.mktemp('property') / 'jit.db'}"
    store = Store(engine=make_engine(url))
    upgrade(store.engine)
    clock = ManualClock(start=SystemClock().now())
    catalog = CatalogService(store=store, clock=clock)
    catalog.sync_policy(policy)
    world = World(
        store=store,
        catalog=catalog,
        clock=clock,
        integrations={name: Crashing(inner=integration) for name, integration in real.items()},
        objects=[
            AccessObject(o["integration"], o["resource"], o["permission"]) for o in targets.objects
        ],
    )
    world.restart()
    try:
        world.step(("submit", 60))
        for operation in operations:
            world.step(operation)
        # From here on the bot stays up (a crash still armed would only restart it again).
        for integration in world.integrations.values():
            integration.crash = None
        # Whatever waits for its grant gets it (a crashed grant after its lease lapses), then
        # everything falls due, the sweeper catches up and one reconcile interval passes.
        for _ in range(2):
            world.step(("provision",))
            world.clock.advance(LEASE + timedelta(seconds=1))
        world.clock.advance(timedelta(hours=3))
        for _ in range(3):
            world.step(("end",))
            world.clock.advance(LEASE + timedelta(seconds=1))
        world.step(("reconcile",))

        accounts = {account_name(request_id) for request_id in world.ids}
        for name, integration in world.integrations.items():
            listed = set(integration.inner.accounts() or [])
            assert not listed & accounts, f"{name} still holds {sorted(listed & accounts)}"
            for account, details in integration.delivered.items():
                assert not logs_in(targets.kinds[name], details), f"{account} logs in to {name}"
        with store.read() as uow:
            left = {r.status for i in world.ids if (r := uow.requests.get(i)) is not None}
        assert all(status.terminal for status in left), left
    finally:
        store.dispose()
