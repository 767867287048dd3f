"""Extensions of active requests, and the reminders before their end.

An extension is asked for (``pending``, or ``approved`` at once when no approval is needed),
decided by compare-and-swap on its status (of two racing clicks one wins), then applied by the
extension worker under the request's work lease: every integration moves its end, then the
request's ``expires_at`` moves, and the extension is ``done``. One that can no longer apply (the
request ended, or an integration refused) is ``void``, with the problem.

The reminder before the end is planned per end (``end_reminder_for``): an extension moves the end,
so the next sweep plans again for the new one. Sending one is a compare-and-swap on
``end_reminder_at``, so of several instances exactly one sends it (docs/architecture.md,
"Durable time").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from domain.ids import RequestId, UserId
from domain.lifecycle import Status
from store.models import ExtensionRow, RequestRow, StatusChangeRow


class ExtensionStatus(StrEnum):
    PENDING = "pending"
    """Waits for an approver."""
    APPROVED = "approved"
    """Approved (or needing no approval): the worker moves the end."""
    DONE = "done"
    DENIED = "denied"
    VOID = "void"
    """Could not apply: the request ended first, or an integration refused."""

    @property
    def open(self) -> bool:
        return self in (ExtensionStatus.PENDING, ExtensionStatus.APPROVED)


@dataclass(frozen=True, slots=True)
class Extension:
    id: int
    request_id: RequestId
    asked_by: UserId
    asked_at: datetime
    old_end: datetime
    new_end: datetime
    status: ExtensionStatus
    automatic: bool
    decided_by: UserId | None
    decided_at: datetime | None
    done_at: datetime | None
    problem: str | None

    @property
    def added(self) -> timedelta:
        return self.new_end - self.old_end


@dataclass(frozen=True, slots=True)
class EndReminder:
    """An active request's reminder schedule, as the sweeper sees it."""

    request_id: RequestId
    flow: str
    granted_at: datetime
    expires_at: datetime
    scheduled: datetime | None
    """When the next reminder is due (``None``: none left for this end)."""
    planned_for: datetime | None
    """The end the schedule was made for."""


def _extension(row: ExtensionRow) -> Extension:
    return Extension(
        id=row.id,
        request_id=RequestId(row.request_id),
        asked_by=UserId(row.asked_by),
        asked_at=row.asked_at,
        old_end=row.old_end,
        new_end=row.new_end,
        status=ExtensionStatus(row.status),
        automatic=row.automatic,
        decided_by=UserId(row.decided_by) if row.decided_by else None,
        decided_at=row.decided_at,
        done_at=row.done_at,
        problem=row.problem,
    )


def _reminder(row: RequestRow) -> EndReminder:
    assert row.granted_at is not None
    assert row.expires_at is not None
    return EndReminder(
        request_id=RequestId(row.id),
        flow=row.flow,
        granted_at=row.granted_at,
        expires_at=row.expires_at,
        scheduled=row.end_reminder_at,
        planned_for=row.end_reminder_for,
    )


class ExtensionRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    # -- extensions ---------------------------------------------------------------------------

    def add(
        self,
        *,
        request_id: RequestId,
        asked_by: UserId,
        at: datetime,
        old_end: datetime,
        new_end: datetime,
        automatic: bool,
    ) -> Extension:
        row = ExtensionRow(
            request_id=request_id,
            asked_by=asked_by,
            asked_at=at,
            old_end=old_end,
            new_end=new_end,
            status=(ExtensionStatus.APPROVED if automatic else ExtensionStatus.PENDING).value,
            automatic=automatic,
            decided_at=at if automatic else None,
        )
        self._session.add(row)
        self._session.flush()
        return _extension(row)

    def get(self, extension_id: int) -> Extension | None:
        row = self._session.get(ExtensionRow, extension_id)
        return _extension(row) if row else None

    def for_request(self, request_id: RequestId) -> list[Extension]:
        rows = self._session.scalars(
            select(ExtensionRow)
            .where(ExtensionRow.request_id == request_id)
            .order_by(ExtensionRow.id)
        )
        return [_extension(r) for r in rows]

    def open_for(self, request_id: RequestId) -> Extension | None:
        """The extension of the request still waiting for a decision or to apply."""
        return next((e for e in self.for_request(request_id) if e.status.open), None)

    def decide(self, *, extension_id: int, approve: bool, by: UserId, at: datetime) -> bool:
        """``pending`` → ``approved`` or ``denied``; ``False`` if someone decided first."""
        status = ExtensionStatus.APPROVED if approve else ExtensionStatus.DENIED
        result = self._session.execute(
            update(ExtensionRow)
            .where(
                ExtensionRow.id == extension_id,
                ExtensionRow.status == ExtensionStatus.PENDING.value,
            )
            .values(status=status.value, decided_by=by, decided_at=at)
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    def to_apply(self, *, limit: int) -> list[Extension]:
        rows = self._session.scalars(
            select(ExtensionRow)
            .where(ExtensionRow.status == ExtensionStatus.APPROVED.value)
            .order_by(ExtensionRow.id)
            .limit(limit)
        )
        return [_extension(r) for r in rows]

    def close_open(self, *, request_id: RequestId, at: datetime, problem: str) -> list[Extension]:
        """Every open extension of a request that ended: void, with why."""
        found = [e for e in self.for_request(request_id) if e.status.open]
        for extension in found:
            self.finish(
                extension_id=extension.id,
                status=ExtensionStatus.VOID,
                at=at,
                problem=problem,
                from_status=extension.status,
            )
        return found

    def finish(
        self,
        *,
        extension_id: int,
        status: ExtensionStatus,
        at: datetime,
        problem: str | None = None,
        from_status: ExtensionStatus = ExtensionStatus.APPROVED,
    ) -> bool:
        result = self._session.execute(
            update(ExtensionRow)
            .where(ExtensionRow.id == extension_id, ExtensionRow.status == from_status.value)
            .values(status=status.value, done_at=at, problem=problem)
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    def added_so_far(self, request_id: RequestId) -> timedelta:
        """Time added by the request's extensions that were applied."""
        done = [e for e in self.for_request(request_id) if e.status is ExtensionStatus.DONE]
        return sum((e.added for e in done), timedelta())

    # -- the request's end ----------------------------------------------------------------------

    def granted_at(self, request_id: RequestId) -> datetime | None:
        return self._session.scalar(
            select(RequestRow.granted_at).where(RequestRow.id == request_id)
        )

    def claim_request(
        self, *, request_id: RequestId, owner: str, now: datetime, lease: timedelta
    ) -> bool:
        """The request's work lease (the one the ending sweeper takes), while it is active and
        not due: an end cannot be moved while it is being carried out."""
        result = self._session.execute(
            update(RequestRow)
            .where(RequestRow.id == request_id, RequestRow.status == Status.ACTIVE.value)
            .where(RequestRow.expires_at > now, RequestRow.revoke_requested_at.is_(None))
            .where(or_(RequestRow.lease_until.is_(None), RequestRow.lease_until < now))
            .values(lease_owner=owner, lease_until=now + lease)
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    def move_end(
        self, *, request_id: RequestId, old_end: datetime, new_end: datetime, now: datetime
    ) -> bool:
        """``expires_at`` from ``old_end`` to ``new_end``, if the request is still active, not
        due and not being revoked; ``False`` otherwise (nothing written)."""
        result = self._session.execute(
            update(RequestRow)
            .where(RequestRow.id == request_id, RequestRow.status == Status.ACTIVE.value)
            .where(RequestRow.expires_at == old_end, RequestRow.expires_at > now)
            .where(RequestRow.revoke_requested_at.is_(None))
            .values(expires_at=new_end, extensions=RequestRow.extensions + 1)
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    def add_to_timeline(
        self, *, request_id: RequestId, actor: UserId | None, at: datetime, reason: str
    ) -> None:
        """An entry in the request's timeline (``active`` → ``active``, with what happened)."""
        self._session.add(
            StatusChangeRow(
                request_id=request_id,
                from_status=Status.ACTIVE.value,
                to_status=Status.ACTIVE.value,
                actor=actor,
                at=at,
                reason=reason,
            )
        )

    # -- reminders before the end ---------------------------------------------------------------

    def unplanned_reminders(self, *, now: datetime, limit: int) -> list[EndReminder]:
        """Active requests still ahead of their end whose reminders were not planned for it.

        A request whose end has come needs no reminder: leaving its row alone keeps the planner
        off the rows an expiry sweep is ending (a mass expiry would otherwise have both update
        the same thousands of rows, in different orders, and deadlock)."""
        rows = self._session.scalars(
            select(RequestRow)
            .where(RequestRow.status == Status.ACTIVE.value)
            .where(RequestRow.expires_at > now, RequestRow.granted_at.is_not(None))
            .where(
                or_(
                    RequestRow.end_reminder_for.is_(None),
                    RequestRow.end_reminder_for != RequestRow.expires_at,
                )
            )
            .order_by(RequestRow.expires_at)
            .limit(limit)
        )
        return [_reminder(r) for r in rows]

    def plan_reminder(self, *, plan: EndReminder, at: datetime | None) -> bool:
        """Schedule the next reminder for ``plan.expires_at``, if nobody planned meanwhile."""
        planned = (
            RequestRow.end_reminder_for.is_(None)
            if plan.planned_for is None
            else RequestRow.end_reminder_for == plan.planned_for
        )
        result = self._session.execute(
            update(RequestRow)
            .where(RequestRow.id == plan.request_id, RequestRow.expires_at == plan.expires_at)
            .where(planned)
            .values(end_reminder_at=at, end_reminder_for=plan.expires_at)
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    def due_reminders(self, *, now: datetime, limit: int) -> list[EndReminder]:
        rows = self._session.scalars(
            select(RequestRow)
            .where(RequestRow.status == Status.ACTIVE.value)
            .where(RequestRow.end_reminder_at <= now)
            .where(RequestRow.end_reminder_for == RequestRow.expires_at)
            .where(RequestRow.revoke_requested_at.is_(None))
            .order_by(RequestRow.end_reminder_at)
            .limit(limit)
        )
        return [_reminder(r) for r in rows]

    def claim_reminder(self, *, due: EndReminder, next_at: datetime | None) -> bool:
        """Move the schedule on, if nobody else did: ``True`` means remind now."""
        result = self._session.execute(
            update(RequestRow)
            .where(RequestRow.id == due.request_id, RequestRow.status == Status.ACTIVE.value)
            .where(RequestRow.end_reminder_at == due.scheduled)
            .where(RequestRow.end_reminder_for == due.expires_at)
            .values(end_reminder_at=next_at)
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]
