"""Decisions, removals and expiry lateness count only what a transaction commits (SQLite and
PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from app.core.notifier import Notifier
from app.core.sealing import Sealer
from app.core.transitions import Transitions
from app.operations.committed import count_committed
from app.operations.metrics import Metrics
from domain.audit import AuditEvent, AuditKind
from domain.ids import UserId
from domain.lifecycle import Status
from store.engine import make_engine
from store.migrate import upgrade
from store.unit_of_work import Store
from tests.unit.operations.conftest import active_request, sample

AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def decided(to: str) -> AuditEvent:
    return AuditEvent(
        kind=AuditKind.REQUEST_STATUS,
        at=AT,
        actor=UserId("U0BOB"),
        data={"from": "pending", "to": to, "reason": None},
    )


def removed(integration: str) -> AuditEvent:
    return AuditEvent(
        kind=AuditKind.RECONCILED, at=AT, data={"integration": integration, "account": "jit_x"}
    )


class Boom(Exception):
    pass


def test_a_committed_approval_and_denial_are_counted_by_outcome(
    store: Store, metrics: Metrics
) -> None:
    count_committed(store.engine, metrics=metrics)
    with store.write() as uow:
        uow.audit.append(decided("approved"))
        uow.audit.append(decided("denied"))
        uow.audit.append(AuditEvent(kind=AuditKind.DECISION_REFUSED, at=AT))
        # Not decisions: a grant starting, an end.
        uow.audit.append(
            AuditEvent(
                kind=AuditKind.REQUEST_STATUS, at=AT, data={"from": "approved", "to": "granting"}
            )
        )
    assert sample(metrics, "jit_decisions_total", outcome="approved") == 1
    assert sample(metrics, "jit_decisions_total", outcome="denied") == 1
    assert sample(metrics, "jit_decisions_total", outcome="refused") == 1


def test_an_approval_that_does_not_decide_the_request_counts_as_step_approved_not_approved(
    store: Store, metrics: Metrics
) -> None:
    count_committed(store.engine, metrics=metrics)
    with store.write() as uow:
        uow.audit.append(
            AuditEvent(
                kind=AuditKind.APPROVAL_RECORDED,
                at=AT,
                actor=UserId("U0BOB"),
                data={"step": 1, "steps": 2, "approvals": 1, "needed": 1, "reason": None},
            )
        )
    assert sample(metrics, "jit_decisions_total", outcome="step_approved") == 1
    assert sample(metrics, "jit_decisions_total", outcome="approved") == 0
    with store.write() as uow:
        uow.audit.append(decided("approved"))
    assert sample(metrics, "jit_decisions_total", outcome="approved") == 1
    assert sample(metrics, "jit_decisions_total", outcome="step_approved") == 1


def test_nothing_is_counted_before_the_commit_or_after_a_rollback(
    store: Store, metrics: Metrics
) -> None:
    count_committed(store.engine, metrics=metrics)

    def approve_then_fail() -> None:
        with store.write() as uow:
            uow.audit.append(decided("approved"))
            assert sample(metrics, "jit_decisions_total", outcome="approved") == 0
            raise Boom

    with pytest.raises(Boom):
        approve_then_fail()
    assert sample(metrics, "jit_decisions_total", outcome="approved") == 0
    # The connection goes back to the pool clean: the next commit counts only its own.
    with store.write() as uow:
        uow.audit.append(removed("prod-redis"))
    assert sample(metrics, "jit_decisions_total", outcome="approved") == 0
    assert sample(metrics, "jit_reconciler_removals_total", integration="prod-redis") == 1


def test_a_savepoint_rolled_back_takes_its_counts_with_it(store: Store, metrics: Metrics) -> None:
    count_committed(store.engine, metrics=metrics)
    with store.write() as uow:
        uow.audit.append(removed("a"))

        def remove_then_fail() -> None:
            with uow.savepoint():
                uow.audit.append(removed("b"))
                raise Boom

        with pytest.raises(Boom):
            remove_then_fail()
        with uow.savepoint():
            uow.audit.append(removed("c"))
    counts = {
        name: sample(metrics, "jit_reconciler_removals_total", integration=name) for name in "abc"
    }
    assert counts == {"a": 1, "b": 0, "c": 1}


def test_two_apps_in_one_process_count_only_their_own_commits(
    store: Store, metrics: Metrics, tmp_path: Path
) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'other.db'}")
    upgrade(engine)
    other_store, other = Store(engine=engine), Metrics()
    count_committed(store.engine, metrics=metrics)
    count_committed(other_store.engine, metrics=other)
    with store.write() as uow:
        uow.audit.append(decided("approved"))
    with other_store.write() as uow:
        uow.audit.append(decided("denied"))
    engine.dispose()
    assert sample(metrics, "jit_decisions_total", outcome="approved") == 1
    assert sample(metrics, "jit_decisions_total", outcome="denied") == 0
    assert sample(other, "jit_decisions_total", outcome="approved") == 0
    assert sample(other, "jit_decisions_total", outcome="denied") == 1


def test_an_expiry_observes_how_long_after_expires_at_the_end_was_recorded(
    store: Store, metrics: Metrics
) -> None:
    count_committed(store.engine, metrics=metrics)
    transitions = Transitions(
        notifier=Notifier(audit_channel=None, sealer=Sealer.derived_from(secret="test"))
    )
    request = active_request(store, expires_at=AT)
    assert request.expires_at == AT
    ended, change = request.expire(at=AT + timedelta(seconds=42))
    with store.write() as uow:
        transitions.record(uow, request=ended, change=change)
    assert sample(metrics, "jit_expiry_lateness_seconds_count") == 1
    assert sample(metrics, "jit_expiry_lateness_seconds_sum") == pytest.approx(42)
    assert sample(metrics, "jit_expiry_lateness_seconds_bucket", le="30.0") == 0
    assert sample(metrics, "jit_expiry_lateness_seconds_bucket", le="60.0") == 1


def test_a_revoke_is_not_an_expiry(store: Store, metrics: Metrics) -> None:
    count_committed(store.engine, metrics=metrics)
    transitions = Transitions(
        notifier=Notifier(audit_channel=None, sealer=Sealer.derived_from(secret="test"))
    )
    request = active_request(store, expires_at=AT)
    ended, change = request.revoke(by=UserId("U0ALICE"), at=AT - timedelta(minutes=5))
    with store.write() as uow:
        transitions.record(uow, request=ended, change=change)
    assert sample(metrics, "jit_expiry_lateness_seconds_count") == 0
    with store.read() as uow:
        assert uow.requests.get(request.id).status is Status.REVOKED  # type: ignore[union-attr]
