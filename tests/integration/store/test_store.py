"""The store on SQLite and on the real PostgreSQL: migrations, requests, CAS, audit, outbox."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, select, text, update

from domain.audit import AuditEvent, AuditKind
from domain.ids import RequestId, UserId, new_request_id
from domain.lifecycle import AccessRequest, Status
from domain.objects import AccessObject
from store.engine import make_engine
from store.migrate import current_revision, head_revision, upgrade
from store.models import AuditEventRow, Base, OutboxRow
from store.repositories.audit import verify_chain
from store.repositories.requests import ConcurrentChange, RequesterSnapshot
from store.schema_filters import include_name
from store.unit_of_work import Store

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
ALICE = RequesterSnapshot(id=UserId("U_ALICE"), name="Alice Doe", email="alice@example.com")


def a_request(request_id: RequestId | None = None) -> AccessRequest:
    return AccessRequest(
        id=request_id or new_request_id(),
        requester=ALICE.id,
        flow="developers",
        bundle="prod-incident",
        duration=timedelta(hours=2),
        justification="INC-42: orders stuck",
        status=Status.PENDING,
        created_at=T0,
    )


def objects(n: int) -> list[AccessObject]:
    return [AccessObject("prod-postgres", f"sales.t{i:04d}", "read_only") for i in range(n)]


def submit(store: Store, request: AccessRequest, n: int = 3) -> None:
    with store.write() as uow:
        uow.requests.add(request=request, requester=ALICE, objects=objects(n), bundle_version=1)


def test_migrations_build_an_empty_database_to_the_newest_revision(database_url: str) -> None:
    engine = make_engine(database_url)
    assert current_revision(engine) is None
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    tables = set(inspect(engine).get_table_names())
    assert {
        "requests",
        "request_objects",
        "grants",
        "status_changes",
        "audit_events",
        "outbox",
    } <= tables
    upgrade(engine)  # a second start-up finds nothing to do
    engine.dispose()


def test_the_migrations_match_the_models_exactly(store: Store) -> None:
    with store.engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "include_name": include_name}
        )
        differences = compare_metadata(context, Base.metadata)
    assert differences == []


def test_a_request_and_its_objects_come_back_as_they_were_stored(store: Store) -> None:
    request = a_request()
    submit(store, request, n=1000)
    with store.read() as uow:
        loaded = uow.requests.get(request.id)
        stored_objects = uow.requests.objects(request.id)
        history = uow.requests.history(request.id)
    assert loaded == request
    assert stored_objects == objects(1000)
    assert [(c.from_status, c.to_status) for c in history] == [(None, Status.PENDING)]


def test_data_is_kept_across_a_restart_of_the_app(database_url: str) -> None:
    engine = make_engine(database_url)
    upgrade(engine)
    request = a_request()
    submit(Store(engine=engine), request)
    engine.dispose()

    reopened = make_engine(database_url)
    upgrade(reopened)
    with Store(engine=reopened).read() as uow:
        assert uow.requests.get(request.id) == request
    reopened.dispose()


def test_a_status_change_is_applied_only_from_the_status_it_started_from(store: Store) -> None:
    request = a_request()
    submit(store, request)
    approved, approval = request.approve(by=UserId("U_BOB"), at=T0 + timedelta(minutes=1))
    denied, denial = request.deny(by=UserId("U_CAROL"), at=T0 + timedelta(minutes=1))
    with store.write() as uow:
        uow.requests.apply(change=approval, request=approved)
    with pytest.raises(ConcurrentChange), store.write() as uow:
        uow.requests.apply(change=denial, request=denied)
    with store.read() as uow:
        final = uow.requests.get(request.id)
        history = uow.requests.history(request.id)
    assert final is not None
    assert (final.status, final.decided_by) == (Status.APPROVED, "U_BOB")
    assert [c.to_status for c in history] == [Status.PENDING, Status.APPROVED]


def test_of_many_simultaneous_decisions_exactly_one_wins(store: Store) -> None:
    request = a_request()
    submit(store, request)
    winners: list[str] = []
    start = threading.Barrier(8)

    def decide(approver: str) -> None:
        start.wait()
        try:
            with store.write() as uow:
                current = uow.requests.get(request.id)
                assert current is not None
                updated, change = current.approve(by=UserId(approver), at=T0)
                uow.requests.apply(change=change, request=updated)
            winners.append(approver)
        except Exception:  # noqa: S110 - losing the race is the expected outcome here
            pass

    threads = [threading.Thread(target=decide, args=(f"U_{i}",)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with store.read() as uow:
        final = uow.requests.get(request.id)
        history = uow.requests.history(request.id)
    assert len(winners) == 1
    assert final is not None
    assert final.decided_by == winners[0]
    assert [c.to_status for c in history].count(Status.APPROVED) == 1


def test_the_audit_chain_verifies_and_names_an_edited_row(store: Store) -> None:
    with store.write() as uow:
        for i in range(5):
            uow.audit.append(
                AuditEvent(
                    kind=AuditKind.REQUEST_SUBMITTED, at=T0, actor=UserId("U1"), data={"n": i}
                )
            )
    with store.read() as uow:
        assert verify_chain(uow.audit.iter_all()) is None
        third = [e.id for e in uow.audit.iter_all()][2]
    with store.write() as uow:
        uow.session.execute(
            update(AuditEventRow).where(AuditEventRow.id == third).values(data={"n": 99})
        )
    with store.read() as uow:
        broken = verify_chain(uow.audit.iter_all())
    assert broken is not None
    assert broken.event_id == third


def test_outbox_messages_of_one_key_are_claimed_strictly_in_order(store: Store) -> None:
    with store.write() as uow:
        for i in range(3):
            uow.outbox.add(
                at=T0, ordering_key="AR-1:U1", channel="U1", kind="post", payload={"i": i}
            )
        uow.outbox.add(at=T0, ordering_key="AR-2:U2", channel="U2", kind="post", payload={"i": 9})
    lease = timedelta(seconds=30)
    seen: list[int] = []
    for _ in range(3):
        with store.write() as uow:
            claimed = uow.outbox.claim(owner="relay-1", now=T0, lease=lease, limit=10)
            for message in claimed:
                assert message.payload is not None
                if message.ordering_key == "AR-1:U1":
                    seen.append(message.payload["i"])
                uow.outbox.mark_sent(message_id=message.id, owner="relay-1", at=T0)
    assert seen == [0, 1, 2]
    with store.read() as uow:
        assert uow.outbox.pending_count() == 0


def test_a_transaction_sees_the_messages_it_queued_and_a_savepoint_undoes_its_own(
    store: Store,
) -> None:
    with store.write() as uow:
        uow.outbox.add(at=T0, ordering_key="k", channel="C1", kind="post", payload={"n": 1})
        # Read with the ORM, as a test or a report would: the queued row is written first.
        seen = uow.session.scalars(select(OutboxRow.payload)).all()
        assert seen == [{"n": 1}]

        def queue_then_fail() -> None:
            with uow.savepoint():
                uow.outbox.add(at=T0, ordering_key="k", channel="C1", kind="post", payload={"n": 2})
                raise RuntimeError("undo")

        with pytest.raises(RuntimeError):
            queue_then_fail()
        uow.outbox.add(at=T0, ordering_key="k", channel="C1", kind="post", payload={"n": 3})
    with store.read() as uow:
        kept = uow.session.scalars(select(OutboxRow.payload).order_by(OutboxRow.id)).all()
    assert kept == [{"n": 1}, {"n": 3}]


def test_a_claimed_message_is_not_claimed_again_until_its_lease_lapses(store: Store) -> None:
    with store.write() as uow:
        uow.outbox.add(at=T0, ordering_key="k", channel="C1", kind="post", payload={})
    lease = timedelta(seconds=30)
    with store.write() as uow:
        assert len(uow.outbox.claim(owner="a", now=T0, lease=lease, limit=5)) == 1
    with store.write() as uow:
        assert (
            uow.outbox.claim(owner="b", now=T0 + timedelta(seconds=10), lease=lease, limit=5) == []
        )
    with store.write() as uow:
        retaken = uow.outbox.claim(owner="b", now=T0 + timedelta(seconds=31), lease=lease, limit=5)
        assert [m.attempts for m in retaken] == [2]
        # The first relay's late report no longer counts: its lease is gone.
        assert uow.outbox.mark_sent(message_id=retaken[0].id, owner="a", at=T0) is False


def test_sqlite_runs_in_wal_mode_with_foreign_keys(sqlite_store: Store) -> None:
    with sqlite_store.engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert connection.execute(text("PRAGMA busy_timeout")).scalar() == 30000
