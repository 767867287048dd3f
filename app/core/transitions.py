"""One status change, recorded the same way everywhere: the compare-and-swap on the request,
its audit event and its status messages, all in the caller's transaction."""

from __future__ import annotations

from typing import Any

from app.core.notifier import Notifier
from domain.audit import AuditEvent, AuditKind
from domain.lifecycle import AccessRequest, Status, StatusChange
from domain.summary import RequestSummary
from store.repositories.requests import NO_COLUMNS, RequestColumns
from store.unit_of_work import UnitOfWork


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
    ) -> RequestSummary:
        """Raises ``ConcurrentChange`` (nothing written) when another transaction won.

        An end also sets ``ended_at`` and drops the lease, a grant sets ``granted_at``, unless
        ``columns`` says otherwise."""
        if change.to_status.terminal:
            columns = columns.or_else(
                RequestColumns(ended_at=change.at, lease_owner=None, lease_until=None)
            )
        elif change.to_status is Status.ACTIVE:
            columns = columns.or_else(RequestColumns(granted_at=change.at))
        uow.requests.apply(change=change, request=request, columns=columns)
        uow.audit.append(
            AuditEvent(
                kind=AuditKind.REQUEST_STATUS,
                at=change.at,
                actor=change.actor,
                request_id=request.id,
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
        )
        summary = uow.requests.summary(request.id)
        assert summary is not None
        self._notifier.status_changed(uow, summary=summary, change=change)
        return summary
