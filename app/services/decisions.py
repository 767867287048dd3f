"""Approve, deny and cancel: checked at click time, decided by compare-and-swap.

The clicker must be a current approver of the request (resolved again now, so someone who left
the approving group can no longer decide) and not its requester; a click naming an unknown
request, or a request of another flow, is refused. Every refusal is audited. Of two racing
decisions exactly one wins; the other gets "already approved by X at T" and changes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from app.services.approvers import ApproverResolver
from app.services.catalog import CatalogService
from app.services.notifier import Notifier
from app.services.outcomes import AlreadyDecided, Done, NotAllowed, Outcome, refuse
from app.services.ports import Directory
from app.services.transitions import Transitions
from blocks.decisions import MAX_DENY_REASON
from domain.audit import AuditKind
from domain.clock import Clock
from domain.ids import RequestId, UserId
from domain.lifecycle import AccessRequest, Status, TransitionError
from domain.objects import AccessObject
from domain.people import Person
from domain.summary import RequestSummary
from store.repositories.requests import ConcurrentChange
from store.unit_of_work import Store

_log = logging.getLogger(__name__)


class DecisionService:
    def __init__(
        self,
        *,
        store: Store,
        catalog: CatalogService,
        approvers: ApproverResolver,
        directory: Directory,
        notifier: Notifier,
        transitions: Transitions,
        clock: Clock,
        on_approved: Callable[[], None] = lambda: None,
    ) -> None:
        self._store = store
        self._catalog = catalog
        self._approvers = approvers
        self._directory = directory
        self._notifier = notifier
        self._transitions = transitions
        self._clock = clock
        self.on_approved = on_approved

    # -- checks -----------------------------------------------------------------------------------

    def _refuse(
        self,
        *,
        kind: AuditKind,
        clicker: UserId,
        request_id: str | None,
        reason: str,
        detail: str,
    ) -> NotAllowed:
        return refuse(
            self._store,
            at=self._clock.now(),
            kind=kind,
            actor=clicker,
            request_id=request_id,
            reason=reason,
            detail=detail,
        )

    def refuse_malformed(self, *, clicker: UserId) -> NotAllowed:
        return self._refuse(
            kind=AuditKind.DECISION_REFUSED,
            clicker=clicker,
            request_id=None,
            reason="That button is not valid.",
            detail="malformed button value",
        )

    def _load(self, request_id: RequestId) -> tuple[AccessRequest, RequestSummary] | None:
        with self._store.read() as uow:
            request = uow.requests.get(request_id)
            summary = uow.requests.summary(request_id)
        if request is None or summary is None:
            return None
        return request, summary

    def check_approver(
        self, *, request_id: RequestId, flow_claim: str | None, clicker: UserId
    ) -> Outcome:
        """Whether ``clicker`` may decide on the request now (audited when not)."""
        loaded = self._load(request_id)
        if loaded is None:
            return self._refuse(
                kind=AuditKind.DECISION_REFUSED,
                clicker=clicker,
                request_id=None,
                reason="That request does not exist.",
                detail=f"unknown request {request_id}",
            )
        request, summary = loaded
        if flow_claim is not None and flow_claim != request.flow:
            return self._refuse(
                kind=AuditKind.DECISION_REFUSED,
                clicker=clicker,
                request_id=request.id,
                reason="That button does not belong to this request.",
                detail=f"flow mismatch: button says {flow_claim}, request has {request.flow}",
            )
        if clicker == request.requester:
            return self._refuse(
                kind=AuditKind.DECISION_REFUSED,
                clicker=clicker,
                request_id=request.id,
                reason="You cannot decide on your own request.",
                detail="requester clicked",
            )
        if request.status is not Status.PENDING:
            return AlreadyDecided(summary)
        record = self._catalog.flow(request.flow, fresh=True)
        requester = self._directory.person(request.requester) or Person(
            id=request.requester, name=summary.requester_name, email=summary.requester_email
        )
        if record is None or not self._approvers.is_approver(
            flow=record.flow, requester=requester, user=clicker
        ):
            return self._refuse(
                kind=AuditKind.DECISION_REFUSED,
                clicker=clicker,
                request_id=request.id,
                reason=f"You are not an approver of {request.id}.",
                detail="not a current approver",
            )
        return Done(summary)

    # -- decisions --------------------------------------------------------------------------------

    def decide(
        self,
        *,
        request_id: RequestId,
        flow_claim: str | None,
        clicker: UserId,
        approve: bool,
        reason: str | None = None,
    ) -> Outcome:
        allowed = self.check_approver(request_id=request_id, flow_claim=flow_claim, clicker=clicker)
        if not isinstance(allowed, Done):
            return allowed
        if approve:
            stale = self._stale_objects(request_id)
            if stale:
                sample = ", ".join(str(o) for o in stale[:3])
                return self._refuse(
                    kind=AuditKind.DECISION_REFUSED,
                    clicker=clicker,
                    request_id=request_id,
                    reason=(
                        f"The bundle changed after {request_id} was made: {len(stale):,} of its "
                        f"objects are no longer in it ({sample}). Deny it, and the requester "
                        "can request the current bundle again."
                    ),
                    detail=f"bundle changed; {len(stale)} objects no longer in it",
                )
        reason = (reason or "").strip()[:MAX_DENY_REASON] or None
        now = self._clock.now()
        try:
            with self._store.write() as uow:
                request = uow.requests.get(request_id)
                assert request is not None
                if approve:
                    updated, change = request.approve(by=clicker, at=now)
                else:
                    updated, change = request.deny(by=clicker, at=now, reason=reason)
                summary = self._transitions.record(uow, request=updated, change=change)
                self._notifier.decision_made(
                    uow, summary=summary, approvers=uow.requests.approvers(request_id), at=now
                )
        except (TransitionError, ConcurrentChange):
            return self._already(request_id)
        if approve:
            self.on_approved()
        return Done(summary)

    def _stale_objects(self, request_id: RequestId) -> list[AccessObject]:
        """Objects of a bundle request that its bundle no longer holds (never granted stale)."""
        with self._store.read() as uow:
            request = uow.requests.get(request_id)
            if request is None or request.bundle is None:
                return []
            bundle = uow.catalog.bundle(request.bundle)
            objects = uow.requests.objects(request_id)
            if bundle is None:
                return objects
            if bundle.version == uow.requests.bundle_version(request_id):
                return []
            return uow.catalog.contains_all(bundle_key=bundle.key, objects=objects)

    def _already(self, request_id: RequestId) -> Outcome:
        loaded = self._load(request_id)
        assert loaded is not None
        return AlreadyDecided(loaded[1])

    def cancel(self, *, request_id: RequestId, flow_claim: str | None, clicker: UserId) -> Outcome:
        loaded = self._load(request_id)
        if loaded is None or (flow_claim is not None and flow_claim != loaded[0].flow):
            return self._refuse(
                kind=AuditKind.CANCEL_REFUSED,
                clicker=clicker,
                request_id=None if loaded is None else loaded[0].id,
                reason="That request does not exist.",
                detail=f"unknown request or flow mismatch: {request_id}",
            )
        request, _ = loaded
        if clicker != request.requester:
            return self._refuse(
                kind=AuditKind.CANCEL_REFUSED,
                clicker=clicker,
                request_id=request.id,
                reason="Only the requester can cancel a request.",
                detail="not the requester",
            )
        now = self._clock.now()
        try:
            with self._store.write() as uow:
                current = uow.requests.get(request_id)
                assert current is not None
                updated, change = current.cancel(by=clicker, at=now)
                summary = self._transitions.record(uow, request=updated, change=change)
                self._notifier.decision_made(
                    uow, summary=summary, approvers=uow.requests.approvers(request_id), at=now
                )
        except (TransitionError, ConcurrentChange):
            return self._already(request_id)
        return Done(summary)
