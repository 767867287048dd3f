"""Ending access: every object of a request removed together, at expiry or on a revoke.

The database says what is due (docs/architecture.md, "Durable time"); APScheduler only wakes
this sweeper. A request is claimed with a lease, every live grant is revoked (idempotently, each
revoke confirmed by its server), and only then does the request become ``expired`` or
``revoked``, in one transaction with its audit events and messages. If this instance dies
half-way, the lease lapses and another instance finishes the job; if an integration is down, or
was removed from the policy, the request stays active (and is claimed again one lease later)
rather than reported as ended while access still exists, and the failure is announced loudly
(``removal_alerts``). The same sweep removes what ended requests still hold: grants a rollback
could not take back, and grants that were only *maybe* made (a timeout).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from typing import Final

from app.core.leases import kept
from app.core.removal_alerts import RemovalAlerts
from app.core.retry import with_retries
from app.core.transitions import Transitions
from app.integrations.base import Integration, IntegrationError
from app.logs import for_request
from blocks.reasons import no_longer_configured
from domain.audit import AuditEvent, AuditKind
from domain.clock import Clock
from domain.errors import DomainError
from domain.ids import RequestId, UserId
from domain.lifecycle import Status
from store.repositories.grants import Grant, GrantStatus
from store.repositories.requests import ConcurrentChange
from store.unit_of_work import Store, UnitOfWork

_log = logging.getLogger(__name__)

LEASE: Final = timedelta(seconds=60)
BATCH: Final = 50


class EndingService:
    def __init__(
        self,
        *,
        store: Store,
        integrations: Mapping[str, Integration],
        transitions: Transitions,
        alerts: RemovalAlerts,
        clock: Clock,
        retry: Callable[..., object] = with_retries,
        owner: str | None = None,
        lease: timedelta = LEASE,
    ) -> None:
        self._store = store
        self._integrations = integrations
        self._transitions = transitions
        self._alerts = alerts
        self._clock = clock
        self._retry = retry
        self._lease = lease
        self.owner = owner or f"end-{uuid.uuid4().hex[:12]}"

    def run_due(self) -> int:
        """End every due (or revoked) request, a claimed batch at a time, then clean up what
        ended requests still hold; returns how many requests ended."""
        ended = 0
        while claimed := self._claim(leftovers=False):
            with self._kept(claimed):
                revoked = {r: g for r in claimed if (g := self._revoke_everything(r)) is not None}
                ended += self._record_ends(revoked)
        while claimed := self._claim(leftovers=True):
            with self._kept(claimed):
                for request_id in claimed:
                    if self._revoke_everything(request_id) is not None:
                        self._record_cleanup(request_id)
        return ended

    def end(self, request_id: RequestId) -> bool:
        """End one request now (its claim already held)."""
        grants = self._revoke_everything(request_id)
        return grants is not None and self._record_ends({request_id: grants}) == 1

    def _claim(self, *, leftovers: bool) -> list[RequestId]:
        with self._store.write() as uow:
            claim = uow.grants.claim_leftovers if leftovers else uow.grants.claim_to_end
            return claim(owner=self.owner, now=self._clock.now(), lease=self._lease, limit=BATCH)

    def _kept(self, claimed: list[RequestId]) -> AbstractContextManager[None]:
        return kept(
            store=self._store,
            clock=self._clock,
            request_ids=claimed,
            owner=self.owner,
            lease=self._lease,
        )

    @for_request
    def _revoke_everything(self, request_id: RequestId) -> list[Grant] | None:
        """Revoke every live grant of the request; ``None`` if something could not be revoked
        (the failure is recorded and announced, the claim stays, its lease lapses, and the
        next round tries again)."""
        with self._store.read() as uow:
            grants = uow.grants.live(request_id)
        failures: dict[str, str] = {}
        for grant in grants:
            integration = self._integrations.get(grant.integration)
            if integration is None:
                failures[grant.integration] = no_longer_configured(grant.integration)
                continue
            try:
                self._retry(
                    lambda i=integration, a=grant.account: i.revoke(account=a),
                    what=f"revoke {grant.integration}",
                )
            except IntegrationError as error:
                failures[grant.integration] = str(error)
        if failures:
            _log.error(
                "revoke incomplete; will retry",
                extra={"request": request_id, "left": sorted(failures)},
            )
            with self._store.write() as uow:
                self._alerts.failed(
                    uow, request_id=request_id, failures=failures, at=self._clock.now()
                )
            return None
        return grants

    @for_request
    def _record_cleanup(self, request_id: RequestId) -> None:
        """Every leftover of an ended request is confirmed gone."""
        now = self._clock.now()
        with self._store.write() as uow:
            _record_revoked(uow, grants=uow.grants.live(request_id), at=now, leftover=True)
            self._alerts.resolved(uow, request_id=request_id, at=now)
            uow.grants.release(request_id=request_id, owner=self.owner)

    def _record_ends(self, revoked: dict[RequestId, list[Grant]]) -> int:
        """One transaction for the batch (one hold on the audit chain, one commit); each
        request in a savepoint, so one that changed meanwhile does not undo the others."""
        if not revoked:
            return 0
        now = self._clock.now()
        ended = 0
        with self._store.write() as uow:
            for request_id, grants in revoked.items():
                try:
                    with uow.savepoint():
                        self._record_end(uow, request_id, grants, now)
                    ended += 1
                except (DomainError, ConcurrentChange, _NotActive):
                    pass
        return ended

    @for_request
    def _record_end(
        self, uow: UnitOfWork, request_id: RequestId, grants: list[Grant], now: datetime
    ) -> None:
        request = uow.requests.get(request_id)
        if request is None or request.status is not Status.ACTIVE:
            raise _NotActive(request_id)
        ask = uow.grants.revoke_ask(request_id)
        if ask is not None:
            ended, change = request.revoke(by=ask.by, at=now)
        else:
            ended, change = request.expire(at=now)
        _record_revoked(uow, grants=grants, at=now, by=ask.by if ask else None)
        self._transitions.record(uow, request=ended, change=change)
        self._alerts.resolved(uow, request_id=request_id, at=now)


def _record_revoked(
    uow: UnitOfWork,
    *,
    grants: list[Grant],
    at: datetime,
    by: UserId | None = None,
    leftover: bool = False,
) -> None:
    """Each grant confirmed gone, with its audit event (a leftover says what it was)."""
    for grant in grants:
        uow.grants.record(
            request_id=grant.request_id,
            integration=grant.integration,
            account=grant.account,
            status=GrantStatus.REVOKED,
            at=at,
        )
        data = {"integration": grant.integration, "account": grant.account}
        if leftover:
            data["leftover"] = grant.status.value
        uow.audit.append(
            AuditEvent(
                kind=AuditKind.ACCESS_REVOKED,
                at=at,
                actor=by,
                request_id=grant.request_id,
                data=data,
            )
        )


class _NotActive(Exception):
    """Ended meanwhile (another instance, or never active)."""
