"""Approval steps and quorums (README, "Approval steps"): steps decided in order, a quorum of
distinct approvers per step, the owners of what is requested, and approvers' comments."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import delete

from app.admin.views import flow_line
from app.core.outcomes import AlreadyDecided, Done, NotAllowed
from blocks.admin.rows import flow_text
from blocks.home import details_modal
from blocks.request_notices import approvers_in_words
from domain.approval_steps import needed, possible
from domain.audit import AuditKind
from domain.catalog import FlowRecord, Source
from domain.ids import RequestId
from domain.lifecycle import Status
from domain.people import Person
from domain.policy import Approvers, Owners, Policy
from domain.reports import ReportSpec
from store.models import RequestStepRow
from store.repositories.requests import Decision
from tests.unit.features.world import (
    ALICE,
    AUDIT_CHANNEL,
    BOB,
    CAROL,
    DAVE,
    DB,
    ERIN,
    ONCALL_DB,
    POLICY,
    World,
)

MakeWorld = Callable[..., World]


def with_steps(*steps: Approvers, db_owners: Owners | None = None) -> Policy:
    """The world's policy, with ``oncall-db`` approved in ``steps`` and ``prod-db`` owned."""
    flow = ONCALL_DB.model_copy(update={"approvers": list(steps)})
    integrations = [
        i.model_copy(update={"owners": db_owners}) if i.name == DB else i
        for i in POLICY.integrations
    ]
    return POLICY.model_copy(
        update={
            "access_flows": [flow, *POLICY.access_flows[1:]],
            "integrations": integrations,
            "managers": {ALICE.id: BOB.id},
        }
    )


MANAGER_THEN_TWO_OWNERS = with_steps(
    Approvers(manager=True),
    Approvers(owners=True, quorum=2),
    db_owners=Owners(users=[CAROL.id, DAVE.id, ERIN.id]),
)


def asked(world: World, request_id: RequestId) -> list[str]:
    """Who got the one approval message (a post, not an update), in order."""
    return [
        m.channel
        for m in world.outbox()
        if m.kind == "post" and m.ref and m.ref.startswith(f"approval:{request_id}:")
    ]


def decide(world: World, request_id: RequestId, by: Person, **options: Any) -> object:
    return world.decisions.decide(
        request_id=request_id, flow_claim=None, clicker=by.id, **{"approve": True, **options}
    )


def decisions(world: World, request_id: RequestId) -> list[Decision]:
    with world.store.read() as uow:
        return uow.requests.decisions(request_id)


# -- the rules, pure ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("quorum", "pool", "wanted", "reachable"),
    [
        ("any", 3, 1, True),
        ("all", 3, 3, True),
        (2, 3, 2, True),
        (3, 2, 3, False),
        ("any", 0, 1, False),
        ("all", 0, 1, False),
    ],
)
def test_a_quorum_needs_one_everyone_or_its_number_of_the_people_asked(
    quorum: str | int, pool: int, wanted: int, reachable: bool
) -> None:
    assert needed(quorum, pool=pool) == wanted
    assert possible(quorum, pool=pool) is reachable


# -- steps in order -----------------------------------------------------------------------------


def test_the_second_step_is_asked_only_when_the_first_is_done_then_two_owners_approve(
    make_world: MakeWorld,
) -> None:
    world = make_world(policy=MANAGER_THEN_TWO_OWNERS)
    request_id = world.pending_request()
    assert asked(world, request_id) == [BOB.id]

    first = decide(world, request_id, BOB)
    assert isinstance(first, Done)
    assert first.summary.status is Status.PENDING
    assert asked(world, request_id) == [BOB.id, CAROL.id, DAVE.id, ERIN.id]

    second = decide(world, request_id, CAROL, reason="fine for INC-42")
    assert isinstance(second, Done)
    assert second.progress is not None
    assert (second.progress.current, second.progress.steps[1].count) == (1, 1)
    assert world.status(request_id) is Status.PENDING

    third = decide(world, request_id, DAVE)
    assert isinstance(third, Done)
    assert third.summary.status is Status.APPROVED
    assert world.provision_wakes.count == 1
    assert [(d.step, d.approver, d.reason) for d in decisions(world, request_id)] == [
        (0, BOB.id, None),
        (1, CAROL.id, "fine for INC-42"),
        (1, DAVE.id, None),
    ]
    recorded = world.events(AuditKind.APPROVAL_RECORDED)
    assert [(e.actor, e.data["step"], e.data["approvals"]) for e in recorded] == [
        (BOB.id, 1, 1),
        (CAROL.id, 2, 1),
    ]
    assert recorded[1].data["reason"] == "fine for INC-42"


