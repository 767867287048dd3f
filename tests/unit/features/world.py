"""The services of every feature, wired as ``app/bootstrap.py`` wires them, on a throwaway
SQLite file, with in-memory fakes for Slack's directory and the integrations, a manual clock
and recorded wake-ups instead of worker triggers. No Slack simulator, no network, no sleeps.

A test builds a :class:`World`, tells a story with its helpers (which go through the same
service calls the listeners make) and asserts on outcomes, store state and the fakes.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from sqlalchemy import select

from app.approval.decisions import DecisionService
from app.approval.objects import ObjectListService
from app.approval.pending import PendingSweeper
from app.core.admins import Admins
from app.core.approvers import ApproverResolver
from app.core.catalog import CatalogService
from app.core.notifier import Notifier
from app.core.outcomes import Outcome
from app.core.removal_alerts import RemovalAlerts
from app.core.retry import with_retries
from app.core.sealing import Sealer
from app.core.still_eligible import StillEligible
from app.core.transitions import Transitions
from app.expiry.ending import EndingService
from app.granting.provisioning import ProvisioningService
from app.home.service import HomeService
from app.reports.csv import ReportService
from app.requesting.eligibility import EligibilityService
from app.requesting.modal import FormInput, RequestModalService
from app.requesting.submission import Refused, SubmissionService, Submitted
from app.revocation.reconciler import Reconciler
from app.revocation.revoke import RevocationService
from domain.audit import AuditEvent, AuditKind
from domain.clock import ManualClock
from domain.drafts import Mode
from domain.ids import RequestId, UserId
from domain.lifecycle import Status
from domain.objects import AccessObject
from domain.people import Person
from domain.policy import (
    AccessFlow,
    Approvers,
    BundleSpec,
    DurationPolicy,
    Grantees,
    IntegrationSpec,
    ObjectSpec,
    Policy,
)
from store.models import OutboxRow, RequestRow
from store.repositories.grants import Grant, GrantStatus
from store.repositories.outbox import OutboxMessage
from store.unit_of_work import Store
from tests.fakes import MemoryDirectory, RecordingIntegration

START: Final = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
AUDIT_CHANNEL: Final = "C0AUDIT"
LEASE: Final = timedelta(seconds=30)

ALICE: Final = Person(id=UserId("U0ALICE"), name="Alice", email="alice@example.com")
"""Requests; a grantee of every flow by name."""
BOB: Final = Person(id=UserId("U0BOB"), name="Bob", email="bob@example.com")
"""Approves ``oncall-db`` by name."""
CAROL: Final = Person(id=UserId("U0CAROL"), name="Carol", email="carol@example.com")
"""Approves ``oncall-db`` as a member of ``@dba``."""
DAVE: Final = Person(id=UserId("U0DAVE"), name="Dave", email="dave@example.com")
"""Nobody in particular (a grantee of ``oncall-db`` only when put in ``@oncall``)."""
ERIN: Final = Person(id=UserId("U0ERIN"), name="Erin", email="erin@example.com")
"""An admin."""

DB: Final = "prod-db"
CACHE: Final = "prod-cache"
ORDERS: Final = AccessObject(DB, "sales.orders", "read_only")
CUSTOMERS: Final = AccessObject(DB, "sales.customers", "read_only")
INVOICES: Final = AccessObject(DB, "sales.invoices", "read_only")
ORDER_KEYS: Final = AccessObject(CACHE, "orders:*", "read_only")
CART_KEYS: Final = AccessObject(CACHE, "carts:*", "read_only")


def object_specs(objects: Iterable[AccessObject]) -> list[ObjectSpec]:
    return [
        ObjectSpec(integration=o.integration, resource=o.resource, permission=o.permission)
        for o in objects
    ]


def _integration(name: str) -> IntegrationSpec:
    return IntegrationSpec(
        name=name,
        type="webhook",
        connection={"url": f"https://{name}.example.invalid/jit", "secret": "${JIT_SECRET}"},
        permissions=["read_only", "read_write"],
    )


ONCALL_DB: Final = AccessFlow(
    name="oncall-db",
    grantees=Grantees(users=[ALICE.id], groups=["@oncall"]),
    bundles=["db-read", "incident"],
    approvers=Approvers(users=[BOB.id], groups=["@dba"]),
    duration=DurationPolicy(
        choices=[timedelta(hours=1), timedelta(hours=2), timedelta(hours=4)],
        default=timedelta(hours=1),
        max=timedelta(hours=4),
    ),
    justification="required",
    approval_timeout=timedelta(hours=2),
    remind_after=timedelta(minutes=15),
)
SELF_SERVE: Final = AccessFlow(
    name="self-serve",
    grantees=Grantees(users=[ALICE.id]),
    objects=object_specs([ORDER_KEYS, CART_KEYS]),
    approvers="automatic",
    duration=DurationPolicy(default=timedelta(minutes=30), max=timedelta(hours=1)),
)
LONELY: Final = AccessFlow(
    name="lonely",
    grantees=Grantees(users=[ALICE.id]),
    bundles=["cache-read"],
    approvers=Approvers(users=[ALICE.id]),
    duration=DurationPolicy(default=timedelta(hours=1), max=timedelta(hours=1)),
)
RETIRED: Final = AccessFlow(
    name="retired",
    active=False,
    grantees=Grantees(users=[ALICE.id]),
    bundles=["legacy"],
    approvers=Approvers(users=[BOB.id]),
    duration=DurationPolicy(default=timedelta(hours=1), max=timedelta(hours=1)),
)

POLICY: Final = Policy(
    admins=[ERIN.id],
    integrations=[_integration(DB), _integration(CACHE)],
    bundles=[
        BundleSpec(name="db-read", objects=object_specs([ORDERS, CUSTOMERS, ORDER_KEYS])),
        BundleSpec(
            name="incident",
            objects=object_specs([ORDERS, CUSTOMERS, INVOICES, ORDER_KEYS, CART_KEYS]),
        ),
        BundleSpec(name="cache-read", objects=object_specs([ORDER_KEYS])),
        BundleSpec(name="legacy", objects=object_specs([INVOICES])),
    ],
    access_flows=[ONCALL_DB, SELF_SERVE, LONELY, RETIRED],
)


@dataclass
class Wakes:
    """A worker trigger's ``fire``, counted instead of waking a thread."""

    count: int = 0

    def __call__(self) -> None:
        self.count += 1


