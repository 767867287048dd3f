"""Requests, their objects and their status history.

Status changes are compare-and-swap: the UPDATE only matches while the row still has the status
the change started from, so when two approvers click at once exactly one UPDATE matches.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final, cast

from sqlalchemy import (
    Row,
    Select,
    Table,
    and_,
    bindparam,
    func,
    insert,
    or_,
    select,
    text,
    true,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from domain.approval_steps import ApprovalProgress, StepApproval, StepProgress
from domain.break_glass import Trigger
from domain.ids import RequestId, UserId
from domain.lifecycle import AccessRequest, Status, StatusChange
from domain.objects import AccessObject
from domain.summary import IntegrationPart, Page, RequestSummary
from store.models import (
    ApprovalRow,
    BundleRow,
    DecisionRow,
    DraftItemRow,
    RequestObjectRow,
    RequestRow,
    RequestStepRow,
    StatusChangeRow,
)
from store.repositories.bulk import insert_rows
from store.repositories.headlines import (
    headlines_of,
    involving_page,
    waiting_count,
    waiting_on,
)
from store.repositories.unchanged import UNCHANGED, Unchanged, given_or
from store.statements import Prepared, new_values


@dataclass(frozen=True, slots=True)
class AskedApprover:
    id: UserId
    name: str
    email: str | None
    reasons: tuple[str, ...]
    step: int = 0
    """The approval step that asked them (0-based)."""


@dataclass(frozen=True, slots=True)
class Decision:
    """One approver's verdict in one step, with their optional reason."""

    request_id: RequestId
    step: int
    approver: UserId
    approver_name: str
    approved: bool
    reason: str | None
    at: datetime


class AlreadyVoted(Exception):
    """This approver already decided in this step; nothing was counted. The transaction is
    spoiled (the database refused the row): end it."""


RESOURCES_SHOWN = 100
"""Resources per integration a summary carries (messages show about fifty)."""


class ConcurrentChange(Exception):
    """Another transaction changed the request first; reload it and explain what happened."""


class AlreadySubmitted(Exception):
    """This form (draft key) already made a request; nothing was written. The transaction is
    spoiled (the database refused the row): end it, then look the request up by its form."""

    def __init__(self, form_key: str) -> None:
        super().__init__(f"form {form_key} was already submitted")
        self.form_key = form_key


class EmptyRequest(ValueError):
    """A request must hold at least one object; nothing may be granted for none."""


@dataclass(frozen=True, slots=True)
class RequesterSnapshot:
    """Who asked, as Slack knew them when they asked (kept for reports after they leave)."""

    id: UserId
    name: str
    email: str | None


@dataclass(frozen=True, slots=True)
class RequestColumns:
    """The bookkeeping a status change writes besides the request itself. A column not given
    is left as it is; ``None`` is a value (it clears the column)."""

    granted_at: datetime | Unchanged = UNCHANGED
    ended_at: datetime | Unchanged = UNCHANGED
    lease_owner: str | Unchanged | None = UNCHANGED
    lease_until: datetime | Unchanged | None = UNCHANGED
    next_reminder_at: datetime | Unchanged | None = UNCHANGED

    def or_else(self, defaults: RequestColumns) -> RequestColumns:
        """These columns, and ``defaults``' for those not given here."""
        return RequestColumns(
            granted_at=given_or(self.granted_at, defaults.granted_at),
            ended_at=given_or(self.ended_at, defaults.ended_at),
            lease_owner=given_or(self.lease_owner, defaults.lease_owner),
            lease_until=given_or(self.lease_until, defaults.lease_until),
            next_reminder_at=given_or(self.next_reminder_at, defaults.next_reminder_at),
        )


NO_COLUMNS: Final = RequestColumns()


def _given_by_name(columns: RequestColumns) -> dict[str, object]:
    """The columns given, keyed by their names."""
    pairs: tuple[tuple[str, object], ...] = (
        ("granted_at", columns.granted_at),
        ("ended_at", columns.ended_at),
        ("lease_owner", columns.lease_owner),
        ("lease_until", columns.lease_until),
        ("next_reminder_at", columns.next_reminder_at),
    )
    return {name: value for name, value in pairs if value is not UNCHANGED}


_CHANGED_BY_EVERY_STATUS_CHANGE: Final = (
    "status",
    "last_actor",
    "last_change_at",
    "reason",
    "decided_by",
    "decided_at",
    "expires_at",
)


NEW_VALUE: Final = "new_"
"""How :meth:`RequestRepository.apply` names the parameter of each column it sets
(``new_status``, ...): the operations metrics read an expiry's times from them."""


@functools.cache
def _apply_statement(given: frozenset[str]) -> Prepared:
    """:meth:`RequestRepository.apply`'s compare-and-swap, built once per set of extra columns
    (a handful: each caller gives the same ones every time)."""
    names = (*_CHANGED_BY_EVERY_STATUS_CHANGE, *sorted(given))
    return Prepared(
        update(_REQUESTS)
        .where(
            _REQUESTS.c.id == bindparam("the_request"),
            _REQUESTS.c.status == bindparam("old_status"),
        )
        .values(new_values(_REQUESTS, names, prefix=NEW_VALUE))
        .returning(*_REQUESTS.c)
    )


@functools.cache
def _apply_many_statement(names: frozenset[str]) -> Prepared:
    """:meth:`RequestRepository.apply_many`'s conditional UPDATE of a list of requests, built
    once per set of columns it sets; it returns the changed rows whole, for their summaries."""
    return Prepared(
        update(_REQUESTS)
        .where(
            _REQUESTS.c.id.in_(bindparam("ids", expanding=True)),
            _REQUESTS.c.status == bindparam("old_status"),
        )
        .values(new_values(_REQUESTS, names, prefix=NEW_VALUE))
        .returning(*_REQUESTS.c)
    )