def test_an_approver_of_a_later_step_cannot_decide_before_it_begins(
    make_world: MakeWorld,
) -> None:
    world = make_world(policy=MANAGER_THEN_TWO_OWNERS)
    request_id = world.pending_request()

    assert isinstance(decide(world, request_id, CAROL), NotAllowed)
    assert decisions(world, request_id) == []


def test_a_click_after_its_step_reached_the_quorum_changes_nothing(
    make_world: MakeWorld,
) -> None:
    policy = with_steps(
        Approvers(users=[BOB.id, DAVE.id]),
        Approvers(owners=True),
        db_owners=Owners(users=[CAROL.id]),
    )
    world = make_world(policy=policy)
    request_id = world.pending_request()
    decide(world, request_id, BOB)

    late = decide(world, request_id, DAVE)

    # DAVE, asked in step 1, is not an approver of step 2: he is told so, nothing is counted.
    assert isinstance(late, NotAllowed)
    assert [d.approver for d in decisions(world, request_id)] == [BOB.id]


def test_one_deny_in_the_second_step_ends_the_request(make_world: MakeWorld) -> None:
    world = make_world(policy=MANAGER_THEN_TWO_OWNERS)
    request_id = world.pending_request()
    decide(world, request_id, BOB)
    decide(world, request_id, CAROL)

    denied = decide(world, request_id, DAVE, approve=False, reason="not for prod")

    assert isinstance(denied, Done)
    assert world.status(request_id) is Status.DENIED
    assert isinstance(decide(world, request_id, ERIN), AlreadyDecided)
    [change] = [
        e
        for e in world.events(AuditKind.REQUEST_STATUS)
        if e.request_id == request_id and e.data["to"] == "denied"
    ]
    assert (change.data["step"], change.data["reason"]) == (2, "not for prod")


# -- who counts ---------------------------------------------------------------------------------


def test_a_requester_in_the_approver_group_never_counts_toward_the_quorum(
    make_world: MakeWorld,
) -> None:
    world = make_world(policy=with_steps(Approvers(groups=["@dba"], quorum=2)))
    world.directory.add(ALICE, groups=["@dba"])
    world.directory.add(DAVE, groups=["@dba"])
    request_id = world.pending_request()
    assert sorted(asked(world, request_id)) == sorted([CAROL.id, DAVE.id])

    assert isinstance(decide(world, request_id, ALICE), NotAllowed)
    decide(world, request_id, CAROL)
    assert world.status(request_id) is Status.PENDING
    decide(world, request_id, DAVE)
    assert world.status(request_id) is Status.APPROVED


def test_a_quorum_the_requester_would_have_to_meet_fails_the_request_at_once(
    make_world: MakeWorld,
) -> None:
    world = make_world(policy=with_steps(Approvers(users=[ALICE.id, BOB.id], quorum=2)))

    submitted = world.submit(world.bundle_form())

    assert submitted.status is Status.FAILED  # type: ignore[union-attr]


def test_the_same_person_listed_twice_counts_once_and_may_not_approve_twice(
    make_world: MakeWorld,
) -> None:
    world = make_world(policy=with_steps(Approvers(users=[CAROL.id], groups=["@dba"], quorum=2)))
    world.directory.add(DAVE, groups=["@dba"])
    request_id = world.pending_request()
    assert sorted(asked(world, request_id)) == sorted([CAROL.id, DAVE.id])

    decide(world, request_id, CAROL)
    again = decide(world, request_id, CAROL)

    assert isinstance(again, NotAllowed)
    assert "already decided" in again.reason
    assert world.status(request_id) is Status.PENDING
    assert [d.approver for d in decisions(world, request_id)] == [CAROL.id]


def test_someone_asked_in_an_earlier_step_is_not_asked_again(make_world: MakeWorld) -> None:
    policy = with_steps(
        Approvers(manager=True),
        Approvers(owners=True, quorum="all"),
        db_owners=Owners(users=[BOB.id, CAROL.id]),
    )
    world = make_world(policy=policy)
    request_id = world.pending_request()

    decide(world, request_id, BOB)

    assert asked(world, request_id) == [BOB.id, CAROL.id]
    decide(world, request_id, CAROL)
    assert world.status(request_id) is Status.APPROVED


