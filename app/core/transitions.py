"""One status change, recorded the same way everywhere: the compare-and-swap on the request,
its audit event and its status messages, all in the caller's transaction."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from app.core.notifier import READ, Notifier, Progress
from domain.audit import AuditEvent, AuditKind
from domain.ids import RequestId
from domain.lifecycle import AccessRequest, Status, StatusChange
from domain.summary import RequestSummary
from store.repositories.requests import NO_COLUMNS, RequestColumns
from store.unit_of_work import UnitOfWork


def _status_event(
    request: AccessRequest, change: StatusChange, audit: Mapping[str, Any] | None = None
) -> AuditEvent:
    return AuditEvent(
        kind=AuditKind.REQUEST_STATUS,
        at=change.at,
        actor=change.actor,
        request_id=change.request_id,
        data={
            "from": change.from_status.value if change.from_status else None,
            "to": change.to_status.value,
            "reason": change.reason,
            # Asked on a teammate's behalf: who asked and who holds the access.
            **(
                {"requested_by": request.requester, "grantee": request.grantee}
                if request.grantee
                else {}
            ),
            **(audit or {}),
        },
    )


def submission_change(request: AccessRequest) -> StatusChange:
    """The submission itself, announced like any other status change."""
    return StatusChange(
        request_id=request.id,
        from_status=None,
        to_status=Status.PENDING,
        actor=request.requester,
        at=request.created_at,
    )


class Transitions:
    def __init__(self, *, notifier: Notifier) -> None:
        self._notifier = notifier

    def record(
        self,
        uow: UnitOfWork,
        *,
        request: AccessRequest,
        change: StatusChange,
        audit: dict[str, Any] | None = None,
        columns: RequestColumns = NO_COLUMNS,
        progress: Progress = READ,
    ) -> RequestSummary:
        """Raises ``ConcurrentChange`` (nothing written) when another transaction won.

        An end also sets ``ended_at`` and drops the lease, a grant sets ``granted_at``, unless
        ``columns`` says otherwise. ``progress``: the request's approval progress in this
        transaction, when the caller read it already (its messages show it)."""
        if change.to_status.terminal:
            columns = columns.or_else(
                RequestColumns(ended_at=change.at, lease_owner=None, lease_until=None)
            )
        elif change.to_status is Status.ACTIVE:
            columns = columns.or_else(RequestColumns(granted_at=change.at))
        summary = uow.requests.apply(change=change, request=request, columns=columns)
        uow.audit.append(_status_event(request, change, audit))
        self._notifier.status_changed(uow, summary=summary, change=change, progress=progress)
        return summary

    def record_ends(
        self,
        uow: UnitOfWork,
        *,
        changes: Sequence[tuple[AccessRequest, StatusChange]],
        before: Mapping[RequestId, Sequence[AuditEvent]] | None = None,
    ) -> dict[RequestId, RequestSummary]:
        """:meth:`record` for a batch of ends, set-wise (docs/architecture.md, "Durable time"):
        one conditional UPDATE (whose returned rows are the summaries), the history and audit
        rows and the messages in one INSERT each. Requests that changed meanwhile are left out,
        without spoiling the rest; ``before``: each request's events that come right before
        its own (its grants confirmed gone). ``changes``: each request as it was, with its end.
        Returns the summaries of those that changed."""
        if not all(change.to_status.terminal for _, change in changes):
            raise ValueError("record_ends records ends only")
        summaries = uow.requests.apply_many(
            changes=[change for _, change in changes],
            columns=RequestColumns(lease_owner=None, lease_until=None),
        )
        done = [(r, change) for r, change in changes if change.request_id in summaries]
        events: list[AuditEvent] = []
        for request, change in done:
            events += (before or {}).get(change.request_id, ())
            events.append(_status_event(request, change))
        uow.audit.extend(events)
        self._notifier.statuses_changed(
            uow, changes=[(summaries[change.request_id], change) for _, change in done]
        )
        return summaries