RequestFields = RequestRow | Row[Any]
"""A request's columns, as a mapped row or a Core row of the same table."""
Parts = tuple[IntegrationPart, ...]


def _to_domain(row: RequestFields) -> AccessRequest:
    return AccessRequest(
        id=RequestId(row.id),
        requester=UserId(row.requester_id),
        flow=row.flow,
        bundle=row.bundle,
        duration=timedelta(seconds=row.duration_seconds),
        justification=row.justification,
        status=Status(row.status),
        created_at=row.created_at,
        automatic=row.automatic,
        last_actor=UserId(row.last_actor) if row.last_actor else None,
        last_change_at=row.last_change_at,
        decided_by=UserId(row.decided_by) if row.decided_by else None,
        decided_at=row.decided_at,
        reason=row.reason,
        expires_at=row.expires_at,
        trigger=Trigger(row.trigger),
        grantee=UserId(row.grantee_id) if row.grantee_id else None,
    )


def _summary_of(row: RequestFields, *, parts: Parts) -> RequestSummary:
    return RequestSummary(
        id=RequestId(row.id),
        requester=UserId(row.requester_id),
        requester_name=row.requester_name,
        requester_email=row.requester_email,
        flow=row.flow,
        bundle=row.bundle,
        status=Status(row.status),
        duration=timedelta(seconds=row.duration_seconds),
        justification=row.justification,
        created_at=row.created_at,
        parts=parts,
        expires_at=row.expires_at,
        decided_by=UserId(row.decided_by) if row.decided_by else None,
        decided_at=row.decided_at,
        reason=row.reason,
        automatic=row.automatic,
        trigger=Trigger(row.trigger),
        acknowledged_by=UserId(row.acknowledged_by) if row.acknowledged_by else None,
        acknowledged_at=row.acknowledged_at,
        grantee=UserId(row.grantee_id) if row.grantee_id else None,
        grantee_name=row.grantee_name,
        grantee_email=row.grantee_email,
    )


def _stored_parts(parts: Parts) -> list[dict[str, Any]]:
    return [
        {
            "integration": p.integration,
            "resources": list(p.resources),
            "permissions": list(p.permissions),
            "count": p.count,
            "resource_count": p.resource_count,
        }
        for p in parts
    ]


def _parts_from(stored: Sequence[dict[str, Any]]) -> Parts:
    return tuple(
        IntegrationPart(
            integration=p["integration"],
            resources=tuple(p["resources"]),
            permissions=tuple(p["permissions"]),
            count=int(p["count"]),
            resource_count=int(p["resource_count"]),
        )
        for p in stored
    )


def _decision(row: DecisionRow | Row[Any]) -> Decision:
    return Decision(
        request_id=RequestId(row.request_id),
        step=row.step,
        approver=UserId(row.approver_id),
        approver_name=row.approver_name,
        approved=row.approved,
        reason=row.reason,
        at=row.at,
    )


def _progress_from(rows: Sequence[Row[Any]]) -> ApprovalProgress:
    """One request's progress from its rows of :data:`_PROGRESS`."""
    steps: dict[int, Row[Any]] = {}
    approvals: dict[int, list[StepApproval]] = {}
    for row in rows:
        steps.setdefault(row.step, row)
        if row.approver_id is not None:
            approvals.setdefault(row.step, []).append(
                StepApproval(approver=UserId(row.approver_id), reason=row.reason)
            )
    return ApprovalProgress(
        steps=tuple(
            StepProgress(
                index=index,
                quorum=step.quorum,
                needed=step.needed,
                approvals=tuple(approvals.get(index, ())),
                started=step.started_at is not None,
                done=step.completed_at is not None,
            )
            for index, step in steps.items()
        ),
        current=int(rows[0].current_step or 0),
    )


