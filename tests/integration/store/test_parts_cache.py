"""A request's summary parts are read from its objects once per process (they never change once
stored), and never shown for another request that later took the same ID."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, event

from domain.ids import RequestId, UserId, new_request_id
from domain.lifecycle import AccessRequest, Status
from domain.objects import AccessObject
from store.models import RequestRow, StatusChangeRow
from store.repositories.requests import RequesterSnapshot
from store.unit_of_work import Store

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
ALICE = RequesterSnapshot(id=UserId("U_ALICE"), name="Alice Doe", email="alice@example.com")


def a_request(request_id: RequestId, *, at: datetime = T0) -> AccessRequest:
    return AccessRequest(
        id=request_id,
        requester=ALICE.id,
        flow="developers",
        bundle=None,
        duration=timedelta(hours=2),
        justification="INC-42",
        status=Status.PENDING,
        created_at=at,
    )


def objects(integration: str, n: int) -> list[AccessObject]:
    return [AccessObject(integration, f"sales.t{i:04d}", "read_only") for i in range(n)]


@contextmanager
def object_queries(store: Store) -> Iterator[list[str]]:
    """The statements that read ``request_objects`` while the block runs."""
    seen: list[str] = []

    def count(_c: object, _cu: object, statement: str, *_args: object) -> None:
        if "request_objects" in statement and statement.lstrip().upper().startswith("SELECT"):
            seen.append(statement)

    event.listen(store.engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(store.engine, "before_cursor_execute", count)


def test_a_summary_read_again_does_not_query_the_requests_objects(store: Store) -> None:
    request_id = new_request_id()
    with store.write() as uow:
        uow.requests.add(request=a_request(request_id), requester=ALICE, objects=objects("db", 3))
    with object_queries(store) as seen:
        with store.read() as uow:
            first = uow.requests.summary(request_id)
        with store.read() as uow:
            again = uow.requests.summary(request_id)
        with store.write() as uow:
            written = uow.requests.summary(request_id)
    assert first is not None
    assert again is not None
    assert written is not None
    assert first.object_count == again.object_count == written.object_count == 3
    assert again.parts == first.parts == written.parts
    assert len(seen) == 3  # the first read only: counts, first resources, distinct resources


def test_parts_read_in_a_transaction_that_rolled_back_are_not_remembered(store: Store) -> None:
    request_id = new_request_id()

    def submit_then_fail() -> None:
        with store.write() as uow:
            uow.requests.add(
                request=a_request(request_id), requester=ALICE, objects=objects("db", 2)
            )
            assert uow.requests.summary(request_id) is not None
            raise RuntimeError("the submission failed after its summary was read")

    with pytest.raises(RuntimeError):
        submit_then_fail()
    with store.write() as uow:
        uow.requests.add(
            request=a_request(request_id), requester=ALICE, objects=objects("cache", 5)
        )
    with store.read() as uow:
        summary = uow.requests.summary(request_id)
    assert summary is not None
    assert [(p.integration, p.count) for p in summary.parts] == [("cache", 5)]


def test_a_request_whose_id_came_back_shows_its_own_objects(store: Store) -> None:
    request_id = new_request_id()
    with store.write() as uow:
        uow.requests.add(request=a_request(request_id), requester=ALICE, objects=objects("db", 2))
    with store.read() as uow:
        assert uow.requests.summary(request_id) is not None
    with store.write() as uow:  # deleted by hand, as the reconciler's tests do
        uow.session.execute(delete(StatusChangeRow).where(StatusChangeRow.request_id == request_id))
        uow.session.execute(delete(RequestRow).where(RequestRow.id == request_id))
    with store.write() as uow:
        uow.requests.add(
            request=a_request(request_id, at=T0 + timedelta(minutes=1)),
            requester=ALICE,
            objects=objects("cache", 4),
        )
    with store.read() as uow:
        summary = uow.requests.summary(request_id)
    assert summary is not None
    assert [(p.integration, p.count) for p in summary.parts] == [("cache", 4)]
