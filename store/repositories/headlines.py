"""A person's own requests, a page at a time, read along the two indexes that find them.

``requester = :u OR grantee = :u`` makes SQLite (and often the others) scan the whole table to
count and to sort; each half on its own is a range of ``ix_requests_requester_created`` or
``ix_requests_grantee_created``, already in the page's order. So the total is two index counts,
and the page is the newest rows of each half merged. Only the columns a row shows are read.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    and_,
    bindparam,
    exists,
    func,
    select,
    union_all,
)
from sqlalchemy.orm import Session

from domain.break_glass import Trigger
from domain.ids import RequestId, UserId
from domain.lifecycle import Status
from domain.summary import Headline, Page
from store.models import ApprovalRow, DecisionRow, RequestObjectRow, RequestRow
from store.statements import Prepared

_COLUMNS = (
    RequestRow.id,
    RequestRow.requester_id,
    RequestRow.requester_name,
    RequestRow.flow,
    RequestRow.bundle,
    RequestRow.status,
    RequestRow.created_at,
    RequestRow.object_count,
    RequestRow.expires_at,
    RequestRow.ended_at,
    RequestRow.trigger,
    RequestRow.grantee_id,
)


_USER: BindParameter[Any] = bindparam("user")
_ORDER = (RequestRow.created_at.desc(), RequestRow.id.desc())
_OWN = RequestRow.requester_id == _USER
_FOR_ME = RequestRow.grantee_id == _USER
_FOR_ME_ONLY = (_FOR_ME, RequestRow.requester_id != _USER)
# Built once and run on the driver's cursor: a page is read on every Home click, and building
# and executing the statements through SQLAlchemy cost more than running them.
_COUNTS = Prepared(
    select(
        select(func.count()).where(_OWN).scalar_subquery(),
        select(func.count()).where(_FOR_ME).scalar_subquery(),
    )
)
_FOR_ME_COUNT = Prepared(select(func.count()).where(*_FOR_ME_ONLY))
_OWN_PAGE = Prepared(
    select(*_COLUMNS)
    .where(_OWN)
    .order_by(*_ORDER)
    .limit(bindparam("size"))
    .offset(bindparam("skip"))
)
_HALVES = [
    select(*_COLUMNS).where(*where).order_by(*_ORDER).limit(bindparam("reach")).subquery()
    for where in [(_OWN,), _FOR_ME_ONLY]
]
_MERGED = union_all(*(select(half) for half in _HALVES)).subquery()
_BOTH_PAGE = Prepared(
    select(_MERGED)
    .order_by(_MERGED.c.created_at.desc(), _MERGED.c.id.desc())
    .limit(bindparam("size"))
    .offset(bindparam("skip"))
)
_INTEGRATIONS = Prepared(
    select(RequestObjectRow.request_id, RequestObjectRow.integration)
    .where(RequestObjectRow.request_id.in_(bindparam("ids", expanding=True)))
    .distinct()
)


def waiting_on(user: Any) -> ColumnElement[bool]:
    """Pending requests whose current step asked ``user``, who has not decided in it yet: an
    approver of a step that has passed, or who already approved, has nothing left to do."""
    asked_now = exists().where(
        ApprovalRow.request_id == RequestRow.id,
        ApprovalRow.approver_id == user,
        ApprovalRow.step == RequestRow.current_step,
    )
    decided = exists().where(
        DecisionRow.request_id == RequestRow.id,
        DecisionRow.step == RequestRow.current_step,
        DecisionRow.approver_id == user,
    )
    # The plain IN drives the query from the approver's own rows (an index), so the two
    # correlated checks run for a handful of requests, not for every pending one.
    asked = RequestRow.id.in_(select(ApprovalRow.request_id).where(ApprovalRow.approver_id == user))
    return and_(asked, RequestRow.status == Status.PENDING.value, asked_now, ~decided)


_WAITING_COUNT = Prepared(select(func.count()).select_from(RequestRow).where(waiting_on(_USER)))


def waiting_count(session: Session, *, user: UserId) -> int:
    """How many of ``page(waiting_for=user)``'s rows there are: pending, ``user`` asked."""
    return int(_WAITING_COUNT.scalar(session, {"user": user}) or 0)


def involving_page(session: Session, *, user: UserId, number: int, size: int) -> Page:
    """Newest first: the requests ``user`` made and those made for them by a teammate."""
    counts = _COUNTS.first(session, {"user": user})
    mine, made_for_me = counts if counts is not None else (0, 0)
    if made_for_me:
        # The app never makes one their own teammate, but what is stored decides: such a row
        # is left out of this half. Counted only here: the grantee index alone counts without
        # reading the table, and SQLite's statistics of a mostly empty column send this count
        # to a full scan.
        made_for_me = _FOR_ME_COUNT.scalar(session, {"user": user})
    total = int(mine or 0) + int(made_for_me or 0)
    if total <= number * size:
        return Page(rows=(), number=number, size=size, total=total)
    skip = number * size
    if made_for_me:
        # Each half needs no more than the rows up to the end of the page asked for.
        rows = _BOTH_PAGE.all(
            session, {"user": user, "reach": skip + size, "size": size, "skip": skip}
        )
    else:
        rows = _OWN_PAGE.all(session, {"user": user, "size": size, "skip": skip})
    return Page(rows=headlines_of(session, rows), number=number, size=size, total=total)


def headlines_of(session: Session, rows: Sequence[Any]) -> tuple[Headline, ...]:
    """Each row (a request row or a row of its columns) as a Home headline, with the
    integrations it touches read in one query."""
    integrations: dict[str, list[str]] = {}
    if rows:
        for request_id, integration in _INTEGRATIONS.all(session, {"ids": [r.id for r in rows]}):
            integrations.setdefault(request_id, []).append(integration)
    return tuple(
        Headline(
            id=RequestId(r.id),
            requester=UserId(r.requester_id),
            requester_name=r.requester_name,
            flow=r.flow,
            bundle=r.bundle,
            status=Status(r.status),
            created_at=r.created_at,
            object_count=r.object_count,
            integrations=tuple(sorted(integrations.get(r.id, []))),
            expires_at=r.expires_at,
            ended_at=r.ended_at,
            trigger=Trigger(r.trigger),
            grantee=UserId(r.grantee_id) if r.grantee_id else None,
        )
        for r in rows
    )
