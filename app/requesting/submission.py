"""Submitting a request: every rule checked again on the server, then one request stored with
its audit event and the messages it causes, in one transaction.

One form makes at most one request: the request row carries the form's draft key under a
unique index, so of two submissions racing (a double click, a retried envelope) the database
lets exactly one in; the other is answered with the request the first one made."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from app.core.approvers import ApproverResolver, Scope, StepPlan
from app.core.catalog import CatalogService
from app.core.notifier import Notifier
from app.core.oncall.service import OnCall, OnCallAnswer
from app.core.ports import Directory
from app.core.transitions import Transitions, submission_change
from app.logs import for_request, note_request
from app.requesting.eligibility import EligibilityService, UserAccess
from app.requesting.modal import FormInput
from blocks.break_glass import (
    BREAK_GLASS_UNAVAILABLE,
    REASON_REQUIRED,
    break_glass_not_offered,
    daily_limit_reached,
    reason_too_long,
)
from blocks.reasons import NO_APPROVER, step_unreachable
from blocks.request_modal import MAX_JUSTIFICATION
from blocks.request_notices import (
    BREAK_GLASS_ONLY_FOR_YOURSELF,
    BUNDLE_GONE,
    CHOOSE_OFFERED_DURATION,
    MANAGER_IS_YOURSELF,
    NO_FLOW_FOR_OBJECTS,
    NOTHING_TO_REQUEST,
    PICK_A_BUNDLE,
    PICK_AN_OBJECT,
    SUBMITTED_BUNDLE_NOT_OFFERED,
    SUBMITTED_FORM_EXPIRED,
    bundle_edited_meanwhile,
    cannot_request_for,
    choose_a_duration,
    duration_over_maximum,
    flow_deactivated_meanwhile,
    flow_no_longer_offers_bundle,
    justification_too_long,
    on_behalf_not_offered,
    on_call_unknown,
    outside_bundle,
    reason_required,
    teammate_not_a_grantee,
    too_many_selected,
)
from domain.audit import AuditEvent, AuditKind
from domain.break_glass import MAX_REASON, Trigger, clamp_duration, day_of, over_daily_limit
from domain.catalog import FlowRecord
from domain.clock import Clock
from domain.drafts import Draft, Mode
from domain.durations import DurationError, format_duration, parse_duration
from domain.ids import RequestId, UserId, new_request_id
from domain.lifecycle import AccessRequest, Status
from domain.objects import MAX_OBJECTS_PER_REQUEST, AccessObject
from domain.people import Person
from domain.policy import AccessFlow
from domain.summary import RequestSummary
from store.repositories.requests import (
    AlreadySubmitted,
    AskedApprover,
    EmptyRequest,
    RequesterSnapshot,
)
from store.unit_of_work import Store, UnitOfWork

_log = logging.getLogger(__name__)


class Field(StrEnum):
    """Where an error is shown in the modal."""

    BUNDLE = "bundle"
    OBJECTS = "objects"
    FLOW = "flow"
    DURATION = "duration"
    JUSTIFICATION = "justification"
    BREAK_GLASS = "break_glass"
    GRANTEE = "grantee"


@dataclass(frozen=True, slots=True)
class Refused:
    errors: dict[Field, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Approval:
    """How a submitted request is decided: on its own, or by the approvers, and why."""

    automatic: bool
    why: str
    """For the audit event, e.g. ``outside the flow's windows``."""
    fallback: OnCallAnswer | None = None
    """The on-call answer that could not be had, when the flow fell back to its approvers."""


@dataclass(frozen=True, slots=True)
class Submitted:
    request_id: RequestId
    status: Status
    object_count: int
    approvers: tuple[str, ...]
    flow: str
    bundle: str | None
    break_glass: timedelta | None = None
    """Break-glass access granted at once for this long (README, "Break-glass")."""
    grantee: UserId | None = None
    """The teammate it was asked for (README, "On behalf of a teammate")."""


class BreakGlassAlarm(Protocol):
    """Tells everyone about a break-glass request, in the transaction that makes it."""

    def sound(
        self,
        uow: UnitOfWork,
        *,
        summary: RequestSummary,
        approvers: Sequence[UserId],
        at: datetime,
    ) -> list[str]:
        """Queue the alarm for the audit channel, each of ``approvers`` and each admin; the
        channels and people told."""
        ...


