"""A request's summary parts are computed once, when it is stored, and read with its row
afterwards; a request stored before parts were kept has them computed from its objects."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from sqlalchemy import event, update

from domain.ids import RequestId, UserId, new_request_id
from domain.lifecycle import AccessRequest, Status
from domain.objects import AccessObject
from store.models import RequestRow
from store.repositories.requests import RequesterSnapshot
from store.unit_of_work import Store

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
ALICE = RequesterSnapshot(id=UserId("U_ALICE"), name="Alice Doe", email="alice@example.com")


def a_request(request_id: RequestId) -> AccessRequest:
    return AccessRequest(
        id=request_id,
        requester=ALICE.id,
        flow="developers",
        bundle=None,
        duration=timedelta(hours=2),
        justification="INC-42",
        status=Status.PENDING,
        created_at=T0,
    )


def objects() -> list[AccessObject]:
    tables = [AccessObject("db", f"sales.t{i:04d}", "read_only") for i in range(3)]
    return [
        *tables,
        AccessObject("db", "sales.t0000", "read_write"),
        AccessObject("cache", "k:*", "read_only"),
    ]


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


def stored(store: Store) -> RequestId:
    request_id = new_request_id()
    with store.write() as uow:
        uow.requests.add(request=a_request(request_id), requester=ALICE, objects=objects())
    return request_id


def test_a_stored_requests_summary_reads_none_of_its_objects(store: Store) -> None:
    request_id = stored(store)
    with object_queries(store) as seen, store.read() as uow:
        summary = uow.requests.summary(request_id)
        batch = uow.requests.summaries([request_id])
    assert summary is not None
    assert seen == []
    assert batch[request_id] == summary
    assert summary.object_count == 5
    assert [(p.integration, p.count, p.permissions, p.resources_in_all) for p in summary.parts] == [
        ("cache", 1, ("read_only",), 1),
        ("db", 4, ("read_only", "read_write"), 3),
    ]
    assert summary.parts[1].resources == ("sales.t0000", "sales.t0001", "sales.t0002")


def test_a_request_stored_before_parts_were_kept_is_summarised_from_its_objects(
    store: Store,
) -> None:
    request_id = stored(store)
    with store.read() as uow:
        expected = uow.requests.summary(request_id)
    with store.write() as uow:
        uow.session.execute(
            update(RequestRow).where(RequestRow.id == request_id).values(parts=None)
        )
    with object_queries(store) as seen, store.read() as uow:
        summary = uow.requests.summary(request_id)
    assert summary == expected
    assert len(seen) == 3  # counts, first resources, distinct resources


def test_the_summary_a_new_request_is_stored_with_is_the_one_read_back(store: Store) -> None:
    request_id = new_request_id()
    with store.write() as uow:
        made = uow.requests.add(request=a_request(request_id), requester=ALICE, objects=objects())
    with store.read() as uow:
        assert uow.requests.summary(request_id) == made