def test_owners_of_the_bundle_and_of_its_integrations_are_asked_with_their_reasons(
    make_world: MakeWorld,
) -> None:
    policy = with_steps(Approvers(owners=True), db_owners=Owners(users=[CAROL.id]))
    bundles = [
        b.model_copy(update={"owners": Owners(users=[DAVE.id])}) if b.name == "db-read" else b
        for b in policy.bundles
    ]
    world = make_world(policy=policy.model_copy(update={"bundles": bundles}))
    request_id = world.pending_request()

    with world.store.read() as uow:
        reasons = {a.id: a.reasons for a in uow.requests.approvers(request_id)}
    assert reasons == {
        CAROL.id: ("you're an owner of integration prod-db",),
        DAVE.id: ("you're an owner of bundle db-read",),
    }


# -- messages -----------------------------------------------------------------------------------


def test_an_approval_that_does_not_decide_updates_every_copy_and_tells_requester_and_audit_once(
    make_world: MakeWorld,
) -> None:
    world = make_world(policy=with_steps(Approvers(users=[BOB.id, CAROL.id, DAVE.id], quorum=2)))
    request_id = world.pending_request()
    before = len(world.outbox())

    decide(world, request_id, BOB, reason="ok by me")

    new = world.outbox()[before:]
    assert sorted((m.channel, m.kind) for m in new) == sorted(
        [
            (BOB.id, "update"),
            (CAROL.id, "update"),
            (DAVE.id, "update"),
            (ALICE.id, "post"),
            (AUDIT_CHANNEL, "post"),
        ]
    )
    to_alice = next(m for m in new if m.channel == ALICE.id)
    assert "1 of 2 approved" in str(to_alice.payload)
    assert "ok by me" in str(to_alice.payload)
    bob_copy = next(m for m in new if m.channel == BOB.id)
    carol_copy = next(m for m in new if m.channel == CAROL.id)
    assert "request.approve" not in str(bob_copy.payload)  # he has decided
    assert "request.approve" in str(carol_copy.payload)
    assert f"1 of 2 approved: <@{BOB.id}>" in str(carol_copy.payload)


def test_reminders_go_only_to_approvers_of_the_current_step_who_have_not_decided(
    make_world: MakeWorld,
) -> None:
    world = make_world(policy=with_steps(Approvers(users=[BOB.id, CAROL.id, DAVE.id], quorum=2)))
    request_id = world.pending_request()
    decide(world, request_id, BOB)
    before = len(world.outbox())

    world.clock.advance(ONCALL_DB.remind_after)  # type: ignore[arg-type]
    world.pending.remind_due()

    reminded = [m.channel for m in world.outbox()[before:] if "Reminder" in str(m.payload)]
    assert sorted(reminded) == sorted([CAROL.id, DAVE.id])


def test_an_approver_comment_is_cut_to_its_limit(make_world: MakeWorld) -> None:
    world = make_world(policy=with_steps(Approvers(users=[BOB.id])))
    request_id = world.pending_request()

    decide(world, request_id, BOB, reason="x" * 2_000)

    [decision] = decisions(world, request_id)
    assert decision.reason == "x" * 500
    with world.store.read() as uow:
        summary = uow.requests.summary(request_id)
    assert summary is not None
    assert summary.reason == "x" * 500


# -- how steps read -----------------------------------------------------------------------------


def test_the_admin_flow_line_and_the_request_modal_show_each_step_with_its_quorum() -> None:
    flow = MANAGER_THEN_TWO_OWNERS.flow(ONCALL_DB.name)
    assert flow is not None
    record = FlowRecord(flow=flow, version=1, source=Source.FILE)

    assert "approvers 1. the manager → 2. 2 of: the owners" in flow_text(flow_line(record))
    assert approvers_in_words(flow) == "1. your manager → 2. 2 of: the owners"
    assert approvers_in_words(ONCALL_DB) == f"<@{BOB.id}>, @dba"


def test_home_details_show_each_step_and_the_approvers_comments(make_world: MakeWorld) -> None:
    world = make_world(policy=MANAGER_THEN_TWO_OWNERS)
    request_id = world.pending_request()
    decide(world, request_id, BOB, reason="go ahead")

    found = world.home.details(request_id=request_id, viewer=ALICE.id)
    assert found is not None
    view = details_modal(
        summary=found.summary,
        history=found.history,
        approvers=tuple(a.id for a in found.approvers),
        progress=found.progress,
    )

    shown = json.dumps(view)
    assert f"Step 1 of 2: 1 of 1 approved: <@{BOB.id}>" in shown
    assert "Step 2 of 2: 0 of 2 approved" in shown
    assert "go ahead" in shown