@dataclass
class World:
    store: Store
    policy: Policy = POLICY
    clock: ManualClock = field(default_factory=lambda: ManualClock(start=START))
    directory: MemoryDirectory = field(default_factory=MemoryDirectory)
    integrations: dict[str, RecordingIntegration] = field(default_factory=dict)
    modal_limit: int = 1_000
    submission_limit: int = 1_000
    provision_wakes: Wakes = field(default_factory=Wakes)
    end_wakes: Wakes = field(default_factory=Wakes)
    sleeps: list[float] = field(default_factory=list)
    """What the retries would have slept (they never do here)."""

    def __post_init__(self) -> None:
        for person in (ALICE, BOB, DAVE, ERIN):
            self.directory.people.setdefault(person.id, person)
        self.directory.add(CAROL, groups=["@dba"])
        if not self.integrations:
            self.integrations = {
                DB: RecordingIntegration(name=DB),
                CACHE: RecordingIntegration(name=CACHE),
            }
        self.build()

    def build(self) -> None:
        """Every service, as ``app/bootstrap.py`` builds them (a new instance: new lease owners)."""
        store, clock, directory = self.store, self.clock, self.directory
        self.retry = functools.partial(with_retries, sleep=self.sleeps.append)
        retry = self.retry
        self.catalog = CatalogService(store=store, clock=clock)
        self.catalog.sync_policy(self.policy)
        self.eligibility = EligibilityService(catalog=self.catalog, directory=directory)
        self.approvers = ApproverResolver(directory=directory, policy=self.policy)
        self.notifier = Notifier(
            audit_channel=AUDIT_CHANNEL,
            sealer=Sealer.derived_from(secret="xapp-unit"),
            flow_channel=self.catalog.audit_channel,
        )
        self.transitions = Transitions(notifier=self.notifier)
        self.modal = RequestModalService(
            store=store,
            catalog=self.catalog,
            eligibility=self.eligibility,
            clock=clock,
            limit=self.modal_limit,
        )
        self.admins = Admins(entries=self.policy.admins, directory=directory)
        self.still_eligible = StillEligible(
            store=store,
            catalog=self.catalog,
            directory=directory,
            transitions=self.transitions,
            clock=clock,
        )
        self.alerts = RemovalAlerts(notifier=self.notifier, admins=self.admins.user_ids)
        self.provisioning = ProvisioningService(
            store=store,
            integrations=self.integrations,
            notifier=self.notifier,
            transitions=self.transitions,
            alerts=self.alerts,
            still_eligible=self.still_eligible,
            clock=clock,
            retry=retry,
            lease=LEASE,
        )
        self.ending = EndingService(
            store=store,
            integrations=self.integrations,
            transitions=self.transitions,
            alerts=self.alerts,
            clock=clock,
            retry=retry,
            lease=LEASE,
        )
        self.reconciler = Reconciler(
            store=store,
            integrations=self.integrations,
            notifier=self.notifier,
            alerts=self.alerts,
            clock=clock,
            retry=retry,
        )
        self.submission = SubmissionService(
            store=store,
            catalog=self.catalog,
            eligibility=self.eligibility,
            approvers=self.approvers,
            directory=directory,
            notifier=self.notifier,
            transitions=self.transitions,
            unavailable=self.modal.unavailable,
            on_approved=self.provision_wakes,
            clock=clock,
            limit=self.submission_limit,
        )
        self.decisions = DecisionService(
            store=store,
            catalog=self.catalog,
            approvers=self.approvers,
            directory=directory,
            notifier=self.notifier,
            transitions=self.transitions,
            still_eligible=self.still_eligible,
            clock=clock,
            on_approved=self.provision_wakes,
        )
        self.pending = PendingSweeper(
            store=store,
            catalog=self.catalog,
            notifier=self.notifier,
            transitions=self.transitions,
            clock=clock,
        )
        self.revocation = RevocationService(
            store=store,
            catalog=self.catalog,
            approvers=self.approvers,
            directory=directory,
            admins=self.admins,
            clock=clock,
            on_revoke=self.end_wakes,
        )
        self.objects = ObjectListService(store=store, admins=self.admins)
        self.home = HomeService(store=store, admins=self.admins)
        self.reports = ReportService(
            store=store,
            clock=clock,
            integration_types={i.name: i.type for i in self.policy.integrations},
        )

    # -- stories ----------------------------------------------------------------------------------

    def bundle_form(self, *, user: Person = ALICE, bundle: str = "db-read") -> str:
        """A request modal in Bundle Mode with the whole bundle selected; its draft key."""
        draft_key = self.modal.open(user=user.id, mode=Mode.BUNDLE).draft_key
        self.modal.pick_bundle(draft_key=draft_key, user=user.id, bundle=bundle, form=FormInput())
        self.modal.select_all(draft_key=draft_key, user=user.id, integration=None, form=FormInput())
        return draft_key

    def objects_form(self, objects: Sequence[AccessObject], *, user: Person = ALICE) -> str:
        """A request modal in Integrations Mode with ``objects`` added one by one."""
        draft_key = self.modal.open(user=user.id, mode=Mode.INTEGRATIONS).draft_key
        for obj in objects:
            self.modal.pick_integration(
                draft_key=draft_key, user=user.id, integration=obj.integration, form=FormInput()
            )
            self.modal.pick_resource(
                draft_key=draft_key, user=user.id, resource=obj.resource, form=FormInput()
            )
            self.modal.add_plain(
                draft_key=draft_key, user=user.id, form=FormInput(permission=obj.permission)
            )
        return draft_key

    def submit(
        self,
        draft_key: str,
        *,
        user: Person = ALICE,
        duration: str | None = "1h",
        justification: str | None = "incident 42",
    ) -> Submitted | Refused:
        return self.submission.submit(
            draft_key=draft_key,
            user=user.id,
            form=FormInput(duration=duration, justification=justification),
        )

    def pending_request(self, *, user: Person = ALICE, bundle: str = "db-read") -> RequestId:
        """A bundle request waiting for ``oncall-db``'s approvers."""
        submitted = self.submit(self.bundle_form(user=user, bundle=bundle), user=user)
        assert isinstance(submitted, Submitted), submitted
        assert submitted.status is Status.PENDING
        return submitted.request_id

    def approve(self, request_id: RequestId, *, by: Person = BOB) -> Outcome:
        return self.decisions.decide(
            request_id=request_id, flow_claim=None, clicker=by.id, approve=True
        )

    def approved_request(self, *, user: Person = ALICE, bundle: str = "db-read") -> RequestId:
        request_id = self.pending_request(user=user, bundle=bundle)
        self.approve(request_id)
        assert self.status(request_id) is Status.APPROVED
        return request_id

    def active_request(self, *, user: Person = ALICE, bundle: str = "db-read") -> RequestId:
        """Approved and granted in every integration: active for one hour from now."""
        request_id = self.approved_request(user=user, bundle=bundle)
        self.provisioning.run_due()
        assert self.status(request_id) is Status.ACTIVE
        return request_id

    # -- what the store says ----------------------------------------------------------------------

    def status(self, request_id: RequestId) -> Status:
        with self.store.read() as uow:
            request = uow.requests.get(request_id)
        assert request is not None
        return request.status

    def grants(self, request_id: RequestId) -> dict[str, GrantStatus]:
        return {g.integration: g.status for g in self.grant_rows(request_id)}

    def grant_rows(self, request_id: RequestId) -> list[Grant]:
        with self.store.read() as uow:
            return uow.grants.for_request(request_id)

    def audit(self, request_id: RequestId | None = None) -> list[AuditEvent]:
        with self.store.read() as uow:
            if request_id is not None:
                return uow.audit.for_request(request_id)
            return [e.event for e in uow.audit.iter_all()]

    def audit_kinds(self, request_id: RequestId) -> list[AuditKind]:
        return [e.kind for e in self.audit(request_id)]

    def events(self, kind: AuditKind) -> list[AuditEvent]:
        with self.store.read() as uow:
            return uow.audit.kinds(kind=kind)

    def outbox(self, *, channel: str | None = None) -> list[OutboxMessage]:
        """Every Slack call queued so far (oldest first), optionally to one channel."""
        query = select(OutboxRow).order_by(OutboxRow.id)
        if channel is not None:
            query = query.where(OutboxRow.channel == channel)
        with self.store.read() as uow:
            return [OutboxMessage.of(r) for r in uow.session.scalars(query)]

    def request_row(self, request_id: RequestId) -> dict[str, Any]:
        """The request's columns the services do not expose (leases, schedules)."""
        with self.store.read() as uow:
            row = uow.session.get(RequestRow, request_id)
            assert row is not None
            return {c.name: getattr(row, c.name) for c in RequestRow.__table__.columns}

    def request_count(self) -> int:
        with self.store.read() as uow:
            return uow.requests.count()

    def account_of(self, request_id: RequestId) -> str:
        rows = self.grant_rows(request_id)
        assert rows, f"{request_id} has no grants"
        return rows[0].account
