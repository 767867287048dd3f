"""Whether a request may still be granted: checked at the Approve click and just before granting.

Between a submission and its grant an admin may deactivate the flow, the requester may leave
the grantee group, a bundle may leave the flow or the flow's maximum duration may shrink. Every
check reads the catalog fresh; grantee groups are asked of Slack now (one call per group, and
only when the flow does not name the requester directly), never taken from a cache older than
the click. Everything else is in memory or one indexed query: milliseconds.

When a request is no longer eligible it ends: a pending one is denied by nobody (the decision
service), an approved one fails before any integration is called (:meth:`fail_if_ineligible`,
called by the provisioning worker). Both are audited as ``eligibility.refused`` and the reason
reaches the requester in their status message.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from app.core.catalog import CatalogService
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
    objects_no_longer_offered,
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
    ) -> None:
        self._store = store
        self._catalog = catalog
        self._directory = directory
        self._transitions = transitions
        self._clock = clock

    # -- checks -----------------------------------------------------------------------------------

    def check(self, request: AccessRequest) -> Ineligible | None:
        """Why ``request`` may no longer be granted, or ``None`` if it still may."""
        record = self._catalog.flow(request.flow, fresh=True)
        if record is None:
            return Ineligible(reason=flow_gone(request.flow), detail="flow no longer exists")
        flow = record.flow
        if not flow.active:
            return Ineligible(reason=flow_deactivated(flow.name), detail="flow deactivated")
        if not self._is_grantee(flow, request.requester):
            return Ineligible(
                reason=no_longer_grantee(flow.name), detail="requester no longer a grantee"
            )
        if request.grantee is not None and not (
            flow.on_behalf and self._is_grantee(flow, request.grantee)
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

    def _is_grantee(self, flow: AccessFlow, user: UserId) -> bool:
        person = self._directory.person(user)
        if person is not None and not person.can_act:
            return False
        identity = Identity(user_id=user, email=person.email if person else None)
        if any(identity.matches_person(entry) for entry in flow.grantees.users):
            return True
        return any(
            user in self._directory.group_members(group, fresh=True)
            for group in flow.grantees.groups
        )

    def stale_bundle_objects(self, request_id: RequestId) -> list[AccessObject]:
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

    # -- just before granting ---------------------------------------------------------------------

    def fail_if_ineligible(self, request_id: RequestId) -> Status | None:
        """Fail an approved request that may no longer be granted (nothing was granted yet).

        ``None`` when provisioning may go on: the request is eligible, or not ``approved`` (a
        retried ``granting`` is finished or rolled back by the provisioning service itself)."""
        with self._store.read() as uow:
            request = uow.requests.get(request_id)
        if request is None or request.status is not Status.APPROVED:
            return None
        found = self.check(request)
        if found is None:
            stale = self.stale_bundle_objects(request_id)
            if stale:
                found = Ineligible(
                    reason=bundle_changed_after_approval(
                        bundle=request.bundle, gone=len(stale), example=str(stale[0])
                    ),
                    detail=f"bundle changed; {len(stale)} objects no longer in it",
                )
        if found is None:
            return None
        now = self._clock.now()
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