def test_the_report_lists_every_verdict_by_step(make_world: MakeWorld) -> None:
    world = make_world(policy=MANAGER_THEN_TWO_OWNERS)
    request_id = world.pending_request()
    decide(world, request_id, BOB)
    decide(world, request_id, CAROL, reason="ok")
    decide(world, request_id, DAVE, approve=False, reason="no")
    out = io.StringIO()

    world.reports.write_csv(spec=ReportSpec(), out=out)

    rows = [r for r in csv.DictReader(io.StringIO(out.getvalue())) if r["Request ID"] == request_id]
    assert len(rows) == 2  # one per integration, each with the whole story
    assert {r["Approval Steps"] for r in rows} == {
        "step 1: Bob approved; step 2: Carol approved (ok), Dave denied (no)"
    }


def test_a_request_made_before_steps_existed_is_one_step_of_quorum_any(world: World) -> None:
    request_id = world.pending_request()
    with world.store.write() as uow:
        uow.session.execute(delete(RequestStepRow).where(RequestStepRow.request_id == request_id))

    outcome = world.approve(request_id, by=CAROL)

    assert isinstance(outcome, Done)
    assert world.status(request_id) is Status.APPROVED


def test_a_later_step_asks_the_manager_recorded_at_submission_not_one_named_since(
    make_world: MakeWorld,
) -> None:
    policy = with_steps(Approvers(users=[DAVE.id]), Approvers(manager=True)).model_copy(
        update={"managers": {}, "manager_field": "Manager"}
    )
    world = make_world(policy=policy)
    world.directory.fields[(ALICE.id, "Manager")] = ERIN.id
    request_id = world.pending_request()
    [submitted] = world.events(AuditKind.REQUEST_SUBMITTED)
    assert submitted.data["manager"] == ERIN.id  # read when the request began, step 2's manager

    world.directory.fields[(ALICE.id, "Manager")] = CAROL.id  # changed while step 1 waits
    assert isinstance(decide(world, request_id, DAVE), Done)

    # Step 2 asks Erin, the manager recorded at submission; Carol, named since, is not asked
    # and her click is refused as a manager named after the request was sent.
    assert asked(world, request_id) == [DAVE.id, ERIN.id]
    refused = decide(world, request_id, CAROL)
    assert isinstance(refused, NotAllowed)
    assert world.events(AuditKind.DECISION_REFUSED)[-1].data["refused"] == (
        "manager named after the request was sent"
    )
    assert world.status(request_id) is Status.PENDING


# -- owners act on what they approved ---------------------------------------------------------


def test_an_approver_only_as_owner_may_revoke_the_access_they_approved(
    make_world: MakeWorld,
) -> None:
    world = make_world(policy=with_steps(Approvers(owners=True), db_owners=Owners(users=[DAVE.id])))
    request_id = world.pending_request()
    assert isinstance(decide(world, request_id, DAVE), Done)
    world.provisioning.run_due()
    assert world.status(request_id) is Status.ACTIVE

    assert world.revocation.may_revoke(request_id=request_id, by=DAVE.id)
    assert isinstance(
        world.revocation.revoke(request_id=request_id, flow_claim=None, by=DAVE.id), Done
    )
    world.ending.run_due()
    assert world.status(request_id) is Status.REVOKED


def test_an_owner_of_something_else_may_not_revoke(make_world: MakeWorld) -> None:
    # DAVE owns the bundle of another flow's objects only: the owners step of this request never
    # names him, so he is refused like anyone else.
    world = make_world(
        policy=with_steps(Approvers(owners=True), db_owners=Owners(users=[CAROL.id]))
    )
    request_id = world.pending_request()
    decide(world, request_id, CAROL)
    world.provisioning.run_due()

    assert not world.revocation.may_revoke(request_id=request_id, by=DAVE.id)
    assert isinstance(
        world.revocation.revoke(request_id=request_id, flow_claim=None, by=DAVE.id), NotAllowed
    )


# -- Home's "waiting for you" follows the steps ---------------------------------------------------


def test_home_waits_on_an_approver_only_while_their_step_is_open_and_they_have_not_decided(
    make_world: MakeWorld,
) -> None:
    world = make_world(policy=MANAGER_THEN_TWO_OWNERS)
    request_id = world.pending_request()

    def waiting_for(person: Person) -> list[RequestId]:
        home = world.home.home_for(user=person.id)
        assert home.waiting.total == len(home.waiting.rows)
        return [r.id for r in home.waiting.rows]

    assert waiting_for(BOB) == [request_id]  # the manager's step is open
    assert waiting_for(CAROL) == []  # the owners are not asked yet
    decide(world, request_id, BOB)
    assert waiting_for(BOB) == []  # his step has passed
    assert waiting_for(CAROL) == waiting_for(DAVE) == [request_id]
    decide(world, request_id, CAROL)
    assert waiting_for(CAROL) == []  # she approved; the step waits for one more owner
    assert waiting_for(DAVE) == [request_id]
