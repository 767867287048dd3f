"""The alarm: one loud message to the audit channel, each approver of the flow and each admin,
queued in the outbox inside the transaction that makes the request (docs/architecture.md,
"Lifecycle"), so access never exists without it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from app.core.notifier import POST, UPDATE
from blocks.break_glass import break_glass_alarm
from domain.audit import AuditKind
from domain.ids import RequestId, UserId
from domain.summary import RequestSummary
from store.unit_of_work import UnitOfWork


def alarm_ref(request_id: str, channel: str) -> str:
    """Names one copy of the alarm, so acknowledging can update it in place."""
    return f"break_glass:{request_id}:{channel}"


class BreakGlassAlarms:
    def __init__(self, *, audit_channel: str | None, admins: Callable[[], list[UserId]]) -> None:
        self._audit_channel = audit_channel
        self._admins = admins

    def recipients(self, *, requester: UserId, approvers: Sequence[UserId]) -> list[str]:
        """The audit channel, the approvers and the admins, each once; never the requester."""
        found = [
            *([self._audit_channel] if self._audit_channel else []),
            *approvers,
            *self._admins(),
        ]
        return [c for c in dict.fromkeys(found) if c != requester]

    def sound(
        self,
        uow: UnitOfWork,
        *,
        summary: RequestSummary,
        approvers: Sequence[UserId],
        at: datetime,
    ) -> list[str]:
        told = self.recipients(requester=summary.requester, approvers=approvers)
        self._queue(uow, summary=summary, told=told, at=at, kind=POST)
        return told

    def refresh(self, uow: UnitOfWork, *, summary: RequestSummary, at: datetime) -> list[str]:
        """Every copy of the alarm shows ``summary`` as it is now (acknowledged, ...)."""
        told = self.told(uow, summary.id)
        self._queue(uow, summary=summary, told=told, at=at, kind=UPDATE)
        return told

    @staticmethod
    def told(uow: UnitOfWork, request_id: RequestId) -> list[str]:
        """Who received the alarm, as its audit event recorded them."""
        for event in uow.audit.for_request(request_id):
            if event.kind is AuditKind.BREAK_GLASS_USED:
                return [str(c) for c in event.data.get("told", [])]
        return []

    @staticmethod
    def _queue(
        uow: UnitOfWork, *, summary: RequestSummary, told: Sequence[str], at: datetime, kind: str
    ) -> None:
        message = break_glass_alarm(summary=summary)
        for channel in told:
            uow.outbox.add(
                at=at,
                # The same key as the request's other messages to that reader: in order.
                ordering_key=f"{summary.id}:{channel}",
                channel=channel,
                kind=kind,
                payload=message,
                ref=alarm_ref(summary.id, channel),
            )
