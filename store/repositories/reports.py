"""Report queries: one :class:`ReportRecord` per (request, integration), streamed page by page.

A report may cover 100,000 requests of 1,000 objects each, so nothing loads it whole: requests
come in keyset pages ordered by (created_at, id), a page is cut short once its requests hold
enough objects, and each page's objects, grants and decisions are fetched with one query each,
selected by the page's keyset range rather than by a list of IDs (500 bound parameters cost more
to send than the query takes to run). Memory is bounded by the page, whatever the report's size.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from sqlalchemy import ColumnElement, Connection, and_, exists, func, or_, select
from sqlalchemy.orm import Session, aliased

from domain.lifecycle import DECISIONS
from domain.reports import ReportFilter, ReportRecord, StepDecision
from store.models import (
    ApprovalRow,
    DecisionRow,
    GrantRow,
    RequestObjectRow,
    RequestRow,
    StatusChangeRow,
)

PAGE_REQUESTS: Final = 500
"""Requests per page (each page is four queries)."""
PAGE_OBJECTS: Final = 20_000
"""A page stops growing once its requests hold this many objects (1,000 per request at most)."""


_Key = tuple[datetime, str]
"""A request's place in report order: (created_at, id)."""


@dataclass(frozen=True, slots=True)
class _Head:
    """A request row of the current page, with the approver who decided it."""

    id: str
    created_at: datetime
    requester_name: str
    requester_email: str | None
    flow: str
    bundle: str | None
    automatic: bool
    justification: str
    status: str
    ended_at: datetime | None
    object_count: int
    decided_by: str | None
    approver_name: str | None
    approver_email: str | None
    extensions: int
    expires_at: datetime | None
    trigger: str
    grantee_id: str | None
    grantee_name: str | None
    grantee_email: str | None


@dataclass(slots=True)
class _Part:
    resources: dict[str, None]
    permissions: dict[str, None]


