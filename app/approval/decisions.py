"""Approve, deny and cancel: checked at click time, decided by compare-and-swap.

The clicker must be a current approver of the request (resolved again now, so someone who left
the approving group can no longer decide) and neither its requester nor the teammate it was
asked for; one who is an approver only as the requester's manager must also be the manager the
request was sent to; a click naming an unknown
request, or a request of another flow, is refused. Every refusal is audited. Of two racing
decisions exactly one wins; the other gets "already approved by X at T" and changes nothing.

An Approve click also checks that the requester may still have the access (flow active, still a
grantee, scope still offered, duration within the maximum); if not, the click is refused and
the request is denied by nobody, with the reason, in one transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from app.core.approvers import ApproverResolver
from app.core.catalog import CatalogService
from app.core.notifier import Notifier
from app.core.outcomes import AlreadyDecided, Done, NotAllowed, Outcome, refuse
from app.core.ports import Directory
from app.core.still_eligible import Ineligible, StillEligible, audit_refusal
from app.core.transitions import Transitions
from app.logs import for_request
from blocks.decisions import MAX_DENY_REASON
from blocks.refusals import (
    BUTTON_OF_ANOTHER_REQUEST,
    ONLY_REQUESTER_CANCELS,
    OWN_REQUEST,
    REQUEST_FOR_YOU,
    REQUEST_NOT_FOUND,
    bundle_changed_since,
    denied_as_ineligible,
    eligibility_unchecked,
    manager_named_since,
    not_an_approver,
)
from blocks.simple import INVALID_BUTTON
from domain.audit import AuditKind
from domain.clock import Clock
from domain.ids import RequestId, UserId
from domain.lifecycle import AccessRequest, Status, TransitionError
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
        still_eligible: StillEligible,
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
        self.still_eligible = still_eligible

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
            reason=INVALID_BUTTON,
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
                reason=REQUEST_NOT_FOUND,
                detail=f"unknown request {request_id}",
            )
        request, summary = loaded
        if flow_claim is not None and flow_claim != request.flow:
            return self._refuse(
                kind=AuditKind.DECISION_REFUSED,
                clicker=clicker,
                request_id=request.id,
                reason=BUTTON_OF_ANOTHER_REQUEST,
                detail=f"flow mismatch: button says {flow_claim}, request has {request.flow}",
            )
        if clicker == request.requester:
            return self._refuse(
                kind=AuditKind.DECISION_REFUSED,
                clicker=clicker,
                request_id=request.id,
                reason=OWN_REQUEST,
                detail="requester clicked",
            )
        if request.grantee is not None and clicker == request.grantee:
            # Asked on their behalf: the teammate who gets the access never decides on it.
            return self._refuse(
                kind=AuditKind.DECISION_REFUSED,
                clicker=clicker,
                request_id=request.id,
                reason=REQUEST_FOR_YOU,
                detail="grantee clicked",
            )
        if request.status is not Status.PENDING:
            return AlreadyDecided(summary)
        record = self._catalog.flow(request.flow, fresh=True)
        requester = self._directory.person(request.requester) or Person(
            id=request.requester, name=summary.requester_name, email=summary.requester_email
        )
        if record is None:
            # The flow is gone, so its approvers cannot be resolved: those who were asked may
            # still end the request (an Approve then denies it: see decide).
            with self._store.read() as uow:
                allowed = clicker in {a.id for a in uow.requests.approvers(request.id)}
        else:
            # The profile field is read now: a manager changed a minute ago counts.
            found = self._approvers.approver(
                flow=record.flow, requester=requester, user=clicker, fresh=True
            )
            allowed = found is not None
            if found is not None and found.only_as_manager:
                with self._store.read() as uow:
                    asked = {a.id for a in uow.requests.approvers(request.id)}
                if clicker not in asked:
                    # Named the manager after the request was sent (app/core/approvers.py).
                    return self._refuse(
                        kind=AuditKind.DECISION_REFUSED,
                        clicker=clicker,
                        request_id=request.id,
                        reason=manager_named_since(request.id),
                        detail="manager named after the request was sent",
                    )
        if not allowed:
            return self._refuse(
                kind=AuditKind.DECISION_REFUSED,
                clicker=clicker,
                request_id=request.id,
                reason=not_an_approver(request.id),
                detail="not a current approver",
            )
        return Done(summary)

    # -- decisions --------------------------------------------------------------------------------

    @for_request
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
            ended = self._deny_if_ineligible(request_id, clicker=clicker)
            if ended is not None:
                return ended
            stale = self.still_eligible.stale_bundle_objects(request_id)
            if stale:
                sample = ", ".join(str(o) for o in stale[:3])
                return self._refuse(
                    kind=AuditKind.DECISION_REFUSED,
                    clicker=clicker,
                    request_id=request_id,
                    reason=bundle_changed_since(
                        request_id=request_id, gone=len(stale), sample=sample
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

    def _deny_if_ineligible(self, request_id: RequestId, *, clicker: UserId) -> Outcome | None:
        """Refuse the approval and deny the request if its requester may no longer have it."""
        loaded = self._load(request_id)
        assert loaded is not None
        try:
            found = self.still_eligible.check(loaded[0])
        except Exception:  # the directory (Slack) did not answer: decide nothing, say so
            _log.exception("eligibility check failed", extra={"request": request_id})
            return self._refuse(
                kind=AuditKind.DECISION_REFUSED,
                clicker=clicker,
                request_id=request_id,
                reason=eligibility_unchecked(request_id),
                detail="eligibility check failed",
            )
        if found is None:
            return None
        return self._end_ineligible(request_id, clicker=clicker, found=found)

    def _end_ineligible(
        self, request_id: RequestId, *, clicker: UserId, found: Ineligible
    ) -> Outcome:
        now = self._clock.now()
        try:
            with self._store.write() as uow:
                request = uow.requests.get(request_id)
                assert request is not None
                denied, change = request.deny(by=None, at=now, reason=found.reason)
                audit_refusal(
                    uow, found, request_id=request_id, actor=clicker, at=now, when="approve"
                )
                summary = self._transitions.record(uow, request=denied, change=change)
                self._notifier.decision_made(
                    uow, summary=summary, approvers=uow.requests.approvers(request_id), at=now
                )
        except (TransitionError, ConcurrentChange):
            return self._already(request_id)
        _log.warning(
            "approval refused: no longer eligible",
            extra={"request": request_id, "actor": clicker, "detail": found.detail},
        )
        return NotAllowed(denied_as_ineligible(request_id=request_id, reason=found.reason))

    def _already(self, request_id: RequestId) -> Outcome:
        loaded = self._load(request_id)
        assert loaded is not None
        return AlreadyDecided(loaded[1])

    @for_request
    def cancel(self, *, request_id: RequestId, flow_claim: str | None, clicker: UserId) -> Outcome:
        loaded = self._load(request_id)
        if loaded is None or (flow_claim is not None and flow_claim != loaded[0].flow):
            return self._refuse(
                kind=AuditKind.CANCEL_REFUSED,
                clicker=clicker,
                request_id=None if loaded is None else loaded[0].id,
                reason=REQUEST_NOT_FOUND,
                detail=f"unknown request or flow mismatch: {request_id}",
            )
        request, _ = loaded
        if clicker != request.requester:
            return self._refuse(
                kind=AuditKind.CANCEL_REFUSED,
                clicker=clicker,
                request_id=request.id,
                reason=ONLY_REQUESTER_CANCELS,
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
