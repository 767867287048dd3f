"""The request lifecycle: every allowed transition works, every other one is refused clearly."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from domain.errors import DomainError
from domain.ids import RequestId, UserId
from domain.lifecycle import TRANSITIONS, AccessRequest, Status, StatusChange, TransitionError

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
REQUESTER = UserId("U_REQ")
APPROVER = UserId("U_APP")

Move = Callable[[AccessRequest], tuple[AccessRequest, StatusChange]]

MOVES: dict[Status, Move] = {
    Status.APPROVED: lambda r: r.approve(by=APPROVER, at=T0),
    Status.DENIED: lambda r: r.deny(by=APPROVER, at=T0, reason="not now"),
    Status.CANCELED: lambda r: r.cancel(by=REQUESTER, at=T0),
    Status.TIMED_OUT: lambda r: r.time_out(at=T0),
    Status.GRANTING: lambda r: r.start_granting(at=T0),
    Status.ACTIVE: lambda r: r.activate(at=T0),
    Status.FAILED: lambda r: r.fail(at=T0, reason="prod-redis unreachable"),
    Status.EXPIRED: lambda r: r.expire(at=T0 + timedelta(days=1)),
    Status.REVOKED: lambda r: r.revoke(by=APPROVER, at=T0),
}


def a_request(status: Status = Status.PENDING) -> AccessRequest:
    return AccessRequest(
        id=RequestId("AR-7K3Q9M"),
        requester=REQUESTER,
        flow="developers",
        bundle="prod-incident",
        duration=timedelta(hours=1),
        justification="INC-42",
        status=status,
        created_at=T0,
        expires_at=T0 + timedelta(hours=1) if status is Status.ACTIVE else None,
    )


ALL_PAIRS = [(source, target) for source in Status for target in MOVES]


@pytest.mark.parametrize(("source", "target"), ALL_PAIRS, ids=lambda s: s.value)
def test_a_transition_succeeds_exactly_when_the_lifecycle_allows_it(
    source: Status, target: Status
) -> None:
    request = a_request(source)
    if target in TRANSITIONS[source]:
        updated, change = MOVES[target](request)
        assert updated.status is target
        assert (change.from_status, change.to_status) == (source, target)
        assert change.request_id == request.id
    else:
        with pytest.raises(TransitionError) as refused:
            MOVES[target](request)
        assert refused.value.request.status is source
        assert refused.value.wanted is target


def test_the_allowed_transitions_are_those_of_the_design() -> None:
    allowed = {(s, t) for s, targets in TRANSITIONS.items() for t in targets}
    assert allowed == {
        (Status.PENDING, Status.APPROVED),
        (Status.PENDING, Status.DENIED),
        (Status.PENDING, Status.CANCELED),
        (Status.PENDING, Status.TIMED_OUT),
        (Status.PENDING, Status.FAILED),
        (Status.APPROVED, Status.GRANTING),
        (Status.APPROVED, Status.FAILED),
        (Status.GRANTING, Status.ACTIVE),
        (Status.GRANTING, Status.FAILED),
        (Status.ACTIVE, Status.EXPIRED),
        (Status.ACTIVE, Status.REVOKED),
    }


def test_terminal_statuses_are_exactly_those_without_a_way_out() -> None:
    assert {s for s in Status if s.terminal} == {
        Status.EXPIRED,
        Status.REVOKED,
        Status.DENIED,
        Status.CANCELED,
        Status.TIMED_OUT,
        Status.FAILED,
    }


def test_a_second_decision_is_refused_naming_who_decided_first() -> None:
    approved, _ = a_request().approve(by=APPROVER, at=T0)
    with pytest.raises(TransitionError, match=r"already approved by <@U_APP>"):
        approved.deny(by=UserId("U_OTHER"), at=T0)


def test_approval_records_the_decider_and_the_time() -> None:
    approved, change = a_request().approve(by=APPROVER, at=T0)
    assert (approved.decided_by, approved.decided_at) == (APPROVER, T0)
    assert change.actor == APPROVER


def test_an_automatic_approval_has_no_human_actor() -> None:
    approved, change = a_request().approve(by=None, at=T0)
    assert approved.decided_by is None
    assert change.actor is None


def test_a_denial_keeps_its_reason() -> None:
    denied, change = a_request().deny(by=APPROVER, at=T0, reason="use staging")
    assert denied.reason == change.reason == "use staging"


def test_the_system_can_deny_with_a_reason_and_no_decider() -> None:
    denied, change = a_request().deny(by=None, at=T0, reason="the flow was deactivated")
    assert denied.status is Status.DENIED
    assert (denied.decided_by, change.actor) == (None, None)
    assert denied.reason == change.reason == "the flow was deactivated"


def test_an_approved_request_can_fail_before_anything_is_granted() -> None:
    failed, change = a_request(Status.APPROVED).fail(at=T0, reason="no longer a grantee")
    assert failed.status is Status.FAILED
    assert (change.from_status, change.actor) == (Status.APPROVED, None)


def test_only_the_requester_can_cancel() -> None:
    with pytest.raises(DomainError, match="Only the requester"):
        a_request().cancel(by=APPROVER, at=T0)


def test_activation_starts_the_clock_for_the_requested_duration() -> None:
    granting = a_request(Status.GRANTING)
    active, _ = granting.activate(at=T0 + timedelta(minutes=3))
    assert active.expires_at == T0 + timedelta(hours=1, minutes=3)


def test_a_request_cannot_expire_before_it_is_due() -> None:
    active = replace(a_request(Status.ACTIVE), expires_at=T0 + timedelta(hours=1))
    with pytest.raises(DomainError, match="not due"):
        active.expire(at=T0 + timedelta(minutes=59))
    expired, change = active.expire(at=T0 + timedelta(hours=1))
    assert expired.status is Status.EXPIRED
    assert change.actor is None


def test_a_pending_request_explains_that_it_is_still_pending() -> None:
    with pytest.raises(TransitionError, match="still pending"):
        a_request().activate(at=T0)
