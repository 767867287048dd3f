"""A quorum under racing clicks, on PostgreSQL with threads (README, "Approval steps"): three
approvers of a step that needs two click at once, 100 times; each time exactly one approval
decides the request, exactly two are counted, and nothing is counted twice."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event

from app.approval.decisions import DecisionService
from app.core.approvers import ApproverResolver
from app.core.catalog import CatalogService
from app.core.notifier import Notifier
from app.core.outcomes import AlreadyDecided, Done, NotAllowed, Outcome
from app.core.sealing import Sealer
from app.core.still_eligible import StillEligible
from app.core.transitions import Transitions
from domain.clock import ManualClock
from domain.ids import RequestId, UserId, new_request_id
from domain.lifecycle import AccessRequest, Status
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
from store.repositories.requests import AskedApprover, RequesterSnapshot
from store.unit_of_work import Store
from tests.fakes import MemoryDirectory

pytestmark = pytest.mark.integration

ROUNDS = 100
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
ALICE = Person(id=UserId("U0ALICE"), name="Alice", email="alice@example.com")
APPROVERS = [Person(id=UserId(f"U0APPR{i}"), name=f"Approver {i}") for i in range(3)]
ORDERS = AccessObject("prod-db", "sales.orders", "read_only")
FLOW = AccessFlow(
    name="two-of-three",
    grantees=Grantees(users=[ALICE.id]),
    bundles=["db-read"],
    approvers=Approvers(users=[p.id for p in APPROVERS], quorum=2),
    duration=DurationPolicy(default=timedelta(hours=1), max=timedelta(hours=1)),
)
POLICY = Policy(
    integrations=[
        IntegrationSpec(
            name="prod-db",
            type="webhook",
            connection={"url": "https://prod-db.example.invalid/jit", "secret": "${JIT_SECRET}"},
            permissions=["read_only"],
        )
    ],
    bundles=[
        BundleSpec(
            name="db-read",
            objects=[
                ObjectSpec(
                    integration=ORDERS.integration,
                    resource=ORDERS.resource,
                    permission=ORDERS.permission,
                )
            ],
        )
    ],
    access_flows=[FLOW],
)


def decisions_service(store: Store) -> DecisionService:
    clock = ManualClock(start=T0)
    directory = MemoryDirectory()
    for person in (ALICE, *APPROVERS):
        directory.add(person)
    catalog = CatalogService(store=store, clock=clock)
    catalog.sync_policy(POLICY)
    notifier = Notifier(audit_channel="C0AUDIT", sealer=Sealer.derived_from(secret="xapp-race"))
    transitions = Transitions(notifier=notifier)
    return DecisionService(
        store=store,
        catalog=catalog,
        approvers=ApproverResolver(directory=directory, policy=POLICY),
        directory=directory,
        notifier=notifier,
        transitions=transitions,
        still_eligible=StillEligible(
            store=store,
            catalog=catalog,
            directory=directory,
            transitions=transitions,
            clock=clock,
        ),
        clock=clock,
    )


def pending_request(store: Store) -> RequestId:
    """What a submission of ``two-of-three`` writes: the request, its approvers, its step."""
    request = AccessRequest(
        id=new_request_id(),
        requester=ALICE.id,
        flow=FLOW.name,
        bundle="db-read",
        duration=timedelta(hours=1),
        justification="INC-42",
        status=Status.PENDING,
        created_at=T0,
    )
    with store.write() as uow:
        uow.requests.add(
            request=request,
            requester=RequesterSnapshot(id=ALICE.id, name=ALICE.name, email=ALICE.email),
            objects=[ORDERS],
            bundle_version=None,
        )
        uow.requests.add_approvers(
            request_id=request.id,
            approvers=[
                AskedApprover(id=p.id, name=p.name, email=None, reasons=("listed",))
                for p in APPROVERS
            ],
            at=T0,
        )
        uow.requests.add_steps(request_id=request.id, quorums=["2"], first_needed=2, at=T0)
    return request.id


def race(
    service: DecisionService, request_id: RequestId, *, clickers: list[UserId]
) -> tuple[list[Outcome], list[BaseException]]:
    """Every clicker approves at the same moment, each on a thread of its own."""
    start = threading.Barrier(len(clickers))
    outcomes: list[Outcome] = []
    errors: list[BaseException] = []

    def click(clicker: UserId) -> None:
        start.wait()
        try:
            outcomes.append(
                service.decide(
                    request_id=request_id, flow_claim=None, clicker=clicker, approve=True
                )
            )
        except BaseException as error:  # reported by the caller's assertion
            errors.append(error)

    threads = [threading.Thread(target=click, args=(c,)) for c in clickers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes, errors


def kind(outcome: Outcome) -> str:
    if isinstance(outcome, Done):
        return "approved" if outcome.summary.status is Status.APPROVED else "counted"
    return "already" if isinstance(outcome, AlreadyDecided) else "refused"


def test_three_racing_approvals_of_a_two_approval_quorum_decide_once_100_times(
    pg_store: Store,
) -> None:
    service = decisions_service(pg_store)
    tally: Counter[tuple[str, ...]] = Counter()
    for round_ in range(ROUNDS):
        request_id = pending_request(pg_store)
        outcomes, errors = race(service, request_id, clickers=[p.id for p in APPROVERS])

        assert errors == [], round_
        kinds = tuple(sorted(kind(o) for o in outcomes))
        tally[kinds] += 1
        # Exactly one outcome: one approval decides, one more was counted, the third is told.
        assert kinds == ("already", "approved", "counted"), (round_, outcomes)
        with pg_store.read() as uow:
            history = [c.to_status for c in uow.requests.history(request_id)]
            counted = uow.requests.decisions(request_id)
            progress = uow.requests.progress(request_id)
        assert history == [Status.PENDING, Status.APPROVED], round_
        assert len(counted) == 2, round_
        assert progress is not None
        assert progress.steps[0].done
        assert progress.steps[0].count == 2
    assert tally == Counter({("already", "approved", "counted"): ROUNDS})


def test_one_approver_clicking_twice_at_once_is_counted_once(pg_store: Store) -> None:
    service = decisions_service(pg_store)
    for round_ in range(20):
        request_id = pending_request(pg_store)
        outcomes, errors = race(service, request_id, clickers=[APPROVERS[0].id] * 2)

        assert errors == [], round_
        assert sorted(kind(o) for o in outcomes) == ["counted", "refused"], round_
        refused = next(o for o in outcomes if isinstance(o, NotAllowed))
        assert "already decided" in refused.reason
        with pg_store.read() as uow:
            assert len(uow.requests.decisions(request_id)) == 1
            assert uow.requests.get(request_id).status is Status.PENDING  # type: ignore[union-attr]


def test_a_click_that_lost_the_race_ends_its_transaction_without_a_rollback(
    pg_store: Store,
) -> None:
    """A ROLLBACK makes psycopg forget every statement it prepared on the connection, and in
    a busy workspace most requests have a second click that loses."""
    rolled_back: list[object] = []
    event.listen(pg_store.engine, "rollback", rolled_back.append)
    service = decisions_service(pg_store)
    for round_ in range(10):
        request_id = pending_request(pg_store)
        outcomes, errors = race(service, request_id, clickers=[p.id for p in APPROVERS])

        assert errors == [], round_
        assert sorted(kind(o) for o in outcomes) == ["already", "approved", "counted"], round_
    assert rolled_back == []
