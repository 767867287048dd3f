"""A person's own requests, a page at a time, read along the two indexes that find them.

``requester = :u OR grantee = :u`` makes SQLite (and often the others) scan the whole table to
count and to sort; each half on its own is a range of ``ix_requests_requester_created`` or
``ix_requests_grantee_created``, already in the page's order. So the total is two index counts,
and the page is the newest rows of each half merged. Only the columns a row shows are read.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select, union_all
from sqlalchemy.orm import Session

from domain.break_glass import Trigger
from domain.ids import RequestId, UserId
from domain.lifecycle import Status
from domain.summary import Headline, Page
from store.models import RequestObjectRow, RequestRow

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


def involving_page(session: Session, *, user: UserId, number: int, size: int) -> Page:
    """Newest first: the requests ``user`` made and those made for them by a teammate."""
    own = RequestRow.requester_id == user
    for_me = RequestRow.grantee_id == user
    mine, made_for_me = session.execute(
        select(
            select(func.count()).where(own).scalar_subquery(),
            select(func.count()).where(for_me).scalar_subquery(),
        )
    ).one()
    halves: list[tuple[Any, ...]] = [(own,)]
    if made_for_me:
        # The app never makes one their own teammate, but what is stored decides: such a row
        # is left out of this half. Counted only here: the grantee index alone counts without
        # reading the table, and SQLite's statistics of a mostly empty column send this count
        # to a full scan.
        halves.append((for_me, RequestRow.requester_id != user))
        made_for_me = session.scalar(select(func.count()).where(*halves[1]))
    total = int(mine or 0) + int(made_for_me or 0)
    if total <= number * size:
        return Page(rows=(), number=number, size=size, total=total)
    order = (RequestRow.created_at.desc(), RequestRow.id.desc())
    if len(halves) == 1:
        query = select(*_COLUMNS).where(own).order_by(*order)
    else:
        # Each half needs no more than the rows up to the end of the page asked for.
        newest = [
            select(*_COLUMNS).where(*where).order_by(*order).limit((number + 1) * size).subquery()
            for where in halves
        ]
        merged = union_all(*(select(half) for half in newest)).subquery()
        query = select(merged).order_by(merged.c.created_at.desc(), merged.c.id.desc())
    rows = session.execute(query.limit(size).offset(number * size)).all()
    return Page(rows=_headlines(session, rows), number=number, size=size, total=total)


def _headlines(session: Session, rows: Sequence[Any]) -> tuple[Headline, ...]:
    integrations: dict[str, list[str]] = {}
    if rows:
        for request_id, integration in session.execute(
            select(RequestObjectRow.request_id, RequestObjectRow.integration)
            .where(RequestObjectRow.request_id.in_([r.id for r in rows]))
            .distinct()
        ):
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
