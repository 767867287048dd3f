"""Granting an approved request in every integration, all or nothing.

Runs in a worker, never in a listener. A request is claimed with a lease; if this instance dies
mid-way, the lease lapses and any instance provisions it again from the start (grants are
idempotent: an existing account is reset, with a fresh password). Before any integration is
called, each grant is written down as *uncertain*, so a crash or a timeout leaves a record of
what may exist and it is revoked rather than forgotten. Credentials go to whoever holds the
access (the teammate a request was made for, else the requester) only once the request is
active, one sealed DM per integration.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Final

from app.core.leases import work_through_claims
from app.core.notifier import READ, Notifier, Progress
from app.core.removal_alerts import RemovalAlerts
from app.core.retry import with_retries
from app.core.still_eligible import StillEligible
from app.core.transitions import Transitions
from app.integrations.base import (
    AccessDetails,
    GrantItem,
    GrantUncertain,
    Integration,
    IntegrationError,
)
from app.logs import for_request
from blocks.reasons import granting_failed, not_configured
from domain.audit import AuditEvent, AuditKind
from domain.clock import Clock
from domain.ids import RequestId, account_name
from domain.lifecycle import AccessRequest, Status, TransitionError
from domain.objects import AccessObject
from store.repositories.grants import GrantStatus
from store.repositories.requests import ConcurrentChange, RequestColumns
from store.unit_of_work import Store

_log = logging.getLogger(__name__)

LEASE: Final = timedelta(seconds=60)
BATCH: Final = 20


def by_integration(objects: list[AccessObject]) -> dict[str, list[GrantItem]]:
    grouped: dict[str, list[GrantItem]] = {}
    for obj in objects:
        grouped.setdefault(obj.integration, []).append(GrantItem(obj.resource, obj.permission))
    return grouped


class ProvisioningService:
    def __init__(
        self,
        *,
        store: Store,
        integrations: Mapping[str, Integration],
        notifier: Notifier,
        transitions: Transitions,
        alerts: RemovalAlerts,
        still_eligible: StillEligible,
        clock: Clock,
        retry: Callable[..., object] = with_retries,
        owner: str | None = None,
        lease: timedelta = LEASE,
    ) -> None:
        self._store = store
        self._integrations = integrations
        self._notifier = notifier
        self._transitions = transitions
        self._alerts = alerts
        self._still_eligible = still_eligible
        self._clock = clock
        self._retry = retry
        self._lease = lease
        self.owner = owner or f"grant-{uuid.uuid4().hex[:12]}"

    def run_due(self) -> int:
        """Provision every claimable request; returns how many became active or failed."""
        return work_through_claims(
            store=self._store,
            clock=self._clock,
            owner=self.owner,
            lease=self._lease,
            claim=lambda grants, owner, now, lease: grants.claim_to_provision(
                owner=owner, now=now, lease=lease, limit=BATCH
            ),
            work=lambda request_id: self.provision(request_id) is not Status.GRANTING,
        )

    @for_request
    def provision(self, request_id: RequestId) -> Status:
        # Eligibility may have gone since the approval: fail before any integration is called.
        if (ended := self._still_eligible.fail_if_ineligible(request_id)) is not None:
            return ended
        started = self._clock.now()
        # Read once for both status messages: approvals are final once a request is approved.
        progress: Progress = READ
        with self._store.write() as uow:
            request = uow.requests.get(request_id)
            if request is None:
                return Status.FAILED
            if request.status is Status.APPROVED:
                request, change = request.start_granting(at=started)
                progress = uow.requests.progress(request_id)
                self._transitions.record(uow, request=request, change=change, progress=progress)
            elif request.status is not Status.GRANTING:
                uow.grants.release(request_id=request_id, owner=self.owner)
                return request.status
            grouped = by_integration(uow.requests.objects(request_id))
            account = account_name(request_id)
            uow.grants.expect(
                request_id=request_id, integrations=list(grouped), account=account, at=started
            )
        until = started + request.duration
        granted: dict[str, AccessDetails] = {}
        for integration_name, items in grouped.items():
            integration = self._integrations.get(integration_name)
            try:
                if integration is None:
                    raise IntegrationError(not_configured(integration_name))
                granted[integration_name] = self._grant(integration, account, items, until)
            except IntegrationError as error:
                return self._roll_back(
                    request_id=request_id,
                    account=account,
                    granted=list(granted),
                    failed=integration_name,
                    problem=str(error),
                    uncertain=isinstance(error, GrantUncertain),
                )
        return self._activate(request=request, account=account, granted=granted, progress=progress)

    def _grant(
        self, integration: Integration, account: str, items: list[GrantItem], until: datetime
    ) -> AccessDetails:
        details = self._retry(
            lambda: integration.grant(account=account, items=items, until=until),
            what=f"grant {integration.name}",
        )
        assert isinstance(details, AccessDetails)
        return details

    def _activate(
        self,
        *,
        request: AccessRequest,
        account: str,
        granted: dict[str, AccessDetails],
        progress: Progress,
    ) -> Status:
        """``request`` as this worker left it, granting: its lease keeps everyone else away,
        and the status change's compare-and-swap would refuse a row that moved all the same."""
        now = self._clock.now()
        request_id = request.id
        try:
            with self._store.write() as uow:
                active, change = request.activate(at=now)
                for integration in granted:
                    uow.grants.record(
                        request_id=request_id,
                        integration=integration,
                        account=account,
                        status=GrantStatus.GRANTED,
                        at=now,
                    )
                    uow.audit.append(
                        AuditEvent(
                            kind=AuditKind.ACCESS_GRANTED,
                            at=now,
                            request_id=request_id,
                            data={
                                "integration": integration,
                                "account": account,
                                "grantee": request.holder,
                            },
                        )
                    )
                summary = self._transitions.record(
                    uow,
                    request=active,
                    change=change,
                    columns=RequestColumns(lease_owner=None, lease_until=None),
                    progress=progress,
                )
                for integration, details in granted.items():
                    self._notifier.credentials(
                        uow,
                        summary=summary,
                        integration=integration,
                        fields=details.fields,
                        valid_until=active.expires_at,
                        at=now,
                    )
        except (TransitionError, ConcurrentChange):
            _log.warning("request changed while granting", extra={"request": request_id})
            return Status.GRANTING
        return Status.ACTIVE

    def _roll_back(
        self,
        *,
        request_id: RequestId,
        account: str,
        granted: list[str],
        failed: str,
        problem: str,
        uncertain: bool,
    ) -> Status:
        """Take back everything granted so far (and whatever the failed call may have made),
        then fail the request. A revoke that cannot be confirmed leaves its grant live: the
        ending sweeper keeps revoking it, loudly, until its server confirms."""
        tried = [*granted, failed]
        left: dict[str, str] = {}
        for name in tried:
            integration = self._integrations.get(name)
            if integration is None:
                continue  # not configured: nothing was called, nothing to take back
            try:
                self._retry(lambda i=integration: i.revoke(account=account), what=f"revoke {name}")
            except IntegrationError as error:
                left[name] = str(error)
        # The integration that failed plainly said it granted nothing: only a timeout there
        # (maybe granted) must wait for a confirmed revoke.
        if not uncertain:
            left.pop(failed, None)
        now = self._clock.now()
        with self._store.write() as uow:
            request = uow.requests.get(request_id)
            assert request is not None
            # The status message carries the reason: one message per change, nothing secret
            # (integration errors are written to be shown).
            reason = granting_failed(integration=failed, problem=problem[:300])
            failed_request, change = request.fail(at=now, reason=reason)
            for name in tried:
                if name in left:
                    status = GrantStatus.UNCERTAIN if name == failed else GrantStatus.GRANTED
                elif name == failed and not uncertain:
                    status = GrantStatus.FAILED
                else:
                    status = GrantStatus.REVOKED
                uow.grants.record(
                    request_id=request_id,
                    integration=name,
                    account=account,
                    status=status,
                    at=now,
                    error=problem[:500] if name == failed else left.get(name),
                )
            uow.audit.append(
                AuditEvent(
                    kind=AuditKind.GRANT_UNCERTAIN if uncertain else AuditKind.GRANT_FAILED,
                    at=now,
                    request_id=request_id,
                    data={
                        "integration": failed,
                        "error": problem[:500],
                        "rolled_back": [n for n in tried if n not in left],
                        "cleanup_failed": sorted(left),
                    },
                )
            )
            self._transitions.record(uow, request=failed_request, change=change)
            if left:
                self._alerts.failed(uow, request_id=request_id, failures=left, at=now)
        return Status.FAILED
