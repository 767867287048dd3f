"""The reconciler, on SQLite and PostgreSQL with in-memory integrations: which accounts it
removes, which it keeps, and what it tells (the real servers: tests/integration/integrations)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, select

from app.core.notifier import Notifier
from app.core.removal_alerts import RemovalAlerts
from app.core.sealing import Sealer
from app.integrations.base import GrantItem
from app.revocation.reconciler import Reconciler
from domain.audit import AuditKind
from domain.clock import ManualClock
from domain.ids import RequestId, UserId, account_name, new_request_id
from domain.lifecycle import AccessRequest, Status
from domain.objects import AccessObject
from store.models import OutboxRow, RequestRow
from store.repositories.grants import GrantStatus
from store.repositories.requests import RequesterSnapshot
from store.unit_of_work import Store
from tests.fakes import RecordingIntegration

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
AUDIT = "C0AUDIT"
ALICE = UserId("U0ALICE")
STEPS = {
    Status.PENDING: (),
    Status.GRANTING: ("approve", "start_granting"),
    Status.ACTIVE: ("approve", "start_granting", "activate"),
    Status.EXPIRED: ("approve", "start_granting", "activate", "expire"),
    Status.FAILED: ("approve", "start_granting", "fail"),
}


def request_in(
    store: Store, redis: RecordingIntegration, status: Status, grant: GrantStatus | None
) -> RequestId:
    """A request in ``status`` whose account exists in ``redis``, its grant row as ``grant``."""
    request_id = new_request_id()
    request = AccessRequest(
        id=request_id, requester=ALICE, flow="developers", bundle=None,
        duration=timedelta(hours=1), justification="test", status=Status.PENDING,
        created_at=NOW - timedelta(hours=2), last_actor=ALICE,
        last_change_at=NOW - timedelta(hours=2),
    )  # fmt: skip
    item = AccessObject("prod-redis", "orders:*", "read_only")
    redis.grant(
        account=account_name(request_id),
        items=[GrantItem(item.resource, item.permission)],
        until=NOW + timedelta(hours=1),
    )
    with store.write() as uow:
        uow.requests.add(
            request=request,
            requester=RequesterSnapshot(id=ALICE, name="Alice", email=None),
            objects=[item],
        )
        for step in STEPS[status]:
            kwargs: dict[str, Any] = {"at": NOW if step == "expire" else NOW - timedelta(hours=1)}
            if step == "approve":
                kwargs["by"] = UserId("U0BOB")
            if step == "fail":
                kwargs["reason"] = "test"
            request, change = getattr(request, step)(**kwargs)
            uow.requests.apply(change=change, request=request)
        if grant is not None:
            uow.grants.record(
                request_id=request_id, integration="prod-redis",
                account=account_name(request_id), status=grant, at=NOW - timedelta(hours=1),
            )  # fmt: skip
    return request_id


def reconciler(store: Store, redis: RecordingIntegration, **options: Any) -> Reconciler:
    notifier = Notifier(audit_channel=AUDIT, sealer=Sealer.derived_from(secret="xapp-test"))
    options.setdefault("clock", ManualClock(start=NOW))
    return Reconciler(
        store=store,
        integrations={"prod-redis": redis},
        notifier=notifier,
        alerts=RemovalAlerts(notifier=notifier, admins=list),
        **options,
    )


def delete_request(store: Store, request_id: RequestId) -> None:
    with store.write() as uow:
        uow.session.execute(delete(RequestRow).where(RequestRow.id == request_id))


def test_an_account_whose_request_row_was_deleted_is_removed_audited_and_announced(
    store: Store,
) -> None:
    redis = RecordingIntegration(name="prod-redis")
    request_id = request_in(store, redis, Status.ACTIVE, GrantStatus.GRANTED)
    delete_request(store, request_id)

    assert reconciler(store, redis).run() == 1

    assert account_name(request_id) not in redis.granted
    with store.read() as uow:
        [event] = uow.audit.kinds(kind=AuditKind.RECONCILED)
        notices = [
            row.payload
            for row in uow.session.scalars(select(OutboxRow).where(OutboxRow.channel == AUDIT))
            if account_name(request_id) in str(row.payload)
        ]
    assert event.data["why"] == f"its request {request_id} is not in the bot's database"
    assert event.data["account"] == account_name(request_id)
    assert len(notices) == 1


def test_accounts_of_requests_being_granted_or_active_are_kept(store: Store) -> None:
    redis = RecordingIntegration(name="prod-redis")
    granting = request_in(store, redis, Status.GRANTING, GrantStatus.UNCERTAIN)
    active = request_in(store, redis, Status.ACTIVE, GrantStatus.GRANTED)

    assert reconciler(store, redis).run() == 0

    assert {account_name(granting), account_name(active)} <= set(redis.granted)


def test_accounts_of_ended_requests_are_removed_and_their_grants_settled(store: Store) -> None:
    redis = RecordingIntegration(name="prod-redis")
    expired = request_in(store, redis, Status.EXPIRED, GrantStatus.GRANTED)
    failed = request_in(store, redis, Status.FAILED, GrantStatus.UNCERTAIN)
    never_recorded = request_in(store, redis, Status.PENDING, None)

    assert reconciler(store, redis).run() == 3

    assert not redis.granted
    with store.read() as uow:
        assert [g.status for g in uow.grants.for_request(expired)] == [GrantStatus.REVOKED]
        assert [g.status for g in uow.grants.for_request(failed)] == [GrantStatus.REVOKED]
        whys = sorted(e.data["why"] for e in uow.audit.kinds(kind=AuditKind.RECONCILED))
    assert whys == sorted(
        [
            f"its request {expired} has ended (expired)",
            f"its request {failed} has ended (failed)",
            f"its request {never_recorded} is pending, not granting or active",
        ]
    )


def test_an_active_request_without_a_grant_on_that_integration_loses_the_account_there(
    store: Store,
) -> None:
    redis = RecordingIntegration(name="prod-redis")
    request_id = request_in(store, redis, Status.ACTIVE, None)

    assert reconciler(store, redis).run() == 1
    assert account_name(request_id) not in redis.granted


def test_names_the_bot_never_gives_are_left_alone(store: Store) -> None:
    redis = RecordingIntegration(name="prod-redis")
    until = NOW + timedelta(hours=1)
    for account in ("jit_admin", "jit_t1a2b3c4d5e6", "app_rw", "jit_abcdel"):
        redis.grant(account=account, items=[GrantItem("orders:*", "read_only")], until=until)

    assert reconciler(store, redis).run() == 0
    assert sorted(redis.granted) == ["app_rw", "jit_abcdel", "jit_admin", "jit_t1a2b3c4d5e6"]


def test_a_leftover_that_cannot_be_removed_stays_for_the_next_pass(store: Store) -> None:
    redis = RecordingIntegration(name="prod-redis")
    request_id = request_in(store, redis, Status.EXPIRED, GrantStatus.GRANTED)
    redis.fail_revokes = 10**6
    rec = reconciler(store, redis, retry=lambda call, what: call())

    assert rec.run() == 0
    redis.fail_revokes = 0
    assert rec.run() == 1
    assert account_name(request_id) not in redis.granted


def test_instances_sharing_a_database_make_one_pass_per_interval(store: Store) -> None:
    redis = RecordingIntegration(name="prod-redis")
    clock = ManualClock(start=NOW)
    first, second = (
        reconciler(store, redis, clock=clock, every=timedelta(minutes=5)) for _ in range(2)
    )
    request_in(store, redis, Status.EXPIRED, GrantStatus.GRANTED)

    assert first.run() == 1
    request_in(store, redis, Status.EXPIRED, GrantStatus.GRANTED)
    assert second.run() == 0  # the other instance's pass was a moment ago
    clock.advance(timedelta(minutes=5))
    assert second.run() == 1
    with store.read() as uow:
        assert len(uow.audit.kinds(kind=AuditKind.RECONCILED)) == 2
