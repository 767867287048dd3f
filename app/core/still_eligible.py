"""Whether a request may still be granted: checked at the Approve click and just before granting.

Between a submission and its grant an admin may deactivate the flow, the requester may leave
the grantee group, a bundle may leave the flow or the flow's maximum duration may shrink. Every
check reads the catalog fresh; grantee groups are asked of Slack now (one call per group, and
only when the flow does not name the requester directly), never taken from a cache older than
the click. Everything else is in memory or one indexed query: milliseconds.

A flow whose grantees include whoever is on call asks the on-call service again, bypassing its
cache (README, "On call"): a requester whose shift ended is no longer a grantee; a service that
cannot be asked refuses a request approved automatically, and lets one an approver approved go
on only when the flow's ``on_call_unavailable`` is ``require_approval`` (audited either way). Just
before granting, a flow with ``until_shift_end`` shortens the request so that it ends with the
shift: the expiry is the earlier of the chosen end and the shift's.

When a request is no longer eligible it ends: a pending one is denied by nobody (the decision
service), an approved one fails before any integration is called (:meth:`fail_if_ineligible`,
called by the provisioning worker). Both are audited as ``eligibility.refused`` and the reason
reaches the requester in their status message.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime

from app.core.catalog import CatalogService, FreshFlow
from app.core.oncall.service import OnCall, OnCallAnswer, Presence
from app.core.ports import Directory
from app.core.transitions import Transitions
from blocks.reasons import (
    bundle_changed_after_approval,
    bundle_no_longer_offered,
    duration_over_maximum,
    flow_deactivated,
    flow_gone,
    holds_no_objects,
    no_longer_grantee,
    no_longer_on_call,
    objects_no_longer_offered,
    on_call_unreachable,
    teammate_no_longer_grantee,
)
from domain.audit import AuditEvent, AuditKind
from domain.clock import Clock
from domain.eligibility import Identity, offers_object
from domain.ids import RequestId, UserId
from domain.lifecycle import AccessRequest, Status, TransitionError
from domain.objects import AccessObject
from domain.policy import AccessFlow
from store.repositories.requests import ConcurrentChange
from store.unit_of_work import Store, UnitOfWork

_log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Ineligible:
    reason: str
    """Shown to the approver who clicked and in the requester's status message."""
    detail: str
    """What the audit event records."""