@dataclass(frozen=True, slots=True)
class _BreakGlassUse:
    duration: timedelta
    used_today: int
    daily_limit: int


class _DailyLimitReached(Exception):
    """Another break-glass submission of the same person and flow took the last use of the day
    between the modal's check and this one; nothing was written."""


class SubmissionService:
    def __init__(
        self,
        *,
        store: Store,
        catalog: CatalogService,
        eligibility: EligibilityService,
        approvers: ApproverResolver,
        directory: Directory,
        notifier: Notifier,
        transitions: Transitions,
        clock: Clock,
        unavailable: Callable[[Mapping[str, int]], str | None] = lambda counts: None,
        on_approved: Callable[[], None] = lambda: None,
        limit: int = MAX_OBJECTS_PER_REQUEST,
        on_call: OnCall | None = None,
        alarm: BreakGlassAlarm | None = None,
    ) -> None:
        """``unavailable``: why a draft's selection (its objects per integration) may not be
        submitted now (objects of an integration whose admin login has not passed its check),
        from the request modal.
        ``alarm``: the break-glass feature's; without one, break-glass is refused."""
        self._store = store
        self._catalog = catalog
        self._eligibility = eligibility
        self._approvers = approvers
        self._directory = directory
        self._notifier = notifier
        self._transitions = transitions
        self._clock = clock
        self._unavailable = unavailable
        self.on_approved = on_approved
        self.limit = limit
        self._on_call = on_call
        self._alarm = alarm

    @for_request
    def submit(self, *, draft_key: str, user: UserId, form: FormInput) -> Submitted | Refused:
        with self._store.read() as uow:
            earlier = uow.requests.by_form(draft_key)
            draft = uow.drafts.get(draft_key)
            counts = uow.drafts.counts(draft_key) if draft else {}
            # Bundle selections are checked in SQL; single objects need their flows matched.
            items = uow.drafts.items(draft_key) if draft and draft.mode is Mode.INTEGRATIONS else []
        if earlier is not None:
            return self._made_by_form(draft_key, user)
        if draft is None or draft.user_id != user:
            return Refused({Field.OBJECTS: SUBMITTED_FORM_EXPIRED})
        count, touched = sum(counts.values()), tuple(sorted(counts))
        if (blocked := self._unavailable(counts)) is not None:
            self._audit_refusal(user=user, draft=draft, errors={Field.OBJECTS: blocked})
            return Refused({Field.OBJECTS: blocked})
        # The modal may have shown a catalog half a second old; the submission may not use it.
        access = self._eligibility.access_for(user, fresh=True)
        errors: dict[Field, str] = {}
        record = self._check_scope(draft, access, count, items, errors)
        duration = self._check_duration(record.flow if record else None, form, errors)
        justification = (form.justification or "").strip()
        if len(justification) > MAX_JUSTIFICATION:
            errors[Field.JUSTIFICATION] = justification_too_long(MAX_JUSTIFICATION)
        elif record and record.flow.justification == "required" and not justification:
            errors[Field.JUSTIFICATION] = reason_required(record.flow.name)
        glass: _BreakGlassUse | None = None
        if form.break_glass and record is not None:
            glass = self._check_break_glass(
                record.flow, user=user, reason=justification, duration=duration, errors=errors
            )
        grantee: Person | None = None
        if form.grantee and form.grantee != user and record is not None:
            grantee = self._check_grantee(
                record.flow, UserId(form.grantee), break_glass=form.break_glass, errors=errors
            )
        if errors or record is None or duration is None:
            self._audit_refusal(
                user=user,
                draft=draft,
                errors=errors,
                break_glass=form.break_glass,
                use=glass,
                grantee=form.grantee,
            )
            return Refused(errors or {Field.OBJECTS: NOTHING_TO_REQUEST})
        requester = self._directory.person(user) or Person(id=user, name=user)
        flow = record.flow
        granted_by = access.on_call.get(flow.name)
        if glass is not None and not (granted_by is not None and granted_by.unknown):
            # Break-glass skips approval and its conditions, loudly (its alarm); never for a
            # requester who is a grantee only because the on-call service could not be asked.
            approval: Approval | None = Approval(automatic=flow.automatic, why="break-glass")
        else:
            approval = self._approval(flow, access)
        if approval is None or (glass is not None and approval.fallback is not None):
            errors = {Field.OBJECTS: on_call_unknown(flow.name)}
            self._audit_refusal(user=user, draft=draft, errors=errors)
            return Refused(errors)
        if glass is None and self._approvers.names_self(flow=flow, requester=requester):
            errors = {Field.FLOW: MANAGER_IS_YOURSELF}
            self._audit_refusal(user=user, draft=draft, errors=errors)
            return Refused(errors)
        bundle = draft.bundle if draft.mode is Mode.BUNDLE else None
        # Read the manager's profile field now: the manager recorded here is the one who may
        # decide as the manager, in whichever step names it (app/approval/decisions.py).
        # Neither the requester nor the teammate the access is for decides on it.
        steps = (
            []
            if approval.automatic and glass is None
            else self._approvers.plan(
                flow=flow,
                requester=requester,
                scope=Scope(integrations=touched, bundle=bundle),
                fresh=True,
                grantee=grantee.id if grantee is not None else None,
            )
        )
        manager = next(
            (a.id for step in steps for a in step.approvers if "manager" in a.grounds), None
        )
        # Only the first step is asked now; later ones when their turn comes (app/approval).
        approvers = list(steps[0].approvers) if steps else []
        try:
            return self._insert(
                draft=draft,
                requester=requester,
                grantee=grantee,
                record=record,
                count=count,
                duration=glass.duration if glass else duration,
                justification=justification,
                approval=approval,
                manager=manager,
                glass=glass,
                approvers=[
                    AskedApprover(
                        id=a.id, name=a.person.name, email=a.person.email, reasons=a.reasons
                    )
                    for a in approvers
                ],
                steps=steps,
            )
        except AlreadySubmitted:
            # Another submission of this form won the race a moment ago: give its answer.
            return self._made_by_form(draft.key, requester.id)
        except _DailyLimitReached:
            assert glass is not None
            errors = {
                Field.BREAK_GLASS: daily_limit_reached(flow=flow.name, limit=glass.daily_limit)
            }
            self._audit_refusal(
                user=requester.id, draft=draft, errors=errors, break_glass=True, use=glass
            )
            return Refused(errors)
        except EmptyRequest:
            errors = {Field.OBJECTS: PICK_AN_OBJECT}
            self._audit_refusal(user=requester.id, draft=draft, errors=errors)
            return Refused(errors)

    # -- automatic approval (README, "Conditions on automatic approval") -------------------------

    def _approval(self, flow: AccessFlow, access: UserAccess) -> Approval | None:
        """Automatic or by the approvers; ``None``: refused (an on-call service that cannot be
        asked, and a flow whose ``on_call_unavailable`` is ``deny``)."""
        granted_by = access.on_call.get(flow.name)
        if granted_by is not None and granted_by.unknown:
            # A grantee only through the fallback: the approvers decide (audited already).
            return Approval(automatic=False, why="on-call service unknown", fallback=granted_by)
        if flow.automatic:
            return Approval(automatic=True, why="approvers: automatic")
        conditions = flow.auto_approval
        if conditions is None:
            return Approval(automatic=False, why="approvers")
        now = self._clock.now()
        if conditions.windows and not any(w.contains(now) for w in conditions.windows):
            return Approval(automatic=False, why="outside the automatic approval windows")
        if conditions.requester_on_call:
            answer = granted_by or (
                self._on_call.status(flow.grantees.on_call, email=access.identity.email)
                if self._on_call is not None
                else None
            )
            if answer is None or not (answer.on or answer.unknown):
                return Approval(automatic=False, why="requester not on call")
            if answer.unknown:
                assert self._on_call is not None
                self._on_call.audit_fallback(
                    flow=flow,
                    user=access.identity.user_id,
                    answer=answer,
                    fallback=flow.on_call_unavailable,
                    when="automatic approval",
                )
                if flow.on_call_unavailable == "deny":
                    return None
                return Approval(automatic=False, why="on-call service unknown", fallback=answer)
        return Approval(automatic=True, why="automatic approval conditions hold")

    # -- checks -----------------------------------------------------------------------------------

    def _check_scope(
        self,
        draft: Draft,
        access: UserAccess,
        count: int,
        items: list[AccessObject],
        errors: dict[Field, str],
    ) -> FlowRecord | None:
        if not count:
            errors[Field.OBJECTS] = PICK_AN_OBJECT
        elif count > self.limit:
            errors[Field.OBJECTS] = too_many_selected(count=count, limit=self.limit)
        if draft.mode is Mode.BUNDLE:
            return self._check_bundle(draft, access, errors)
        candidates = access.flows_for_objects(items) if items else []
        record = next((r for r in candidates if r.flow.name == draft.flow), None)
        if record is None and candidates:
            record = candidates[0]
        if items and record is None:
            errors[Field.OBJECTS] = NO_FLOW_FOR_OBJECTS
        return record

    def _check_bundle(
        self, draft: Draft, access: UserAccess, errors: dict[Field, str]
    ) -> FlowRecord | None:
        if draft.bundle is None:
            errors[Field.BUNDLE] = PICK_A_BUNDLE
            return None
        flows = access.flows_for_bundle(draft.bundle)
        if not flows:
            was = next((r for r in self._catalog.flows() if r.flow.name == draft.flow), None)
            if was is not None and not was.flow.active:
                errors[Field.BUNDLE] = flow_deactivated_meanwhile(was.flow.name)
            else:
                errors[Field.BUNDLE] = SUBMITTED_BUNDLE_NOT_OFFERED
            return None
        with self._store.read() as uow:
            header = uow.catalog.bundle_header(draft.bundle)
            outside, sample = (
                uow.drafts.missing_from_bundle(draft.key, bundle_key=header[0], limit=1)
                if header is not None
                else (0, [])
            )
            found = self._catalog.fresh_bundle(uow, draft.bundle) if header is not None else None
        bundle = found[0] if found else None
        if bundle is None:
            errors[Field.BUNDLE] = BUNDLE_GONE
            return None
        if bundle.version != draft.bundle_version:
            errors[Field.BUNDLE] = bundle_edited_meanwhile(bundle.object_count)
            return None
        if outside:
            errors[Field.OBJECTS] = outside_bundle(
                count=outside, bundle=bundle.name, example=str(sample[0])
            )
        record = next((r for r in flows if r.flow.name == draft.flow), None)
        if record is None:
            if draft.flow is not None and len(flows) > 0:
                errors[Field.FLOW] = flow_no_longer_offers_bundle(draft.flow)
                return None
            record = flows[0]
        return record

    @staticmethod
    def _check_duration(
        flow: AccessFlow | None, form: FormInput, errors: dict[Field, str]
    ) -> timedelta | None:
        if flow is None:
            return None
        if not form.duration:
            return flow.duration.default
        try:
            duration = parse_duration(form.duration)
        except DurationError:
            errors[Field.DURATION] = CHOOSE_OFFERED_DURATION
            return None
        offered = flow.duration.offered()
        if duration > flow.duration.max:
            errors[Field.DURATION] = duration_over_maximum(
                maximum=flow.duration.max, flow=flow.name
            )
            return None
        # Only what the menu offered: a forged value between two options is not one of them.
        if duration not in offered:
            errors[Field.DURATION] = choose_a_duration(offered)
            return None
        return duration

    def _check_break_glass(
        self,
        flow: AccessFlow,
        *,
        user: UserId,
        reason: str,
        duration: timedelta | None,
        errors: dict[Field, str],
    ) -> _BreakGlassUse | None:
        """Whether ``user`` may break the glass of ``flow`` now, and for how long."""
        policy = flow.break_glass
        if policy is None:
            errors[Field.BREAK_GLASS] = break_glass_not_offered(flow.name)
            return None
        if self._alarm is None:
            # Break-glass without its alarm would be silent access: never.
            errors[Field.BREAK_GLASS] = BREAK_GLASS_UNAVAILABLE
            return None
        if not reason:
            errors[Field.JUSTIFICATION] = REASON_REQUIRED
        elif len(reason) > MAX_REASON:
            errors[Field.JUSTIFICATION] = reason_too_long(MAX_REASON)
        since, until = day_of(self._clock.now())
        with self._store.read() as uow:
            used = uow.requests.break_glass_uses(
                requester=user, flow=flow.name, since=since, until=until
            )
        use = _BreakGlassUse(
            duration=clamp_duration(
                requested=duration or flow.duration.default, ceiling=policy.max_duration
            ),
            used_today=used,
            daily_limit=policy.daily_limit,
        )
        if over_daily_limit(used_today=used, limit=policy.daily_limit):
            errors[Field.BREAK_GLASS] = daily_limit_reached(
                flow=flow.name, limit=policy.daily_limit
            )
        return use

    def _check_grantee(
        self,
        flow: AccessFlow,
        teammate: UserId,
        *,
        break_glass: bool,
        errors: dict[Field, str],
    ) -> Person | None:
        """The teammate ``flow``'s access may be requested for: the flow allows it, they are an
        active person (no bot, nobody deactivated) and a grantee of the flow themselves, asked
        of the directory now (README, "On behalf of a teammate")."""
        if not flow.on_behalf:
            errors[Field.GRANTEE] = on_behalf_not_offered(flow.name)
            return None
        if break_glass:
            errors[Field.GRANTEE] = BREAK_GLASS_ONLY_FOR_YOURSELF
            return None
        person = self._directory.person(teammate)
        if person is None or not person.can_act:
            errors[Field.GRANTEE] = cannot_request_for(teammate)
            return None
        if self._eligibility.access_for(teammate, fresh=True).flow(flow.name) is None:
            errors[Field.GRANTEE] = teammate_not_a_grantee(user=teammate, flow=flow.name)
            return None
        return person

    def _audit_refusal(
        self,
        *,
        user: UserId,
        draft: Draft,
        errors: dict[Field, str],
        break_glass: bool = False,
        use: _BreakGlassUse | None = None,
        grantee: str | None = None,
    ) -> None:
        data: dict[str, Any] = {
            "bundle": draft.bundle,
            "flow": draft.flow,
            "errors": {k.value: v for k, v in errors.items()},
        }
        if grantee:
            data |= {"requested_by": user, "grantee": grantee}
        if use is not None:
            data |= {"used_today": use.used_today, "daily_limit": use.daily_limit}
        with self._store.write() as uow:
            uow.audit.append(
                AuditEvent(
                    kind=AuditKind.BREAK_GLASS_REFUSED
                    if break_glass
                    else AuditKind.SUBMISSION_REFUSED,
                    at=self._clock.now(),
                    actor=user,
                    data=data,
                )
            )

    # -- storing --------------------------------------------------------------------------------

    def _made_by_form(self, draft_key: str, user: UserId) -> Submitted | Refused:
        """The answer the submission that made this form's request got."""
        with self._store.read() as uow:
            request_id = uow.requests.by_form(draft_key)
            request = uow.requests.get(request_id) if request_id else None
            summary = uow.requests.summary(request_id) if request_id else None
            asked = uow.requests.approvers(request_id) if request_id else []
        if request is None or summary is None or request.requester != user:
            return Refused({Field.OBJECTS: SUBMITTED_FORM_EXPIRED})
        if request.automatic or request.trigger is Trigger.BREAK_GLASS:
            status = Status.APPROVED
        elif not asked:
            status = Status.FAILED  # nobody but the requester could approve it
        else:
            status = Status.PENDING
        return Submitted(
            request_id=request.id,
            status=status,
            object_count=summary.object_count,
            approvers=tuple(a.id for a in asked),
            flow=request.flow,
            bundle=request.bundle,
            break_glass=request.duration if request.trigger is Trigger.BREAK_GLASS else None,
            grantee=request.grantee,
        )

    def _insert(
        self,
        *,
        draft: Draft,
        requester: Person,
        record: FlowRecord,
        count: int,
        duration: timedelta,
        justification: str,
        approval: Approval,
        manager: UserId | None,
        approvers: list[AskedApprover],
        steps: Sequence[StepPlan] = (),
        glass: _BreakGlassUse | None = None,
        grantee: Person | None = None,
    ) -> Submitted:
        flow = record.flow
        automatic = approval.automatic
        now = self._clock.now()
        # Break-glass is approved by nobody, like an automatic flow, and never waits.
        waits = not automatic and glass is None
        with self._store.write() as uow:
            if glass is not None:
                # Counted again under a lock: two break-glass submissions at once cannot both
                # take the day's last use.
                uow.requests.hold_break_glass(requester=requester.id, flow=flow.name)
                since, until = day_of(now)
                used = uow.requests.break_glass_uses(
                    requester=requester.id, flow=flow.name, since=since, until=until
                )
                if over_daily_limit(used_today=used, limit=glass.daily_limit):
                    raise _DailyLimitReached
                glass = replace(glass, used_today=used)
            request_id = _unused_id(uow)
            note_request(request_id)
            request = AccessRequest(
                id=request_id,
                requester=requester.id,
                flow=flow.name,
                bundle=draft.bundle if draft.mode is Mode.BUNDLE else None,
                duration=duration,
                justification=justification,
                status=Status.PENDING,
                created_at=now,
                automatic=automatic,
                last_actor=requester.id,
                last_change_at=now,
                trigger=Trigger.BREAK_GLASS if glass else Trigger.NORMAL,
                grantee=grantee.id if grantee else None,
            )
            summary = uow.requests.add(
                request=request,
                requester=RequesterSnapshot(
                    id=requester.id, name=requester.name, email=requester.email
                ),
                grantee=RequesterSnapshot(id=grantee.id, name=grantee.name, email=grantee.email)
                if grantee
                else None,
                from_draft=draft.key,
                bundle_version=draft.bundle_version if request.bundle else None,
                timeout_at=now + flow.approval_timeout if waits else None,
                next_reminder_at=(
                    now + flow.remind_after if flow.remind_after and waits and approvers else None
                ),
            )
            uow.audit.append(
                AuditEvent(
                    kind=AuditKind.REQUEST_SUBMITTED,
                    at=now,
                    actor=requester.id,
                    request_id=request_id,
                    data={
                        "flow": flow.name,
                        "flow_version": record.version,
                        "bundle": request.bundle,
                        "objects": count,
                        "duration": format_duration(duration),
                        "approvers": [] if glass else [a.id for a in approvers],
                        "trigger": request.trigger.value,
                        "automatic": automatic,
                        "approval": approval.why,
                        **({"manager": manager} if manager and not glass else {}),
                        "requested_by": requester.id,
                        "grantee": request.holder,
                    },
                )
            )
            self._notifier.status_changed(uow, summary=summary, change=submission_change(request))
            final = request
            if glass is not None and self._alarm is not None:
                final, change = request.approve(by=None, at=now)
                approved = self._transitions.record(
                    uow, request=final, change=change, audit={"trigger": final.trigger.value}
                )
                # Every approver of the flow hears the alarm, whichever step would ask them.
                everyone = list(dict.fromkeys(a.id for s in steps for a in s.approvers))
                told = self._alarm.sound(uow, summary=approved, approvers=everyone, at=now)
                uow.audit.append(
                    AuditEvent(
                        kind=AuditKind.BREAK_GLASS_USED,
                        at=now,
                        actor=requester.id,
                        request_id=request_id,
                        data={
                            "flow": flow.name,
                            "reason": justification,
                            "duration": format_duration(duration),
                            "used_today": glass.used_today + 1,
                            "daily_limit": glass.daily_limit,
                            "told": told,
                        },
                    )
                )
            elif automatic:
                final, change = request.approve(by=None, at=now)
                self._transitions.record(uow, request=final, change=change)
            elif not approvers or not all(s.possible for s in steps):
                unreachable = next((s for s in steps if not s.possible), None)
                reason = (
                    step_unreachable(step=unreachable.index + 1, steps=len(steps))
                    if approvers and unreachable is not None
                    else NO_APPROVER
                )
                final, change = request.fail(at=now, reason=reason)
                self._transitions.record(uow, request=final, change=change)
            else:
                uow.requests.add_approvers(request_id=request_id, approvers=approvers, at=now)
                uow.requests.add_steps(
                    request_id=request_id,
                    quorums=[s.quorum for s in steps],
                    first_needed=steps[0].needed,
                    at=now,
                )
                self._notifier.ask_approvers(uow, summary=summary, approvers=approvers)
            uow.drafts.remove(draft.key)
        if final.status is Status.APPROVED:
            self.on_approved()
        return Submitted(
            request_id=request_id,
            status=final.status,
            object_count=count,
            approvers=() if glass else tuple(a.id for a in approvers),
            flow=flow.name,
            bundle=request.bundle,
            break_glass=duration if glass else None,
            grantee=request.grantee,
        )


def _unused_id(uow: UnitOfWork) -> RequestId:
    for _ in range(10):
        candidate = new_request_id()
        if not uow.requests.exists(candidate):
            return candidate
    raise RuntimeError("could not find an unused request ID")
