"""Approval (``app/approval/``): who may decide, the compare-and-swap on the status, cancels,
and the reminders and timeouts of requests left pending."""

from __future__ import annotations

from datetime import timedelta

from app.core.outcomes import AlreadyDecided, Done, NotAllowed, Outcome
from domain.audit import AuditKind
from domain.ids import RequestId, UserId
from domain.lifecycle import Status
from tests.unit.features.world import ALICE, BOB, CAROL, DAVE, World


def status_changes(world: World, request_id: RequestId) -> list[tuple[str, str]]:
    """``(from, to)`` of every status change recorded for the request."""
    return [
        (e.data["from"], e.data["to"])
        for e in world.audit(request_id)
        if e.kind is AuditKind.REQUEST_STATUS
    ]


def refusals(world: World, kind: AuditKind, request_id: RequestId) -> list[UserId | None]:
    return [e.actor for e in world.audit(request_id) if e.kind is kind]


# -- who decides ----------------------------------------------------------------------------------


def test_a_listed_approver_approves_and_granting_is_woken(world: World) -> None:
    request_id = world.pending_request()

    outcome = world.approve(request_id, by=BOB)

    assert isinstance(outcome, Done)
    assert outcome.summary.status is Status.APPROVED
    assert outcome.summary.decided_by == BOB.id
    assert world.status(request_id) is Status.APPROVED
    assert world.provision_wakes.count == 1
    updates = [m for m in world.outbox() if m.kind == "update" and m.ref]
    assert sorted(m.channel for m in updates) == [BOB.id, CAROL.id]


def test_a_member_of_an_approver_group_may_approve(world: World) -> None:
    request_id = world.pending_request()

    assert isinstance(world.approve(request_id, by=CAROL), Done)
    assert world.status(request_id) is Status.APPROVED


def test_the_requester_cannot_approve_their_own_request(world: World) -> None:
    world.directory.add(ALICE, groups=["@dba"])
    request_id = world.pending_request()

    outcome = world.approve(request_id, by=ALICE)

    assert isinstance(outcome, NotAllowed)
    assert world.status(request_id) is Status.PENDING
    assert refusals(world, AuditKind.DECISION_REFUSED, request_id) == [ALICE.id]
    assert world.provision_wakes.count == 0


def test_someone_who_is_not_an_approver_is_refused_and_audited(world: World) -> None:
    request_id = world.pending_request()

    outcome = world.decisions.decide(
        request_id=request_id, flow_claim=None, clicker=DAVE.id, approve=False
    )

    assert isinstance(outcome, NotAllowed)
    assert world.status(request_id) is Status.PENDING
    assert refusals(world, AuditKind.DECISION_REFUSED, request_id) == [DAVE.id]


def test_an_approver_who_left_the_approver_group_can_no_longer_decide(world: World) -> None:
    request_id = world.pending_request()
    world.directory.leave(CAROL.id, "@dba")

    assert isinstance(world.approve(request_id, by=CAROL), NotAllowed)
    assert world.status(request_id) is Status.PENDING


def test_a_button_naming_another_flow_is_refused(world: World) -> None:
    request_id = world.pending_request()

    outcome = world.decisions.decide(
        request_id=request_id, flow_claim="self-serve", clicker=BOB.id, approve=True
    )

    assert isinstance(outcome, NotAllowed)
    assert world.status(request_id) is Status.PENDING


def test_a_deny_records_who_and_why_and_wakes_nothing(world: World) -> None:
    request_id = world.pending_request()

    outcome = world.decisions.decide(
        request_id=request_id, flow_claim=None, clicker=BOB.id, approve=False, reason="not now"
    )

    assert isinstance(outcome, Done)
    assert outcome.summary.status is Status.DENIED
    assert outcome.summary.decided_by == BOB.id
    assert outcome.summary.reason == "not now"
    assert world.provision_wakes.count == 0


def test_approving_for_a_requester_who_left_the_grantee_group_denies_the_request(
    world: World,
) -> None:
    world.directory.add(DAVE, groups=["@oncall"])
    request_id = world.pending_request(user=DAVE)
    world.directory.leave(DAVE.id, "@oncall")

    outcome = world.approve(request_id, by=BOB)

    assert isinstance(outcome, NotAllowed)
    assert world.status(request_id) is Status.DENIED
    assert AuditKind.ELIGIBILITY_REFUSED in world.audit_kinds(request_id)
    assert world.provision_wakes.count == 0


# -- compare-and-swap -----------------------------------------------------------------------------


