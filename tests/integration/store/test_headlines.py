"""A person's own requests read along the two indexes give the same pages as the plain filter."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from domain.ids import UserId, new_request_id
from domain.lifecycle import AccessRequest, Status
from domain.objects import AccessObject
from store.repositories.requests import RequesterSnapshot
from store.unit_of_work import Store

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
ALICE = RequesterSnapshot(id=UserId("U_ALICE"), name="Alice Doe", email="alice@example.com")
BOB = RequesterSnapshot(id=UserId("U_BOB"), name="Bob Roe", email="bob@example.com")
CAROL = RequesterSnapshot(id=UserId("U_CAROL"), name="Carol Poe", email="carol@example.com")


def _submit(
    store: Store, *, by: RequesterSnapshot, at: datetime, grantee: RequesterSnapshot | None = None
) -> None:
    request = AccessRequest(
        id=new_request_id(),
        requester=by.id,
        flow="developers",
        bundle="prod-incident",
        duration=timedelta(hours=1),
        justification="",
        status=Status.PENDING,
        created_at=at,
        grantee=grantee.id if grantee else None,
    )
    objects = [
        AccessObject("pg", "sales.orders", "read_only"),
        AccessObject("redis", "k:*", "read"),
    ]
    with store.write() as uow:
        uow.requests.add(request=request, requester=by, grantee=grantee, objects=objects)


def test_my_requests_and_those_made_for_me_page_exactly_as_the_plain_filter_does(
    store: Store,
) -> None:
    for i in range(37):
        # Equal times too, so the tie on the ID decides the order.
        at = T0 + timedelta(minutes=i // 2)
        by, grantee = [(ALICE, None), (BOB, ALICE), (BOB, None), (ALICE, CAROL), (CAROL, BOB)][
            i % 5
        ]
        _submit(store, by=by, at=at, grantee=grantee)
    with store.read() as uow:
        for user in (ALICE.id, BOB.id, CAROL.id, UserId("U_NOBODY")):
            for number in range(5):
                plain = uow.requests.page(number=number, size=7, involving=user)
                indexed = uow.requests.involving_page(user=user, number=number, size=7)
                assert indexed == plain, (user, number)
        assert uow.requests.involving_page(user=ALICE.id, number=0, size=7).total == 23
