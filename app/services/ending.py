"""Ending access: every object of a request removed together, at expiry or on a revoke.

The database says what is due (DESIGN.md §5); APScheduler only wakes this sweeper. A request is
claimed with a lease, every grant is revoked (idempotently), and only then does the request
become ``expired`` or ``revoked``, in one transaction with its audit events and messages. If
this instance dies half-way, the lease lapses and another instance finishes the job; if an
integration is down, the request stays active (and claimed again later) rather than being
reported as ended while access still exists.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Final

from app.integrations.base import Integration, IntegrationError
from app.services.leases import kept
from app.services.retry import with_retries
from app.services.transitions import Transitions
from domain.audit import AuditEvent, AuditKind
from domain.clock import Clock
from domain.errors import DomainError
from domain.ids import RequestId
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
        clock: Clock,
        retry: Callable[..., object] = with_retries,
        owner: str | None = None,
        lease: timedelta = LEASE,
    ) -> None:
        self._store = store
        self._integrations = integrations
        self._transitions = transitions
        self._clock = clock
        self._retry = retry
        self._lease = lease
        self.owner = owner or f"end-{uuid.uuid4().hex[:12]}"

    def run_due(self) -> int:
        """End every due (or revoked) request, a claimed batch at a time; returns how many."""
        ended = 0
        while True:
            with self._store.write() as uow:
                claimed = uow.grants.claim_to_end(
                    owner=self.owner, now=self._clock.now(), lease=self._lease, limit=BATCH
                )
            if not claimed:
                return ended
            with kept(
                store=self._store,
                clock=self._clock,
                request_ids=claimed,
                owner=self.owner,
                lease=self._lease,
            ):
                revoked = {r: g for r in claimed if (g := self._revoke_everything(r)) is not None}
                ended += self._record_ends(revoked)

    def end(self, request_id: RequestId) -> bool:
        """End one request now (its claim already held)."""
        grants = self._revoke_everything(request_id)
        return grants is not None and self._record_ends({request_id: grants}) == 1

    def _revoke_everything(self, request_id: RequestId) -> list[Grant] | None:
        """Revoke every grant of the request; ``None`` if something could not be revoked (the
        claim stays, the lease lapses, and the next round tries again)."""
        with self._store.read() as uow:
            grants = [
                g for g in uow.grants.for_request(request_id) if g.status is GrantStatus.GRANTED
            ]
        failures: list[str] = []
        for grant in grants:
            integration = self._integrations.get(grant.integration)
            if integration is None:
                failures.append(grant.integration)
                continue
            try:
                self._retry(
                    lambda i=integration, a=grant.account: i.revoke(account=a),
                    what=f"revoke {grant.integration}",
                )
            except IntegrationError:
                failures.append(grant.integration)
        if failures:
            _log.error(
                "revoke incomplete; will retry", extra={"request": request_id, "left": failures}
            )
            return None
        return grants

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
                    with uow.session.begin_nested():
                        self._record_end(uow, request_id, grants, now)
                    ended += 1
                except (DomainError, ConcurrentChange, _NotActive):
                    uow.audit.forget_position()
        return ended

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
        for grant in grants:
            uow.grants.record(
                request_id=request_id,
                integration=grant.integration,
                account=grant.account,
                status=GrantStatus.REVOKED,
                at=now,
            )
            uow.audit.append(
                AuditEvent(
                    kind=AuditKind.ACCESS_REVOKED,
                    at=now,
                    actor=ask.by if ask else None,
                    request_id=request_id,
                    data={"integration": grant.integration, "account": grant.account},
                )
            )
        self._transitions.record(uow, request=ended, change=change)


class _NotActive(Exception):
    """Ended meanwhile (another instance, or never active)."""