_INSERT_STATUS_CHANGE: Final = Prepared(insert(cast(Table, StatusChangeRow.__table__)))
_REQUESTS: Final = cast(Table, RequestRow.__table__)
_INSERT_REQUEST: Final = Prepared(insert(_REQUESTS))
_READ_REQUEST: Final = Prepared(select(_REQUESTS).where(_REQUESTS.c.id == bindparam("id")))
"""A request's row, read with a statement built once: the hot paths read it in every
transaction, and the ORM's per-statement work was a good part of a click's CPU."""
_AMONG_THESE: Final = Prepared(
    select(_REQUESTS).where(_REQUESTS.c.id.in_(bindparam("ids", expanding=True)))
)
_OBJECTS: Final = cast(Table, RequestObjectRow.__table__).c
_OF_THESE: Final = _OBJECTS.request_id.in_(bindparam("ids", expanding=True))
# A summary's parts, per request and integration: the counts and permissions, the first
# resources (numbered in SQL), and how many distinct resources in all.
_PART_COUNTS: Final = Prepared(
    select(_OBJECTS.request_id, _OBJECTS.integration, _OBJECTS.permission, func.count())
    .where(_OF_THESE)
    .group_by(_OBJECTS.request_id, _OBJECTS.integration, _OBJECTS.permission)
)
_NUMBERED: Final = (
    select(
        _OBJECTS.request_id,
        _OBJECTS.integration,
        _OBJECTS.resource,
        func.row_number()
        .over(partition_by=(_OBJECTS.request_id, _OBJECTS.integration), order_by=_OBJECTS.id)
        .label("n"),
    )
    .where(_OF_THESE)
    .subquery()
)
_PART_FIRST: Final = Prepared(
    select(_NUMBERED.c.request_id, _NUMBERED.c.integration, _NUMBERED.c.resource)
    .where(_NUMBERED.c.n <= RESOURCES_SHOWN)
    .order_by(_NUMBERED.c.request_id, _NUMBERED.c.integration, _NUMBERED.c.n)
)
_PART_DISTINCT: Final = Prepared(
    select(_OBJECTS.request_id, _OBJECTS.integration, func.count(_OBJECTS.resource.distinct()))
    .where(_OF_THESE)
    .group_by(_OBJECTS.request_id, _OBJECTS.integration)
)
_COPY_DRAFT_OBJECTS: Final = Prepared(
    insert(cast(Table, RequestObjectRow.__table__)).from_select(
        ["request_id", "integration", "resource", "permission"],
        select(
            bindparam("request", type_=_OBJECTS.request_id.type),
            DraftItemRow.integration,
            DraftItemRow.resource,
            DraftItemRow.permission,
        )
        .where(DraftItemRow.draft_key == bindparam("draft"))
        .order_by(DraftItemRow.id),
    )
)
_SET_PARTS: Final = Prepared(
    update(_REQUESTS)
    .where(_REQUESTS.c.id == bindparam("request"))
    .values(
        object_count=bindparam("new_count"),
        parts=bindparam("new_parts", type_=_REQUESTS.c.parts.type),
    )
)
_OBJECTS_OF: Final = Prepared(
    select(_OBJECTS.integration, _OBJECTS.resource, _OBJECTS.permission)
    .where(_OBJECTS.request_id == bindparam("id"))
    .order_by(_OBJECTS.id)
)
_LATEST_MADE_BY: Final = Prepared(
    select(_REQUESTS.c.id, _REQUESTS.c.bundle, _REQUESTS.c.object_count)
    .where(_REQUESTS.c.requester_id == bindparam("requester"))
    .order_by(_REQUESTS.c.created_at.desc(), _REQUESTS.c.id.desc())
    .limit(bindparam("limit"))
)
_EXISTS: Final = Prepared(select(_REQUESTS.c.id).where(_REQUESTS.c.id == bindparam("id")))
_BY_FORM: Final = Prepared(
    select(_REQUESTS.c.id).where(_REQUESTS.c.form_key == bindparam("form_key"))
)
_LAST_DURATION: Final = Prepared(
    select(_REQUESTS.c.duration_seconds)
    .where(
        _REQUESTS.c.requester_id == bindparam("requester"),
        _REQUESTS.c.flow == bindparam("flow"),
    )
    .order_by(_REQUESTS.c.created_at.desc(), _REQUESTS.c.id.desc())
    .limit(1)
)
_STEPS: Final = cast(Table, RequestStepRow.__table__)
_DECISIONS: Final = cast(Table, DecisionRow.__table__)
_APPROVALS: Final = cast(Table, ApprovalRow.__table__)
_INSERT_STEP: Final = Prepared(insert(_STEPS))
_INSERT_DECISION: Final = Prepared(insert(_DECISIONS))
_INSERT_APPROVAL: Final = Prepared(insert(_APPROVALS))
_PROGRESS: Final[Select[Any]] = (
    select(
        _STEPS.c.request_id,
        _STEPS.c.step,
        _STEPS.c.quorum,
        _STEPS.c.needed,
        _STEPS.c.started_at,
        _STEPS.c.completed_at,
        _REQUESTS.c.current_step,
        _DECISIONS.c.approver_id,
        _DECISIONS.c.reason,
    )
    .join(_REQUESTS, _REQUESTS.c.id == _STEPS.c.request_id)
    .outerjoin(
        _DECISIONS,
        and_(
            _DECISIONS.c.request_id == _STEPS.c.request_id,
            _DECISIONS.c.step == _STEPS.c.step,
            _DECISIONS.c.approved == true(),
        ),
    )
    .order_by(_STEPS.c.request_id, _STEPS.c.step, _DECISIONS.c.id)
)
"""Every step of requests with the request's current step and the approvals given in it: one
row per step and approval (a step without one comes once, with no approver)."""
_PROGRESS_OF_ONE: Final = Prepared(_PROGRESS.where(_STEPS.c.request_id == bindparam("id")))
_PROGRESS_OF_MANY: Final = Prepared(
    _PROGRESS.where(_STEPS.c.request_id.in_(bindparam("ids", expanding=True)))
)
_DECISIONS_OF: Final = Prepared(
    select(_DECISIONS).where(_DECISIONS.c.request_id == bindparam("id")).order_by(_DECISIONS.c.id)
)
_APPROVERS_OF: Final = Prepared(
    select(_APPROVALS).where(_APPROVALS.c.request_id == bindparam("id")).order_by(_APPROVALS.c.id)
)
_APPROVERS_OF_STEP: Final = Prepared(
    select(_APPROVALS)
    .where(_APPROVALS.c.request_id == bindparam("id"), _APPROVALS.c.step == bindparam("step"))
    .order_by(_APPROVALS.c.id)
)
_BUNDLE_VERSIONS: Final = Prepared(
    select(_REQUESTS.c.bundle, _REQUESTS.c.bundle_version, BundleRow.version, BundleRow.id)
    .outerjoin(BundleRow, BundleRow.name == _REQUESTS.c.bundle)
    .where(_REQUESTS.c.id == bindparam("id"), _REQUESTS.c.bundle.is_not(None))
)
_HOLD_STEP: Final = Prepared(
    update(_REQUESTS)
    .where(
        _REQUESTS.c.id == bindparam("the_request"),
        _REQUESTS.c.status == Status.PENDING.value,
        _REQUESTS.c.current_step == bindparam("the_step"),
    )
    .values(current_step=_REQUESTS.c.current_step)
)
_OPEN_STEP: Final = (
    _STEPS.c.request_id == bindparam("the_request"),
    _STEPS.c.step == bindparam("the_step"),
    _STEPS.c.completed_at.is_(None),
)
"""The step ``the_step`` of ``the_request``, while it has not reached its quorum."""
_COUNT_APPROVAL: Final = Prepared(
    update(_STEPS)
    .where(*_OPEN_STEP)
    .values(approvals=_STEPS.c.approvals + 1)
    .returning(_STEPS.c.approvals, _STEPS.c.needed)
)
_COMPLETE_STEP: Final = Prepared(
    update(_STEPS)
    .where(*_OPEN_STEP, _STEPS.c.approvals >= _STEPS.c.needed)
    .values(completed_at=bindparam("at"))
)