class StillEligible:
    def __init__(
        self,
        *,
        store: Store,
        catalog: CatalogService,
        directory: Directory,
        transitions: Transitions,
        clock: Clock,
        on_call: OnCall | None = None,
    ) -> None:
        self._store = store
        self._catalog = catalog
        self._directory = directory
        self._transitions = transitions
        self._clock = clock
        self._on_call = on_call

    # -- checks -----------------------------------------------------------------------------------

    def check(self, request: AccessRequest, *, read: FreshFlow | None = None) -> Ineligible | None:
        """Why ``request`` may no longer be granted, or ``None`` if it still may. ``read``: the
        request's flow, read fresh by the caller already (else it is read now)."""
        record = (read or FreshFlow(self._catalog.flow(request.flow, fresh=True))).record
        if record is None:
            return Ineligible(reason=flow_gone(request.flow), detail="flow no longer exists")
        flow = record.flow
        if not flow.active:
            return Ineligible(reason=flow_deactivated(flow.name), detail="flow deactivated")
        if (refused := self._grantee_refusal(flow, request)) is not None:
            return refused
        if request.grantee is not None and (
            not flow.on_behalf
            or self._grantee_refusal(flow, request, user=request.grantee) is not None
        ):
            # Asked on a teammate's behalf: they must still be a grantee, and the flow must
            # still allow it (README, "On behalf of a teammate").
            return Ineligible(
                reason=teammate_no_longer_grantee(flow.name), detail="grantee no longer a grantee"
            )
        if request.duration > flow.duration.max:
            return Ineligible(
                reason=duration_over_maximum(
                    duration=request.duration, maximum=flow.duration.max, flow=flow.name
                ),
                detail="duration over the flow's maximum",
            )
        if request.bundle is not None:
            if request.bundle not in flow.bundles:
                return Ineligible(
                    reason=bundle_no_longer_offered(flow=flow.name, bundle=request.bundle),
                    detail="bundle no longer offered by the flow",
                )
            return None
        with self._store.read() as uow:
            objects = uow.requests.objects(request.id)
        if not objects:
            return Ineligible(reason=holds_no_objects(request.id), detail="no objects")
        outside = [o for o in objects if not offers_object(flow, o)]
        if outside:
            return Ineligible(
                reason=objects_no_longer_offered(
                    flow=flow.name, count=len(outside), example=str(outside[0])
                ),
                detail=f"{len(outside)} objects no longer offered by the flow",
            )
        return None

    def _grantee_refusal(
        self, flow: AccessFlow, request: AccessRequest, *, user: UserId | None = None
    ) -> Ineligible | None:
        """Why ``user`` (the requester unless given) is no longer a grantee of ``flow``."""
        user = user or request.requester
        person = self._directory.person(user)
        not_grantee = Ineligible(
            reason=no_longer_grantee(flow.name), detail="requester no longer a grantee"
        )
        if person is not None and not person.can_act:
            return not_grantee
        identity = Identity(user_id=user, email=person.email if person else None)
        listed = any(identity.matches_person(entry) for entry in flow.grantees.users) or any(
            user in self._directory.group_members(group, fresh=True)
            for group in flow.grantees.groups
        )
        conditions = flow.auto_approval
        # An automatic approval that counted on the shift needs the shift still on.
        asks = (not listed and bool(flow.grantees.on_call)) or (
            request.automatic and conditions is not None and conditions.requester_on_call
        )
        if not asks:
            return None if listed else not_grantee
        answer = self._answer(flow, identity.email)
        if answer.on:
            return None
        if not answer.unknown:
            return Ineligible(reason=no_longer_on_call(flow.name), detail="requester not on call")
        vouched = not request.automatic and flow.on_call_unavailable == "require_approval"
        if self._on_call is not None:
            self._on_call.audit_fallback(
                flow=flow,
                user=user,
                answer=answer,
                fallback="approved by an approver" if vouched else "deny",
                when="grant",
                request_id=request.id,
            )
        if vouched:
            return None
        return Ineligible(
            reason=on_call_unreachable(flow.name), detail="on-call service unavailable"
        )

    def _answer(self, flow: AccessFlow, email: str | None) -> OnCallAnswer:
        if self._on_call is None:
            return OnCallAnswer(presence=Presence.UNKNOWN, unreachable=("no on-call service",))
        return self._on_call.status(flow.grantees.on_call, email=email, fresh=True)

    def _shift_end(self, request: AccessRequest) -> datetime | None:
        """When the requester's shift ends, for a flow that ends access with it."""
        record = self._catalog.flow(request.flow)
        if record is None or not record.flow.until_shift_end or self._on_call is None:
            return None
        person = self._directory.person(request.requester)
        answer = self._on_call.status(
            record.flow.grantees.on_call, email=person.email if person else None
        )
        return answer.ends_at if answer.on else None

    # -- just before granting ---------------------------------------------------------------------

    def fail_if_ineligible(self, request_id: RequestId) -> Status | None:
        """Fail an approved request that may no longer be granted (nothing was granted yet).

        ``None`` when provisioning may go on: the request is eligible, or not ``approved`` (a
        retried ``granting`` is finished or rolled back by the provisioning service itself)."""
        # The request, its flow and its bundle in one read.
        with self._store.read() as uow:
            request = uow.requests.get(request_id)
            if request is None or request.status is not Status.APPROVED:
                return None
            flow = self._catalog.fresh_flow(uow, request.flow)
            stale = stale_bundle_objects(uow, request_id)
        found = self.check(request, read=flow)
        if found is None and stale:
            found = Ineligible(
                reason=bundle_changed_after_approval(
                    bundle=request.bundle, gone=len(stale), example=str(stale[0])
                ),
                detail=f"bundle changed; {len(stale)} objects no longer in it",
            )
        now = self._clock.now()
        if found is None:
            ends_at = self._shift_end(request)
            if ends_at is None or now + request.duration <= ends_at:
                return None
            if ends_at <= now:
                found = Ineligible(
                    reason=no_longer_on_call(request.flow), detail="shift already ended"
                )
            else:
                self._end_with_shift(request, ends_at=ends_at, now=now)
                return None
        try:
            with self._store.write() as uow:
                current = uow.requests.get(request_id)
                assert current is not None
                failed, change = current.fail(at=now, reason=found.reason)
                audit_refusal(uow, found, request_id=request_id, actor=None, at=now, when="grant")
                self._transitions.record(uow, request=failed, change=change)
        except (TransitionError, ConcurrentChange):
            return None
        _log.warning(
            "not granted: no longer eligible",
            extra={"request": request_id, "detail": found.detail},
        )
        return Status.FAILED

    def _end_with_shift(self, request: AccessRequest, *, ends_at: datetime, now: datetime) -> None:
        """The request lasts until the shift ends: activation adds the duration to its start."""
        shorter = replace(request, duration=ends_at - now)
        with self._store.write() as uow:
            uow.requests.shorten(request.id, duration=shorter.duration)
            uow.audit.append(
                AuditEvent(
                    kind=AuditKind.ACCESS_SHORTENED,
                    at=now,
                    request_id=request.id,
                    data={
                        "until": ends_at.isoformat(),
                        "chosen": int(request.duration.total_seconds()),
                        "now": int(shorter.duration.total_seconds()),
                    },
                )
            )


def audit_refusal(
    uow: UnitOfWork,
    found: Ineligible,
    *,
    request_id: RequestId,
    actor: UserId | None,
    at: datetime,
    when: str,
) -> None:
    """The ``eligibility.refused`` event, written in the transaction that ends the request."""
    uow.audit.append(
        AuditEvent(
            kind=AuditKind.ELIGIBILITY_REFUSED,
            at=at,
            actor=actor,
            request_id=request_id,
            data={"refused": found.detail, "reason": found.reason, "at": when},
        )
    )


def stale_bundle_objects(uow: UnitOfWork, request_id: RequestId) -> list[AccessObject]:
    """Objects of a bundle request that its bundle no longer holds (never granted stale), read
    in the caller's transaction."""
    versions = uow.requests.bundle_versions(request_id)
    # The versions first: an unchanged bundle (nearly always) needs no objects read.
    if versions is None:
        return []
    if versions.current is not None and versions.current == versions.requested:
        return []
    objects = uow.requests.objects(request_id)
    if versions.key is None:
        return objects
    return uow.catalog.contains_all(bundle_key=versions.key, objects=objects)