class ReportRepository:
    def __init__(self, session: Session) -> None:
        """``session``: a read transaction that has not run a query yet (see :meth:`records`)."""
        self._session = session
        self._snapshot_taken = False

    @property
    def _connection(self) -> Connection:
        # Core, not ORM, execution: these are plain column tuples and the ORM's result
        # processing would double the time of a large report. Each query below fetches its
        # (bounded) page with .all(): the drivers' fetchall() is several times faster than
        # row-by-row iteration.
        return self._session.connection()

    def records(
        self,
        *,
        filter: ReportFilter,
        since: datetime | None,
        until: datetime | None,
        page_requests: int = PAGE_REQUESTS,
        page_objects: int = PAGE_OBJECTS,
    ) -> Iterator[ReportRecord]:
        """Every matching (request, integration), oldest request first, integrations by name.

        ``since`` is inclusive and ``until`` exclusive, on the request date. The first call
        makes the session's transaction a snapshot on PostgreSQL, so run no other query in that
        transaction before it.
        """
        self._snapshot()
        conditions = _conditions(filter=filter, since=since, until=until)
        after: _Key | None = None
        while True:
            after_previous = _after(after)
            fetched = self._heads(where=[*conditions, *after_previous], limit=page_requests)
            if not fetched:
                return
            page = _cap(fetched, objects=page_objects)
            last = (page[-1].created_at, page[-1].id)
            in_page = [*conditions, *after_previous, *_up_to(last)]
            yield from self._records(page, in_page=in_page, integrations=filter.integrations)
            if len(fetched) < page_requests and len(page) == len(fetched):
                return
            after = last

    def _snapshot(self) -> None:
        """Read every page from one snapshot of the database.

        A page's objects are selected with the page's own filters, so a request whose status
        changed between the two queries would otherwise lose its rows. SQLite's read
        transaction is a snapshot already (WAL); PostgreSQL's default, READ COMMITTED, is not.
        """
        if self._snapshot_taken:
            return
        self._snapshot_taken = True
        if self._session.get_bind().dialect.name == "postgresql":
            self._session.connection(execution_options={"isolation_level": "REPEATABLE READ"})

    def _heads(self, *, where: Sequence[ColumnElement[bool]], limit: int) -> list[_Head]:
        query = (
            select(
                RequestRow.id,
                RequestRow.created_at,
                RequestRow.requester_name,
                RequestRow.requester_email,
                RequestRow.flow,
                RequestRow.bundle,
                RequestRow.automatic,
                RequestRow.justification,
                RequestRow.status,
                RequestRow.ended_at,
                RequestRow.object_count,
                RequestRow.decided_by,
                ApprovalRow.approver_name,
                ApprovalRow.approver_email,
                RequestRow.extensions,
                RequestRow.expires_at,
                RequestRow.trigger,
                RequestRow.grantee_id,
                RequestRow.grantee_name,
                RequestRow.grantee_email,
            )
            # The approver who decided, among those asked; (request_id, approver_id) is unique.
            .outerjoin(
                ApprovalRow,
                and_(
                    ApprovalRow.request_id == RequestRow.id,
                    ApprovalRow.approver_id == RequestRow.decided_by,
                ),
            )
            .where(*where)
            .order_by(RequestRow.created_at, RequestRow.id)
            .limit(limit)
        )
        return [_Head(**row._mapping) for row in self._connection.execute(query).all()]

    def _records(
        self,
        page: Sequence[_Head],
        *,
        in_page: Sequence[ColumnElement[bool]],
        integrations: frozenset[str],
    ) -> Iterator[ReportRecord]:
        parts = self._parts(in_page=in_page, integrations=integrations)
        grants = self._grants(in_page=in_page)
        reasons = self._decision_reasons(in_page=in_page)
        steps = self._step_decisions(in_page=in_page)
        for head in page:
            names, emails = _approver(head)
            by_integration = parts.get(head.id)
            if by_integration is None:
                if integrations:
                    continue
                # A request without objects still belongs in an audit report: one empty row.
                by_integration = {"": _Part(resources={}, permissions={})}
            for integration in sorted(by_integration):
                part = by_integration[integration]
                granted_at, revoked_at = grants.get((head.id, integration), (None, None))
                yield ReportRecord(
                    request_id=head.id,
                    requested_at=head.created_at,
                    requester_name=head.requester_name,
                    requester_email=head.requester_email,
                    grantee_name=head.grantee_name or head.grantee_id,
                    grantee_email=head.grantee_email if head.grantee_id else None,
                    integration=integration,
                    resources=tuple(part.resources),
                    permissions=tuple(sorted(part.permissions)),
                    justification=head.justification,
                    status=head.status,
                    automatic=head.automatic,
                    flow=head.flow,
                    bundle=head.bundle,
                    granted_at=granted_at,
                    revoked_at=revoked_at,
                    request_ended_at=head.ended_at,
                    approver_names=names,
                    approver_emails=emails,
                    decision_reason=reasons.get(head.id),
                    step_decisions=steps.get(head.id, ()),
                    extensions=head.extensions,
                    final_end=head.expires_at,
                    trigger=head.trigger,
                )

    def _parts(
        self, *, in_page: Sequence[ColumnElement[bool]], integrations: frozenset[str]
    ) -> dict[str, dict[str, _Part]]:
        query = (
            select(
                RequestObjectRow.request_id,
                RequestObjectRow.integration,
                RequestObjectRow.resource,
                RequestObjectRow.permission,
            )
            .join(RequestRow, RequestRow.id == RequestObjectRow.request_id)
            .where(*in_page)
            .order_by(RequestObjectRow.id)
        )
        if integrations:
            query = query.where(RequestObjectRow.integration.in_(integrations))
        found: dict[str, dict[str, _Part]] = {}
        rows = self._connection.execute(query).all()
        for request_id, integration, resource, permission in rows:
            per_request = found.setdefault(request_id, {})
            part = per_request.get(integration)
            if part is None:
                part = per_request[integration] = _Part(resources={}, permissions={})
            # Dicts as ordered sets: resources keep the order they were requested in.
            part.resources[resource] = None
            part.permissions[permission] = None
        return found

    def _grants(
        self, *, in_page: Sequence[ColumnElement[bool]]
    ) -> dict[tuple[str, str], tuple[datetime | None, datetime | None]]:
        query = (
            select(
                GrantRow.request_id, GrantRow.integration, GrantRow.granted_at, GrantRow.revoked_at
            )
            .join(RequestRow, RequestRow.id == GrantRow.request_id)
            .where(*in_page)
        )
        rows = self._connection.execute(query).all()
        return {(r, i): (granted, revoked) for r, i, granted, revoked in rows}

    def _decision_reasons(self, *, in_page: Sequence[ColumnElement[bool]]) -> dict[str, str]:
        query = (
            select(StatusChangeRow.request_id, StatusChangeRow.reason)
            .join(RequestRow, RequestRow.id == StatusChangeRow.request_id)
            .where(
                *in_page,
                StatusChangeRow.to_status.in_([s.value for s in DECISIONS]),
                StatusChangeRow.reason.is_not(None),
            )
            .order_by(StatusChangeRow.id)
        )
        rows = self._connection.execute(query).all()
        found: dict[str, str] = {}
        for request_id, reason in rows:
            if reason is not None:
                found.setdefault(request_id, reason)
        return found

    def _step_decisions(
        self, *, in_page: Sequence[ColumnElement[bool]]
    ) -> dict[str, tuple[StepDecision, ...]]:
        """Each request's verdicts per approval step, in the order they were given."""
        query = (
            select(
                DecisionRow.request_id,
                DecisionRow.step,
                DecisionRow.approver_name,
                DecisionRow.approver_id,
                DecisionRow.approved,
                DecisionRow.reason,
            )
            .join(RequestRow, RequestRow.id == DecisionRow.request_id)
            .where(*in_page)
            .order_by(DecisionRow.id)
        )
        found: dict[str, list[StepDecision]] = {}
        for request_id, step, name, approver, approved, reason in self._connection.execute(query):
            found.setdefault(request_id, []).append(
                StepDecision(step=step, approver=name or approver, approved=approved, reason=reason)
            )
        return {k: tuple(v) for k, v in found.items()}