def test_of_two_decisions_one_after_the_other_the_second_is_told_it_was_already_decided(
    world: World,
) -> None:
    request_id = world.pending_request()

    first = world.approve(request_id, by=BOB)
    second = world.decisions.decide(
        request_id=request_id, flow_claim=None, clicker=CAROL.id, approve=False
    )

    assert isinstance(first, Done)
    assert isinstance(second, AlreadyDecided)
    assert second.summary.status is Status.APPROVED
    assert second.summary.decided_by == BOB.id
    assert status_changes(world, request_id) == [("pending", "approved")]


def test_of_two_racing_decisions_exactly_one_wins_and_the_other_gets_already_decided(
    world: World,
) -> None:
    """Carol's deny lands after Bob's click was checked and before Bob's change is written."""
    request_id = world.pending_request()
    carol: list[Outcome] = []

    def carol_denies(_: UserId) -> None:
        carol.append(
            world.decisions.decide(
                request_id=request_id, flow_claim=None, clicker=CAROL.id, approve=False
            )
        )

    world.directory.on_person = carol_denies
    bob = world.approve(request_id, by=BOB)

    assert carol, "the interleaving did not happen"
    outcomes = [bob, carol[0]]
    assert sum(isinstance(o, Done) for o in outcomes) == 1
    assert sum(isinstance(o, AlreadyDecided) for o in outcomes) == 1
    assert isinstance(bob, AlreadyDecided)
    assert bob.summary.status is Status.DENIED
    assert world.status(request_id) is Status.DENIED
    assert status_changes(world, request_id) == [("pending", "denied")]
    assert world.provision_wakes.count == 0


# -- cancel ---------------------------------------------------------------------------------------


def test_only_the_requester_may_cancel(world: World) -> None:
    request_id = world.pending_request()

    by_bob = world.decisions.cancel(request_id=request_id, flow_claim=None, clicker=BOB.id)
    by_alice = world.decisions.cancel(request_id=request_id, flow_claim=None, clicker=ALICE.id)

    assert isinstance(by_bob, NotAllowed)
    assert refusals(world, AuditKind.CANCEL_REFUSED, request_id) == [BOB.id]
    assert isinstance(by_alice, Done)
    assert world.status(request_id) is Status.CANCELED


def test_a_canceled_request_can_no_longer_be_approved(world: World) -> None:
    request_id = world.pending_request()
    world.decisions.cancel(request_id=request_id, flow_claim=None, clicker=ALICE.id)

    outcome = world.approve(request_id, by=BOB)

    assert isinstance(outcome, AlreadyDecided)
    assert outcome.summary.status is Status.CANCELED
    assert world.provision_wakes.count == 0


# -- reminders and timeouts -----------------------------------------------------------------------


def reminders_to(world: World, approver: UserId) -> int:
    """Messages posted to an approver that are not their approval message itself."""
    return sum(1 for m in world.outbox(channel=approver) if m.kind == "post" and m.ref is None)


def test_approvers_are_not_reminded_before_the_flows_reminder_time(world: World) -> None:
    world.pending_request()
    world.clock.advance(timedelta(minutes=14))

    assert world.pending.sweep() == (0, 0)
    assert reminders_to(world, BOB.id) == 0


def test_approvers_are_reminded_with_doubling_intervals(world: World) -> None:
    """Reminded after 15 minutes, then 30 and 60 minutes later (``remind_after`` doubling)."""
    world.pending_request()
    reminded_at: list[int] = []
    for minute in range(1, 120):
        world.clock.advance(timedelta(minutes=1))
        _, reminded = world.pending.sweep()
        reminded_at += [minute] * reminded

    assert reminded_at == [15, 45, 105]
    assert reminders_to(world, BOB.id) == 3
    assert reminders_to(world, CAROL.id) == 3


def test_a_request_left_pending_times_out_and_every_approvers_copy_is_updated(
    world: World,
) -> None:
    request_id = world.pending_request()
    world.clock.advance(timedelta(hours=2) - timedelta(seconds=1))
    assert world.pending.sweep()[0] == 0

    world.clock.advance(timedelta(seconds=1))

    assert world.pending.sweep()[0] == 1
    assert world.status(request_id) is Status.TIMED_OUT
    updates = [m.channel for m in world.outbox() if m.kind == "update"]
    assert sorted(updates) == [BOB.id, CAROL.id]
    world.clock.advance(timedelta(hours=1))
    assert world.pending.sweep() == (0, 0)


def test_a_decided_request_is_neither_reminded_nor_timed_out(world: World) -> None:
    request_id = world.pending_request()
    world.approve(request_id, by=BOB)

    world.clock.advance(timedelta(hours=3))

    assert world.pending.sweep() == (0, 0)
    assert world.status(request_id) is Status.APPROVED
    assert reminders_to(world, CAROL.id) == 0
