"""*Acknowledge* on a break-glass alarm: an approver of the flow or an admin says they saw it.
The first one is recorded (compare-and-swap) and audited, and every copy of the alarm is
updated to say who; anyone else is refused and audited."""

from __future__ import annotations

from app.breakglass.alarm import BreakGlassAlarms
from app.core.admins import Admins
from app.core.approvers import ApproverResolver, Scope
from app.core.catalog import CatalogService
from app.core.outcomes import AlreadyDecided, Done, NotAllowed, Outcome, refuse
from app.core.ports import Directory
from blocks.break_glass import ACKNOWLEDGE_NOT_ALLOWED, OWN_BREAK_GLASS, not_break_glass
from blocks.refusals import BUTTON_OF_ANOTHER_REQUEST, REQUEST_NOT_FOUND
from domain.audit import AuditEvent, AuditKind
from domain.clock import Clock
from domain.ids import RequestId, UserId
from domain.people import Person
from domain.summary import RequestSummary
from store.unit_of_work import Store


class AcknowledgeService:
    def __init__(
        self,
        *,
        store: Store,
        catalog: CatalogService,
        approvers: ApproverResolver,
        directory: Directory,
        admins: Admins,
        alarms: BreakGlassAlarms,
        clock: Clock,
    ) -> None:
        self._store = store
        self._catalog = catalog
        self._approvers = approvers
        self._directory = directory
        self._admins = admins
        self._alarms = alarms
        self._clock = clock

    def _refuse(
        self, *, by: UserId, request_id: str | None, reason: str, detail: str
    ) -> NotAllowed:
        return refuse(
            self._store,
            at=self._clock.now(),
            kind=AuditKind.BREAK_GLASS_REFUSED,
            actor=by,
            request_id=request_id,
            reason=reason,
            detail=detail,
        )

    def acknowledge(self, *, request_id: RequestId, flow_claim: str | None, by: UserId) -> Outcome:
        """``AlreadyDecided`` when someone acknowledged it first (its summary says who)."""
        with self._store.read() as uow:
            summary = uow.requests.summary(request_id)
        if summary is None:
            return self._refuse(
                by=by, request_id=None, reason=REQUEST_NOT_FOUND, detail="unknown request"
            )
        if flow_claim is not None and flow_claim != summary.flow:
            return self._refuse(
                by=by,
                request_id=summary.id,
                reason=BUTTON_OF_ANOTHER_REQUEST,
                detail=f"flow mismatch: {flow_claim}",
            )
        if not summary.break_glass:
            return self._refuse(
                by=by,
                request_id=summary.id,
                reason=not_break_glass(summary.id),
                detail="acknowledge of a normal request",
            )
        if by == summary.requester:
            return self._refuse(
                by=by, request_id=summary.id, reason=OWN_BREAK_GLASS, detail="own break-glass"
            )
        if not self._may_acknowledge(summary, by):
            return self._refuse(
                by=by,
                request_id=summary.id,
                reason=ACKNOWLEDGE_NOT_ALLOWED,
                detail="not an approver or admin",
            )
        now = self._clock.now()
        with self._store.write() as uow:
            if not uow.requests.acknowledge(request_id=request_id, by=by, at=now):
                current = uow.requests.summary(request_id)
                assert current is not None
                return AlreadyDecided(current)
            updated = uow.requests.summary(request_id)
            assert updated is not None
            told = self._alarms.refresh(uow, summary=updated, at=now)
            uow.audit.append(
                AuditEvent(
                    kind=AuditKind.BREAK_GLASS_ACKNOWLEDGED,
                    at=now,
                    actor=by,
                    request_id=request_id,
                    data={"flow": updated.flow, "status": updated.status.value, "updated": told},
                )
            )
        return Done(updated)

    def _may_acknowledge(self, summary: RequestSummary, by: UserId) -> bool:
        if self._admins.is_admin(by):
            return True
        record = self._catalog.flow(summary.flow, fresh=True)
        requester = summary.requester
        person = self._directory.person(requester) or Person(id=requester, name=requester)
        return record is not None and self._approvers.is_approver(
            flow=record.flow, requester=person, user=by, scope=Scope.of(summary)
        )
