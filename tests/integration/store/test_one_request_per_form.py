"""One form makes at most one request, enforced by the database (SQLite and PostgreSQL), and a
request with no objects is never stored."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from domain.drafts import Mode
from domain.ids import RequestId, UserId, new_request_id
from domain.lifecycle import AccessRequest, Status
from domain.objects import AccessObject
from store.repositories.requests import AlreadySubmitted, EmptyRequest, RequesterSnapshot
from store.unit_of_work import Store

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
ALICE = RequesterSnapshot(id=UserId("U_ALICE"), name="Alice Doe", email="alice@example.com")
SUBMISSIONS = 8
OBJECTS = 40


def a_request() -> AccessRequest:
    return AccessRequest(
        id=new_request_id(),
        requester=ALICE.id,
        flow="developers",
        bundle=None,
        duration=timedelta(hours=1),
        justification="INC-42",
        status=Status.PENDING,
        created_at=T0,
    )


def a_draft(store: Store, objects: int) -> str:
    with store.write() as uow:
        draft = uow.drafts.create(user_id=ALICE.id, mode=Mode.INTEGRATIONS, at=T0)
        uow.drafts.add(
            draft.key,
            [AccessObject("prod-postgres", f"sales.t{i:03d}", "read_only") for i in range(objects)],
        )
    return draft.key


def submit_from(store: Store, draft_key: str) -> RequestId:
    """What a submission writes: the request copied from the draft, and the draft emptied."""
    request = a_request()
    with store.write() as uow:
        uow.requests.add(request=request, requester=ALICE, from_draft=draft_key)
        uow.drafts.remove(draft_key)
    return request.id


def test_concurrent_submissions_of_one_form_make_exactly_one_request_with_all_its_objects(
    store: Store,
) -> None:
    draft_key = a_draft(store, OBJECTS)
    start = threading.Barrier(SUBMISSIONS)
    made: list[RequestId] = []
    refused: list[AlreadySubmitted] = []
    other: list[BaseException] = []

    def submit() -> None:
        start.wait()
        try:
            made.append(submit_from(store, draft_key))
        except AlreadySubmitted as error:
            refused.append(error)
        except BaseException as error:  # reported by the assertion below
            other.append(error)

    threads = [threading.Thread(target=submit) for _ in range(SUBMISSIONS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert other == []
    assert len(made) == 1
    assert len(refused) == SUBMISSIONS - 1
    with store.read() as uow:
        assert uow.requests.count() == 1
        assert uow.requests.by_form(draft_key) == made[0]
        assert len(uow.requests.objects(made[0])) == OBJECTS
        summary = uow.requests.summary(made[0])
    assert summary is not None
    assert summary.object_count == OBJECTS


def test_a_form_submitted_again_later_is_refused_as_already_submitted(store: Store) -> None:
    draft_key = a_draft(store, 3)
    first = submit_from(store, draft_key)
    with pytest.raises(AlreadySubmitted):
        submit_from(store, draft_key)
    with store.read() as uow:
        assert uow.requests.count() == 1
        assert uow.requests.by_form(draft_key) == first


def test_a_request_with_no_objects_is_never_stored(store: Store) -> None:
    empty_draft = a_draft(store, 0)
    with pytest.raises(EmptyRequest):
        submit_from(store, empty_draft)
    with pytest.raises(EmptyRequest), store.write() as uow:
        uow.requests.add(request=a_request(), requester=ALICE, objects=[])
    with store.read() as uow:
        assert uow.requests.count() == 0