@dataclass(frozen=True, slots=True)
class MadeRecently:
    """One of a person's latest requests, as :meth:`RequestRepository.latest_made_by` reads it."""

    id: RequestId
    bundle: str | None
    object_count: int


@dataclass(frozen=True, slots=True)
class BundleVersions:
    """What :meth:`RequestRepository.bundle_versions` reads."""

    bundle: str
    requested: int | None
    """The bundle's version the request was made from."""
    current: int | None
    """The bundle's version now; ``None`` once the bundle is gone."""
    key: int | None
    """The bundle's key now (``None`` once it is gone)."""


class RequestRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def exists(self, request_id: RequestId) -> bool:
        return _EXISTS.scalar(self._session, {"id": request_id}) is not None

    def add(
        self,
        *,
        request: AccessRequest,
        requester: RequesterSnapshot,
        grantee: RequesterSnapshot | None = None,
        objects: Sequence[AccessObject] = (),
        from_draft: str | None = None,
        bundle_version: int | None = None,
        timeout_at: datetime | None = None,
        next_reminder_at: datetime | None = None,
    ) -> RequestSummary:
        """Store a new request with its objects, copied from the draft ``from_draft`` (whose
        key becomes the request's form key) or given as ``objects``.

        Raises :class:`AlreadySubmitted` if the draft already made a request (a concurrent
        submission may have done so a moment ago) and :class:`EmptyRequest` when there is
        nothing to copy; the caller's transaction must then end without committing.
        ``grantee``: the teammate the access is for (``request.grantee``), as Slack knows them.
        Returns the request's summary as stored (its first messages need no read of it)."""
        if from_draft is None and not objects:
            raise EmptyRequest(f"{request.id} has no objects")
        try:
            # A Core insert: nothing reads the row back as an object (see _READ_REQUEST).
            _INSERT_REQUEST.run(
                self._session,
                {
                    "id": request.id,
                    "requester_id": request.requester,
                    "requester_name": requester.name,
                    "requester_email": requester.email,
                    "grantee_id": request.grantee,
                    "grantee_name": grantee.name if grantee and request.grantee else None,
                    "grantee_email": grantee.email if grantee and request.grantee else None,
                    "flow": request.flow,
                    "bundle": request.bundle,
                    "bundle_version": bundle_version,
                    "form_key": from_draft,
                    "automatic": request.automatic,
                    "trigger": request.trigger.value,
                    "duration_seconds": int(request.duration.total_seconds()),
                    "justification": request.justification,
                    "object_count": 0,  # counted below, from what was stored
                    "status": request.status.value,
                    "created_at": request.created_at,
                    "last_change_at": request.last_change_at,
                    "last_actor": request.last_actor,
                    "timeout_at": timeout_at,
                    "next_reminder_at": next_reminder_at,
                    "reminders_sent": 0,
                    "current_step": 0,
                    "extensions": 0,
                },
            )
        except IntegrityError:
            if from_draft is not None:
                raise AlreadySubmitted(from_draft) from None
            raise
        if from_draft is not None:
            # Copied inside the database: a 1,000-object request never round-trips to Python.
            _COPY_DRAFT_OBJECTS.run(self._session, {"request": request.id, "draft": from_draft})
        else:
            self._session.execute(
                insert(RequestObjectRow),
                [
                    {
                        "request_id": request.id,
                        "integration": o.integration,
                        "resource": o.resource,
                        "permission": o.permission,
                    }
                    for o in objects
                ],
            )
        # The summary's parts, computed once from what was stored (rowcount is not reliable
        # for INSERT ... SELECT) and kept on the row: a request's objects never change, and
        # every later message and screen reads them from there.
        parts = self._parts_many([request.id]).get(request.id, ())
        if not parts:
            raise EmptyRequest(f"{request.id} has no objects: its form holds none")
        _SET_PARTS.run(
            self._session,
            {
                "request": request.id,
                "new_count": sum(p.count for p in parts),
                "new_parts": _stored_parts(parts),
            },
        )
        _INSERT_STATUS_CHANGE.run(
            self._session,
            {
                "request_id": request.id,
                "from_status": None,
                "to_status": request.status.value,
                "actor": request.requester,
                "at": request.created_at,
                "reason": None,
            },
        )
        grantee_known = grantee if grantee and request.grantee else None
        return RequestSummary(
            id=request.id,
            requester=request.requester,
            requester_name=requester.name,
            requester_email=requester.email,
            flow=request.flow,
            bundle=request.bundle,
            status=request.status,
            duration=timedelta(seconds=int(request.duration.total_seconds())),
            justification=request.justification,
            created_at=request.created_at,
            parts=parts,
            automatic=request.automatic,
            trigger=request.trigger,
            grantee=request.grantee,
            grantee_name=grantee_known.name if grantee_known else None,
            grantee_email=grantee_known.email if grantee_known else None,
        )

    def by_form(self, form_key: str) -> RequestId | None:
        """The request that the form with this draft key made, if it made one."""
        found = _BY_FORM.scalar(self._session, {"form_key": form_key})
        return RequestId(found) if found else None

    def _row(self, request_id: RequestId) -> Row[Any] | None:
        return _READ_REQUEST.first(self._session, {"id": request_id})

    def get(self, request_id: RequestId) -> AccessRequest | None:
        row = self._row(request_id)
        return _to_domain(row) if row else None

    def requester(self, request_id: RequestId) -> RequesterSnapshot | None:
        row = self._row(request_id)
        if row is None:
            return None
        return RequesterSnapshot(
            id=UserId(row.requester_id), name=row.requester_name, email=row.requester_email
        )

    def bundle_versions(self, request_id: RequestId) -> BundleVersions | None:
        """A bundle request's bundle as it was asked for and as it is now, in one statement;
        ``None`` for a request of plain objects (or no such request)."""
        row = _BUNDLE_VERSIONS.first(self._session, {"id": request_id})
        if row is None or row[0] is None:
            return None
        return BundleVersions(bundle=row[0], requested=row[1], current=row[2], key=row[3])

    def objects(self, request_id: RequestId) -> list[AccessObject]:
        rows = _OBJECTS_OF.all(self._session, {"id": request_id})
        return [AccessObject(*row) for row in rows]

    def shorten(self, request_id: RequestId, *, duration: timedelta) -> None:
        """Lower an approved request's duration before it is granted (a shift that ends sooner)."""
        self._session.execute(
            update(RequestRow)
            .where(RequestRow.id == request_id)
            .where(RequestRow.duration_seconds > int(duration.total_seconds()))
            .values(duration_seconds=max(int(duration.total_seconds()), 1))
            .execution_options(synchronize_session=False)
        )

    def apply(
        self,
        *,
        change: StatusChange,
        request: AccessRequest,
        columns: RequestColumns = NO_COLUMNS,
    ) -> RequestSummary:
        """Write ``request`` (the state after ``change``) if the row still has the old status;
        the request's summary as written (the row comes back with the UPDATE, so its messages
        need no second read).

        ``columns`` sets extra bookkeeping (lease, reminder times, ...). Raises
        :class:`ConcurrentChange` when another transaction got there first.
        """
        if change.from_status is None:
            raise ValueError("a submission is added, not applied")
        given = _given_by_name(columns)
        values: dict[str, object] = {
            "status": change.to_status.value,
            "last_actor": change.actor,
            "last_change_at": change.at,
            "reason": change.reason,
            "decided_by": request.decided_by,
            "decided_at": request.decided_at,
            "expires_at": request.expires_at,
            **given,
        }
        row = _apply_statement(frozenset(given)).first(
            self._session,
            {
                "the_request": change.request_id,
                "old_status": change.from_status.value,
                **{NEW_VALUE + name: value for name, value in values.items()},
            },
        )
        if row is None:
            raise ConcurrentChange(change.request_id)
        # A Core insert of the table, not an ORM object: nothing reads the row back, and the
        # ORM's flush was a good part of a click's CPU.
        _INSERT_STATUS_CHANGE.run(
            self._session,
            {
                "request_id": change.request_id,
                "from_status": change.from_status.value if change.from_status else None,
                "to_status": change.to_status.value,
                "actor": change.actor,
                "at": change.at,
                "reason": change.reason,
            },
        )
        return _summary_of(row, parts=self._parts_of([row])[row.id])

    def with_summary(self, request_id: RequestId) -> tuple[AccessRequest, RequestSummary] | None:
        """:meth:`get` and :meth:`summary` from one read of the row."""
        row = self._row(request_id)
        if row is None:
            return None
        return _to_domain(row), _summary_of(row, parts=self._parts_of([row])[row.id])

    def summary(self, request_id: RequestId) -> RequestSummary | None:
        row = self._row(request_id)
        if row is None:
            return None
        return _summary_of(row, parts=self._parts_of([row])[row.id])

    def summaries(self, request_ids: Sequence[RequestId]) -> dict[RequestId, RequestSummary]:
        """:meth:`summary` of a whole batch in one query, however many requests it holds."""
        if not request_ids:
            return {}
        found = _AMONG_THESE.all(self._session, {"ids": request_ids})
        parts = self._parts_of(found)
        return {RequestId(r.id): _summary_of(r, parts=parts[r.id]) for r in found}

    def get_many(self, request_ids: Sequence[RequestId]) -> dict[RequestId, AccessRequest]:
        if not request_ids:
            return {}
        rows = _AMONG_THESE.all(self._session, {"ids": request_ids})
        return {RequestId(r.id): _to_domain(r) for r in rows}

    def apply_many(
        self,
        *,
        changes: Sequence[StatusChange],
        columns: RequestColumns = NO_COLUMNS,
    ) -> dict[RequestId, RequestSummary]:
        """:meth:`apply` for a batch: one conditional UPDATE per distinct change (an expiry
        sweep makes one), each matching only rows that still have the old status; returns the
        summaries of the requests that changed (from the rows the UPDATE returns: nothing is
        read again), whose status history rows are then inserted in one statement. Those that
        changed meanwhile are left out (no :class:`ConcurrentChange`). Only the columns a plain
        status change sets are written (``decided_*`` and ``expires_at`` stay), and
        ``ended_at`` (the change's time) for an end, unless ``columns`` gives it."""
        groups: dict[tuple[Any, ...], list[StatusChange]] = {}
        for change in changes:
            if change.from_status is None:
                raise ValueError("a submission is added, not applied")
            key = (change.from_status, change.to_status, change.actor, change.at, change.reason)
            groups.setdefault(key, []).append(change)
        given = _given_by_name(columns)
        rows: list[Row[Any]] = []
        for (before, after, actor, at, reason), members in groups.items():
            values = {
                "status": after.value,
                "last_actor": actor,
                "last_change_at": at,
                "reason": reason,
                **({"ended_at": at} if after.terminal else {}),
                **given,
            }
            rows += _apply_many_statement(frozenset(values)).all(
                self._session,
                {
                    "ids": [c.request_id for c in members],
                    "old_status": before.value,
                    **{NEW_VALUE + name: value for name, value in values.items()},
                },
            )
        changed = {RequestId(r.id) for r in rows}
        history = [
            {
                "request_id": c.request_id,
                "from_status": c.from_status.value if c.from_status else None,
                "to_status": c.to_status.value,
                "actor": c.actor,
                "at": c.at,
                "reason": c.reason,
            }
            for c in changes
            if c.request_id in changed
        ]
        insert_rows(self._session, StatusChangeRow, history)
        parts = self._parts_of(rows)
        return {RequestId(r.id): _summary_of(r, parts=parts[r.id]) for r in rows}

    def _parts_of(self, rows: Sequence[RequestFields]) -> dict[str, Parts]:
        """Each request's parts as stored with it; requests stored before parts were (migration
        0016) have theirs computed from their objects, in three queries for all of them."""
        found = {row.id: _parts_from(row.parts) for row in rows if row.parts is not None}
        missing = [RequestId(row.id) for row in rows if row.parts is None]
        if missing:
            computed = self._parts_many(missing)
            found.update({request_id: computed.get(request_id, ()) for request_id in missing})
        return found

    def _parts_many(
        self, request_ids: Sequence[RequestId]
    ) -> dict[str, tuple[IntegrationPart, ...]]:
        """Per request and integration: counts and permissions in SQL, and only the first
        resources, so a 1,000-object request is summarised without loading its objects."""
        ids = {"ids": list(request_ids)}
        counts = _PART_COUNTS.all(self._session, ids)
        shown: dict[tuple[str, str], dict[str, None]] = {}
        for request_id, integration, resource in _PART_FIRST.all(self._session, ids):
            shown.setdefault((request_id, integration), {})[resource] = None
        totals: dict[str, dict[str, int]] = {}
        permissions: dict[tuple[str, str], set[str]] = {}
        for request_id, integration, permission, count in counts:
            mine = totals.setdefault(request_id, {})
            mine[integration] = mine.get(integration, 0) + count
            permissions.setdefault((request_id, integration), set()).add(permission)
        distinct = {
            (request_id, integration): count
            for request_id, integration, count in _PART_DISTINCT.all(self._session, ids)
        }
        return {
            request_id: tuple(
                IntegrationPart(
                    integration=name,
                    resources=tuple(shown.get((request_id, name), {})),
                    permissions=tuple(sorted(permissions[(request_id, name)])),
                    count=mine[name],
                    resource_count=distinct.get((request_id, name), 0),
                )
                for name in sorted(mine)
            )
            for request_id, mine in totals.items()
        }

    def add_approvers(
        self, *, request_id: RequestId, approvers: Sequence[AskedApprover], at: datetime
    ) -> None:
        if not approvers:
            return
        _INSERT_APPROVAL.many(
            self._session,
            [
                {
                    "request_id": request_id,
                    "approver_id": approver.id,
                    "approver_name": approver.name,
                    "approver_email": approver.email,
                    "reasons": list(approver.reasons),
                    "asked_at": at,
                    "step": approver.step,
                }
                for approver in approvers
            ],
        )

    def approvers(self, request_id: RequestId, *, step: int | None = None) -> list[AskedApprover]:
        """Everyone asked so far (every step begun), or only those of ``step``."""
        rows = (
            _APPROVERS_OF.all(self._session, {"id": request_id})
            if step is None
            else _APPROVERS_OF_STEP.all(self._session, {"id": request_id, "step": step})
        )
        return [
            AskedApprover(
                id=UserId(r.approver_id),
                name=r.approver_name,
                email=r.approver_email,
                reasons=tuple(r.reasons or ()),
                step=r.step,
            )
            for r in rows
        ]

    # -- approval steps (README, "Approval steps") -------------------------------------------

    def add_steps(
        self, *, request_id: RequestId, quorums: Sequence[str], first_needed: int, at: datetime
    ) -> None:
        """Every step of a new request, its quorum as the flow wrote it; the first one begins."""
        if not quorums:
            return
        _INSERT_STEP.many(
            self._session,
            [
                {
                    "request_id": request_id,
                    "step": index,
                    "quorum": quorum,
                    "needed": first_needed if index == 0 else 0,
                    "approvals": 0,
                    "started_at": at if index == 0 else None,
                    "completed_at": None,
                }
                for index, quorum in enumerate(quorums)
            ],
        )

    def current_step(self, request_id: RequestId) -> int:
        found = self._session.scalar(
            select(RequestRow.current_step).where(RequestRow.id == request_id)
        )
        return int(found or 0)

    def hold_step(self, *, request_id: RequestId, step: int) -> bool:
        """Lock the request for one decision while it is pending in ``step``; ``False`` (and
        nothing locked or written) if the request moved on meanwhile.

        The UPDATE changes nothing, but it takes the row's lock, so the decisions on one request
        (and its cancel, time-out, denial) run one after the other, each seeing the last one's
        result."""
        return _HOLD_STEP.run(self._session, {"the_request": request_id, "the_step": step}) == 1

    def record_decision(
        self,
        *,
        request_id: RequestId,
        step: int,
        approver: UserId,
        approver_name: str,
        approved: bool,
        reason: str | None,
        at: datetime,
    ) -> None:
        """One verdict; raises :class:`AlreadyVoted` when this person already gave one here."""
        try:
            _INSERT_DECISION.run(
                self._session,
                {
                    "request_id": request_id,
                    "step": step,
                    "approver_id": approver,
                    "approver_name": approver_name,
                    "approved": approved,
                    "reason": reason,
                    "at": at,
                },
            )
        except IntegrityError:
            raise AlreadyVoted(f"{approver} already decided step {step} of {request_id}") from None

    def count_approval(self, *, request_id: RequestId, step: int) -> tuple[int, int]:
        """Count one approval in an open step; ``(approvals, needed)`` afterwards."""
        row = _COUNT_APPROVAL.first(self._session, {"the_request": request_id, "the_step": step})
        if row is None:
            raise ConcurrentChange(request_id)
        return int(row.approvals), int(row.needed)

    def complete_step(self, *, request_id: RequestId, step: int, at: datetime) -> None:
        """End a step that reached its quorum: of racing approvals, exactly one UPDATE matches."""
        matched = _COMPLETE_STEP.run(
            self._session, {"the_request": request_id, "the_step": step, "at": at}
        )
        if matched != 1:
            raise ConcurrentChange(request_id)

    def start_step(
        self,
        *,
        request_id: RequestId,
        step: int,
        needed: int,
        at: datetime,
        next_reminder_at: datetime | None,
    ) -> None:
        """Move a pending request on to ``step``, which needs ``needed`` approvals."""
        result = self._session.execute(
            update(RequestRow)
            .where(
                RequestRow.id == request_id,
                RequestRow.status == Status.PENDING.value,
                RequestRow.current_step == step - 1,
            )
            .values(current_step=step, next_reminder_at=next_reminder_at, reminders_sent=0)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise ConcurrentChange(request_id)
        self._session.execute(
            update(RequestStepRow)
            .where(RequestStepRow.request_id == request_id, RequestStepRow.step == step)
            .values(needed=needed, started_at=at)
            .execution_options(synchronize_session=False)
        )

    def decisions(self, request_id: RequestId) -> list[Decision]:
        return [_decision(r) for r in _DECISIONS_OF.all(self._session, {"id": request_id})]

    def decisions_of(self, request_ids: Sequence[RequestId]) -> dict[RequestId, list[Decision]]:
        """The decisions of many requests at once (reports)."""
        found: dict[RequestId, list[Decision]] = {}
        if not request_ids:
            return found
        rows = self._session.scalars(
            select(DecisionRow)
            .where(DecisionRow.request_id.in_(list(request_ids)))
            .order_by(DecisionRow.id)
        )
        for row in rows:
            found.setdefault(RequestId(row.request_id), []).append(_decision(row))
        return found

    def progress(self, request_id: RequestId) -> ApprovalProgress | None:
        """Every step of the request with the approvals counted in it; ``None`` for a request
        without steps (automatic). One statement."""
        rows = _PROGRESS_OF_ONE.all(self._session, {"id": request_id})
        return _progress_from(rows) if rows else None

    def progress_many(self, request_ids: Sequence[RequestId]) -> dict[RequestId, ApprovalProgress]:
        """:meth:`progress` of a whole batch in one statement (requests without steps are left
        out)."""
        if not request_ids:
            return {}
        rows: dict[RequestId, list[Row[Any]]] = {}
        for row in _PROGRESS_OF_MANY.all(self._session, {"ids": request_ids}):
            rows.setdefault(RequestId(row.request_id), []).append(row)
        return {request_id: _progress_from(mine) for request_id, mine in rows.items()}

    def history(self, request_id: RequestId) -> list[StatusChange]:
        rows = self._session.scalars(
            select(StatusChangeRow)
            .where(StatusChangeRow.request_id == request_id)
            .order_by(StatusChangeRow.id)
        )
        return [
            StatusChange(
                request_id=RequestId(r.request_id),
                from_status=Status(r.from_status) if r.from_status else None,
                to_status=Status(r.to_status),
                actor=UserId(r.actor) if r.actor else None,
                at=r.at,
                reason=r.reason,
            )
            for r in rows
        ]

    def due_timeouts(self, *, now: datetime, limit: int) -> list[RequestId]:
        rows = self._session.scalars(
            select(RequestRow.id)
            .where(RequestRow.status == Status.PENDING.value, RequestRow.timeout_at <= now)
            .order_by(RequestRow.timeout_at)
            .limit(limit)
        )
        return [RequestId(r) for r in rows]

    def due_reminders(self, *, now: datetime, limit: int) -> list[tuple[RequestId, datetime, int]]:
        rows = self._session.execute(
            select(RequestRow.id, RequestRow.next_reminder_at, RequestRow.reminders_sent)
            .where(RequestRow.status == Status.PENDING.value, RequestRow.next_reminder_at <= now)
            .order_by(RequestRow.next_reminder_at)
            .limit(limit)
        )
        return [(RequestId(i), at, sent) for i, at, sent in rows if at is not None]

    def claim_reminder(
        self, *, request_id: RequestId, scheduled: datetime, next_at: datetime | None
    ) -> bool:
        """Move the reminder schedule on, if nobody else did: ``True`` means remind now."""
        result = self._session.execute(
            update(RequestRow)
            .where(
                RequestRow.id == request_id,
                RequestRow.status == Status.PENDING.value,
                RequestRow.next_reminder_at == scheduled,
            )
            .values(next_reminder_at=next_at, reminders_sent=RequestRow.reminders_sent + 1)
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    def page(
        self,
        *,
        number: int,
        size: int,
        requester: UserId | None = None,
        involving: UserId | None = None,
        waiting_for: UserId | None = None,
        statuses: Sequence[Status] = (),
        bundle: str | None = None,
    ) -> Page:
        """Newest first, filtered; ``involving`` keeps the requests that person made or that
        were made for them; ``waiting_for`` keeps pending requests that user was asked."""
        conditions: list[Any] = []
        if requester is not None:
            conditions.append(RequestRow.requester_id == requester)
        if involving is not None:
            conditions.append(
                or_(RequestRow.requester_id == involving, RequestRow.grantee_id == involving)
            )
        if statuses:
            conditions.append(RequestRow.status.in_([s.value for s in statuses]))
        if bundle is not None:
            conditions.append(RequestRow.bundle == bundle)
        if waiting_for is not None:
            conditions.append(waiting_on(waiting_for))
        total = int(
            self._session.scalar(select(func.count()).select_from(RequestRow).where(*conditions))
            or 0
        )
        rows = self._session.scalars(
            select(RequestRow)
            .where(*conditions)
            .order_by(RequestRow.created_at.desc(), RequestRow.id.desc())
            .limit(size)
            .offset(number * size)
        ).all()
        headlines = headlines_of(self._session, rows)
        return Page(rows=headlines, number=number, size=size, total=total)

    def involving_page(self, *, user: UserId, number: int, size: int) -> Page:
        """``page(involving=user)`` along the indexes (store/repositories/headlines.py)."""
        return involving_page(self._session, user=user, number=number, size=size)

    def waiting_count(self, *, user: UserId) -> int:
        return waiting_count(self._session, user=user)

    def bundles_requested(self) -> list[str]:
        return list(
            self._session.scalars(
                select(RequestRow.bundle).where(RequestRow.bundle.is_not(None)).distinct()
            )
        )

    def last_duration(self, *, requester: UserId, flow: str) -> timedelta | None:
        """The duration ``requester`` chose in their latest request through ``flow`` (the modal
        preselects it)."""
        seconds = _LAST_DURATION.scalar(self._session, {"requester": requester, "flow": flow})
        return timedelta(seconds=seconds) if seconds else None

    def latest_made_by(self, requester: UserId, *, limit: int) -> list[MadeRecently]:
        """``requester``'s newest requests, what the modal offers to start again from."""
        rows = _LATEST_MADE_BY.all(self._session, {"requester": requester, "limit": limit})
        return [MadeRecently(RequestId(r.id), r.bundle, r.object_count) for r in rows]

    def recent_for(self, requester: UserId, *, limit: int) -> list[RequestId]:
        rows = self._session.scalars(
            select(RequestRow.id)
            .where(RequestRow.requester_id == requester)
            .order_by(RequestRow.created_at.desc(), RequestRow.id)
            .limit(limit)
        )
        return [RequestId(r) for r in rows]

    def count(self, *, statuses: Iterable[Status] | None = None) -> int:
        query = select(func.count()).select_from(RequestRow)
        if statuses is not None:
            query = query.where(RequestRow.status.in_([s.value for s in statuses]))
        return int(self._session.scalar(query) or 0)

    # -- break-glass (README, "Break-glass") ------------------------------------------------------

    def hold_break_glass(self, *, requester: UserId, flow: str) -> None:
        """Until this transaction ends, no other one counts or adds ``requester``'s break-glass
        uses of ``flow``: a daily limit checked under it holds against two submissions at once.
        SQLite's write transactions already run one at a time (``BEGIN IMMEDIATE``)."""
        if self._session.get_bind().dialect.name == "postgresql":
            self._session.execute(
                text("SELECT pg_advisory_xact_lock(hashtext(:key))"),
                {"key": f"break_glass:{requester}:{flow}"},
            )

    def break_glass_uses(
        self, *, requester: UserId, flow: str, since: datetime, until: datetime
    ) -> int:
        """Break-glass requests ``requester`` made through ``flow`` in [since, until)."""
        return int(
            self._session.scalar(
                select(func.count())
                .select_from(RequestRow)
                .where(
                    RequestRow.requester_id == requester,
                    RequestRow.created_at >= since,
                    RequestRow.created_at < until,
                    RequestRow.flow == flow,
                    RequestRow.trigger == Trigger.BREAK_GLASS.value,
                )
            )
            or 0
        )

    def acknowledge(self, *, request_id: RequestId, by: UserId, at: datetime) -> bool:
        """Record the first acknowledgement of a break-glass request; ``False`` when someone
        acknowledged it first (compare-and-swap, like a decision)."""
        result = self._session.execute(
            update(RequestRow)
            .where(
                RequestRow.id == request_id,
                RequestRow.trigger == Trigger.BREAK_GLASS.value,
                RequestRow.acknowledged_by.is_(None),
            )
            .values(acknowledged_by=by, acknowledged_at=at)
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]
