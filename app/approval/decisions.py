"""Approve, deny and cancel: checked at click time, decided by compare-and-swap.

The clicker must be a current approver of the request (resolved again now, so someone who left
the approving group can no longer decide) and neither its requester nor the teammate it was
asked for; one who is an approver only as the requester's manager must also be the manager the
request was sent to; a click naming an unknown
request, or a request of another flow, is refused. Every refusal is audited. Of two racing
decisions exactly one wins; the other gets "already approved by X at T" and changes nothing.

A flow's approval steps (README, "Approval steps") are decided in order: each click takes the
request's row lock by a compare-and-swap naming the current step, records the verdict (one per
approver and step, a unique key), counts it, and the approval that reaches the quorum ends the
step with a conditional UPDATE, then asks the next step or approves the request. One deny ends
the request in any step.

An Approve click also checks that the requester may still have the access (flow active, still a
grantee, scope still offered, duration within the maximum); if not, the click is refused and
the request is denied by nobody, with the reason, in one transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime

from app.core.approvers import ApproverResolver, Recorded, Scope, StepPlan
from app.core.catalog import CatalogService, FreshFlow
from app.core.notifier import Notifier
from app.core.outcomes import AlreadyDecided, Done, NotAllowed, Outcome, refuse
from app.core.ports import Directory
from app.core.still_eligible import (
    Ineligible,
    StillEligible,
    audit_refusal,
    stale_bundle_objects,
)
from app.core.transitions import Transitions
from app.logs import for_request
from blocks.decisions import MAX_APPROVE_REASON, MAX_DENY_REASON, already_voted, step_already_done
from blocks.reasons import step_unreachable
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
from domain.approval_steps import ApprovalProgress
from domain.audit import AuditEvent, AuditKind
from domain.clock import Clock
from domain.ids import RequestId, UserId
from domain.lifecycle import AccessRequest, Status, StatusChange, TransitionError
from domain.objects import AccessObject
from domain.people import Person
from domain.summary import RequestSummary
from store.repositories.requests import AlreadyVoted, AskedApprover, ConcurrentChange
from store.unit_of_work import Store, UnitOfWork

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
            return uow.requests.with_summary(request_id)

    def _snapshot(self, request_id: RequestId) -> _Snapshot | None:
        """Everything a click is checked and decided on, in one read: the checks and the
        decision's plan use it, and the decision's transaction holds the request's step lock
        and reads the request again under it, so nothing here is trusted past that lock."""
        with self._store.read() as uow:
            loaded = uow.requests.with_summary(request_id)
            if loaded is None:
                return None
            progress = uow.requests.progress(request_id)
            step = (
                progress.current if progress is not None else uow.requests.current_step(request_id)
            )
            return _Snapshot(
                request=loaded[0],
                summary=loaded[1],
                step=step,
                progress=progress,
                asked=uow.requests.approvers(request_id),
                flow=self._catalog.fresh_flow(uow, loaded[0].flow),
                stale=stale_bundle_objects(uow, request_id),
            )

    def check_approver(
        self, *, request_id: RequestId, flow_claim: str | None, clicker: UserId
    ) -> Outcome:
        """Whether ``clicker`` may decide on the request now (audited when not)."""
        return self._check(self._snapshot(request_id), request_id, flow_claim, clicker)

    def _check(
        self,
        loaded: _Snapshot | None,
        request_id: RequestId,
        flow_claim: str | None,
        clicker: UserId,
    ) -> Outcome:
        if loaded is None:
            return self._refuse(
                kind=AuditKind.DECISION_REFUSED,
                clicker=clicker,
                request_id=None,
                reason=REQUEST_NOT_FOUND,
                detail=f"unknown request {request_id}",
            )
        request, summary = loaded.request, loaded.summary
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
        record = loaded.flow.record
        requester = self._requester(request, summary)
        step, asked = loaded.step, loaded.asked
        if record is None:
            # The flow is gone, so its approvers cannot be resolved: those who were asked in
            # this step may still end the request (an Approve then denies it: see decide).
            allowed = clicker in {a.id for a in asked if a.step == step}
        else:
            # Resolved again now: someone who left the approving group can no longer decide,
            # and the profile field is read now: a manager changed a minute ago counts.
            found = self._approvers.step_approver(
                flow=record.flow,
                index=step,
                requester=requester,
                user=clicker,
                scope=_scope(request, summary),
                exclude=[a.id for a in asked if a.step < step],
                fresh=True,
            )
            allowed = found is not None
            if (
                found is not None
                and found.only_as_manager
                and clicker not in {a.id for a in asked if a.step == step}
            ):
                # Named the manager after the request was sent (app/core/approvers.py); a later
                # step asks the manager recorded at submission (_recorded).
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

    def _requester(self, request: AccessRequest, summary: RequestSummary) -> Person:
        return self._directory.person(request.requester) or Person(
            id=request.requester, name=summary.requester_name, email=summary.requester_email
        )

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
        loaded = self._snapshot(request_id)
        allowed = self._check(loaded, request_id, flow_claim, clicker)
        if not isinstance(allowed, Done):
            return allowed
        assert loaded is not None
        if approve:
            ended = self._deny_if_ineligible(loaded, clicker=clicker)
            if ended is not None:
                return ended
            stale = loaded.stale
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
        limit = MAX_APPROVE_REASON if approve else MAX_DENY_REASON
        reason = (reason or "").strip()[:limit] or None
        now = self._clock.now()
        request, summary = loaded.request, loaded.summary
        step, progress, asked = loaded.step, loaded.progress, loaded.asked
        ahead = self._next_step(request, summary, progress, asked, approve=approve, clicker=clicker)
        try:
            with self._store.write() as uow:
                # The other approver's click may have won since the snapshot: then nothing is
                # written, and the transaction ends in COMMIT, as a ROLLBACK would make psycopg
                # forget every statement it prepared on the connection.
                held = uow.requests.hold_step(request_id=request_id, step=step)
                if held:
                    locked = uow.requests.get(request_id)  # as the lock found it
                    assert locked is not None
                    request = locked
                    if progress is None:
                        # Made without steps (before they existed, or written by hand): one step,
                        # quorum any, as its flow then meant.
                        uow.requests.add_steps(
                            request_id=request_id,
                            quorums=["any"],
                            first_needed=1,
                            at=request.created_at,
                        )
                    uow.requests.record_decision(
                        request_id=request_id,
                        step=step,
                        approver=clicker,
                        approver_name=self._name_of(clicker, asked),
                        approved=approve,
                        reason=reason,
                        at=now,
                    )
                    steps = progress.total if progress is not None else 1
                    where = {"step": step + 1, "steps": steps}
                    if not approve:
                        updated, change = request.deny(by=clicker, at=now, reason=reason)
                        after = uow.requests.progress(request_id)  # read once for every message
                        summary = self._transitions.record(
                            uow, request=updated, change=change, audit=where, progress=after
                        )
                        self._notifier.decision_made(
                            uow,
                            summary=summary,
                            approvers=uow.requests.approvers(request_id),
                            at=now,
                            progress=after,
                        )
                        return Done(summary)
                    count, needed = uow.requests.count_approval(request_id=request_id, step=step)
                    if count < needed or step + 1 < steps:
                        if count >= needed:
                            uow.requests.complete_step(request_id=request_id, step=step, at=now)
                            upcoming = ahead or self._plan_next(request, summary, step + 1, uow)
                            if upcoming is None or not upcoming.possible:
                                return self._fail_unreachable(
                                    uow, request=request, step=step + 1, steps=steps, at=now
                                )
                            self._start(uow, request=request, plan=upcoming, at=now)
                        uow.audit.append(
                            AuditEvent(
                                kind=AuditKind.APPROVAL_RECORDED,
                                at=now,
                                actor=clicker,
                                request_id=request_id,
                                data={
                                    **where,
                                    "approvals": count,
                                    "needed": needed,
                                    "reason": reason,
                                },
                            )
                        )
                        current = uow.requests.summary(request_id)
                        assert current is not None
                        everyone = uow.requests.approvers(request_id)
                        self._notifier.approval_counted(
                            uow,
                            summary=current,
                            actor=clicker,
                            step=step,
                            reason=reason,
                            asked_before=[a for a in everyone if a.step <= step],
                            asked_now=[a for a in everyone if a.step > step],
                            at=now,
                        )
                        return Done(current, progress=uow.requests.progress(request_id))
                    uow.requests.complete_step(request_id=request_id, step=step, at=now)
                    updated, change = request.approve(by=clicker, at=now)
                    updated, change = _with_reason(updated, change, reason)
                    after = uow.requests.progress(request_id)  # read once for every message
                    summary = self._transitions.record(
                        uow,
                        request=updated,
                        change=change,
                        audit={**where, "approvals": count},
                        progress=after,
                    )
                    self._notifier.decision_made(
                        uow,
                        summary=summary,
                        approvers=uow.requests.approvers(request_id),
                        at=now,
                        progress=after,
                    )
        except AlreadyVoted:
            return self._refuse(
                kind=AuditKind.DECISION_REFUSED,
                clicker=clicker,
                request_id=request_id,
                reason=already_voted(request_id),
                detail=f"already decided in step {step + 1}",
            )
        except (TransitionError, ConcurrentChange):
            return self._already(request_id)
        if not held:
            return self._already(request_id)
        self.on_approved()
        return Done(summary)

    # -- steps ----------------------------------------------------------------------------------

    def _next_step(
        self,
        request: AccessRequest,
        summary: RequestSummary,
        progress: ApprovalProgress | None,
        asked: list[AskedApprover],
        *,
        approve: bool,
        clicker: UserId,
    ) -> StepPlan | None:
        """The next step's approvers, resolved before the transaction (Slack is not called while
        the request is locked) when this approval may well end the current step."""
        current = progress.current_step if progress is not None else None
        if not approve or progress is None or current is None:
            return None
        if current.index + 1 >= progress.total or current.count + 1 < current.needed:
            return None
        record = self._catalog.flow(request.flow)
        if record is None or current.index + 1 >= len(record.flow.steps):
            return None
        with self._store.read() as uow:
            recorded = _recorded(uow, request.id)
        return self._approvers.step(
            flow=record.flow,
            index=current.index + 1,
            requester=self._requester(request, summary),
            scope=_scope(request, summary),
            exclude={
                clicker,
                *(a.id for a in asked),
                *(a.approver for a in current.approvals),
                *([request.grantee] if request.grantee is not None else []),
            },
            recorded=recorded,
        )

    def _plan_next(
        self, request: AccessRequest, summary: RequestSummary, index: int, uow: UnitOfWork
    ) -> StepPlan | None:
        """The next step, when the one resolved ahead did not apply (another approval came in
        between): resolved under the lock."""
        record = self._catalog.flow(request.flow)
        if record is None or index >= len(record.flow.steps):
            return None
        taken = {a.id for a in uow.requests.approvers(request.id)}
        taken |= {d.approver for d in uow.requests.decisions(request.id)}
        if request.grantee is not None:  # the teammate the access is for never decides
            taken.add(request.grantee)
        return self._approvers.step(
            flow=record.flow,
            index=index,
            requester=self._requester(request, summary),
            scope=_scope(request, summary),
            exclude=taken,
            recorded=_recorded(uow, request.id),
        )

    def _start(
        self, uow: UnitOfWork, *, request: AccessRequest, plan: StepPlan, at: datetime
    ) -> None:
        record = self._catalog.flow(request.flow)
        remind = record.flow.remind_after if record is not None else None
        uow.requests.start_step(
            request_id=request.id,
            step=plan.index,
            needed=plan.needed,
            at=at,
            next_reminder_at=at + remind if remind else None,
        )
        uow.requests.add_approvers(
            request_id=request.id,
            approvers=[
                AskedApprover(
                    id=a.id,
                    name=a.person.name,
                    email=a.person.email,
                    reasons=a.reasons,
                    step=plan.index,
                )
                for a in plan.approvers
            ],
            at=at,
        )

    def _fail_unreachable(
        self, uow: UnitOfWork, *, request: AccessRequest, step: int, steps: int, at: datetime
    ) -> Outcome:
        failed, change = request.fail(at=at, reason=step_unreachable(step=step + 1, steps=steps))
        summary = self._transitions.record(uow, request=failed, change=change)
        self._notifier.decision_made(
            uow, summary=summary, approvers=uow.requests.approvers(request.id), at=at
        )
        return Done(summary)

    @staticmethod
    def _name_of(clicker: UserId, asked: list[AskedApprover]) -> str:
        return next((a.name for a in asked if a.id == clicker), "")

    def _deny_if_ineligible(self, loaded: _Snapshot, *, clicker: UserId) -> Outcome | None:
        """Refuse the approval and deny the request if its requester may no longer have it."""
        request_id = loaded.request.id
        try:
            found = self.still_eligible.check(loaded.request, read=loaded.flow)
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
        summary = loaded[1]
        if summary.status is Status.PENDING:
            # Still pending, so the step the click was for has reached its quorum meanwhile.
            with self._store.read() as uow:
                progress = uow.requests.progress(request_id)
            if progress is not None:
                return NotAllowed(
                    step_already_done(
                        request_id=request_id,
                        step=max(progress.current - 1, 0),
                        steps=progress.total,
                    )
                )
        return AlreadyDecided(summary)

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


@dataclass(frozen=True, slots=True)
class _Snapshot:
    """A request as one click found it, before the decision's lock."""

    request: AccessRequest
    summary: RequestSummary
    step: int
    progress: ApprovalProgress | None
    asked: list[AskedApprover]
    flow: FreshFlow
    """The request's flow as the catalog holds it now, read with the request."""
    stale: list[AccessObject]
    """Objects the request's bundle no longer holds (approving them is refused)."""


def _recorded(uow: UnitOfWork, request_id: RequestId) -> Recorded:
    """The manager recorded at submission: a later step that names the manager asks that one,
    so a manager set after the request began never decides on it (README, "Managers")."""
    submitted = next(
        (e for e in uow.audit.for_request(request_id) if e.kind is AuditKind.REQUEST_SUBMITTED),
        None,
    )
    manager = submitted.data.get("manager") if submitted is not None else None
    return Recorded(manager=UserId(manager) if isinstance(manager, str) else None)


def _scope(request: AccessRequest, summary: RequestSummary) -> Scope:
    return Scope(integrations=tuple(p.integration for p in summary.parts), bundle=request.bundle)


def _with_reason(
    request: AccessRequest, change: StatusChange, reason: str | None
) -> tuple[AccessRequest, StatusChange]:
    """The last approval's comment travels with the status change: the requester reads it in
    the approval message and the audit log keeps it."""
    if reason is None:
        return request, change
    return replace(request, reason=reason), replace(change, reason=reason)
