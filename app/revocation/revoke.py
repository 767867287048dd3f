"""Revoking an active request from Slack: the requester, the teammate it was asked for, a
current approver of its flow or an admin may; anyone else is refused and audited. The slow part
(calling every integration) is left to the ending sweeper, which this wakes."""

from __future__ import annotations

from collections.abc import Callable

from app.core.admins import Admins
from app.core.approvers import ApproverResolver, Scope
from app.core.catalog import CatalogService
from app.core.outcomes import AlreadyDecided, Done, NotAllowed, Outcome, refuse
from app.core.ports import Directory
from blocks.refusals import REVOKE_NOT_ALLOWED, no_request_to_revoke
from domain.audit import AuditKind
from domain.clock import Clock
from domain.ids import RequestId, UserId
from domain.lifecycle import Status
from domain.people import Person
from store.unit_of_work import Store


class RevocationService:
    def __init__(
        self,
        *,
        store: Store,
        catalog: CatalogService,
        approvers: ApproverResolver,
        directory: Directory,
        admins: Admins,
        clock: Clock,
        on_revoke: Callable[[], None] = lambda: None,
    ) -> None:
        self._store = store
        self._catalog = catalog
        self._approvers = approvers
        self._directory = directory
        self._admins = admins
        self._clock = clock
        self.on_revoke = on_revoke

    def _refuse(
        self, *, by: UserId, request_id: str | None, reason: str, detail: str
    ) -> NotAllowed:
        return refuse(
            self._store,
            at=self._clock.now(),
            kind=AuditKind.REVOKE_REFUSED,
            actor=by,
            request_id=request_id,
            reason=reason,
            detail=detail,
        )

    def may_revoke(self, *, request_id: RequestId, by: UserId) -> bool:
        with self._store.read() as uow:
            summary = uow.requests.summary(request_id)
        if summary is None:
            return False
        if by in {summary.requester, summary.holder} or self._admins.is_admin(by):
            return True
        record = self._catalog.flow(summary.flow, fresh=True)
        requester = self._directory.person(summary.requester) or Person(
            id=summary.requester, name=summary.requester_name, email=summary.requester_email
        )
        return record is not None and self._approvers.is_approver(
            flow=record.flow, requester=requester, user=by, scope=Scope.of(summary)
        )

    def revoke(self, *, request_id: RequestId, flow_claim: str | None, by: UserId) -> Outcome:
        with self._store.read() as uow:
            summary = uow.requests.summary(request_id)
        if summary is None or (flow_claim is not None and flow_claim != summary.flow):
            return self._refuse(
                by=by,
                request_id=None if summary is None else summary.id,
                reason=no_request_to_revoke(request_id),
                detail=f"unknown request or flow mismatch: {request_id}",
            )
        if not self.may_revoke(request_id=request_id, by=by):
            return self._refuse(
                by=by,
                request_id=summary.id,
                reason=REVOKE_NOT_ALLOWED,
                detail="not requester, grantee, approver or admin",
            )
        if summary.status is not Status.ACTIVE:
            return AlreadyDecided(summary)
        with self._store.write() as uow:
            asked = uow.grants.ask_revoke(request_id=request_id, by=by, at=self._clock.now())
        if asked:
            self.on_revoke()
        return Done(summary)