def _conditions(
    *,
    filter: ReportFilter,
    since: datetime | None,
    until: datetime | None,
) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if since is not None:
        conditions.append(RequestRow.created_at >= since)
    if until is not None:
        conditions.append(RequestRow.created_at < until)
    if filter.bundles:
        conditions.append(RequestRow.bundle.in_(filter.bundles))
    if filter.flows:
        conditions.append(RequestRow.flow.in_(filter.flows))
    if filter.statuses:
        conditions.append(RequestRow.status.in_([s.value for s in filter.statuses]))
    if filter.requesters:
        who: list[ColumnElement[bool]] = []
        if filter.requester_ids:
            who.append(RequestRow.requester_id.in_(filter.requester_ids))
        if filter.requester_emails:
            who.append(func.lower(RequestRow.requester_email).in_(filter.requester_emails))
        conditions.append(or_(*who))
    if filter.integrations:
        # Aliased, so the queries that also select request_objects keep this subquery apart.
        objects = aliased(RequestObjectRow)
        conditions.append(
            exists().where(
                objects.request_id == RequestRow.id,
                objects.integration.in_(filter.integrations),
            )
        )
    return conditions


def _after(key: _Key | None) -> list[ColumnElement[bool]]:
    """Requests after ``key`` in (created_at, id) order; everything for ``None``."""
    if key is None:
        return []
    at, request_id = key
    # The redundant ">=" lets both databases range-scan the created_at index.
    return [
        RequestRow.created_at >= at,
        or_(
            RequestRow.created_at > at,
            and_(RequestRow.created_at == at, RequestRow.id > request_id),
        ),
    ]


def _up_to(key: _Key) -> list[ColumnElement[bool]]:
    """Requests up to and including ``key`` in (created_at, id) order."""
    at, request_id = key
    return [
        RequestRow.created_at <= at,
        or_(
            RequestRow.created_at < at,
            and_(RequestRow.created_at == at, RequestRow.id <= request_id),
        ),
    ]


def _cap(page: list[_Head], *, objects: int) -> list[_Head]:
    """The longest prefix of ``page`` holding at most ``objects`` objects (never empty)."""
    total = 0
    for index, head in enumerate(page):
        total += head.object_count
        if total > objects and index > 0:
            return page[:index]
    return page


def _approver(head: _Head) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The decider's name and email; an automatic approval has none."""
    if head.decided_by is None:
        return (), ()
    # Someone who decided without having been asked (an admin) is named by their Slack ID.
    name = head.approver_name or head.decided_by
    return (name,), ((head.approver_email,) if head.approver_email else ())
