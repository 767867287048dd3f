"""Ending access: every object of a request removed together, at expiry or on a revoke.

The database says what is due (docs/architecture.md, "Durable time"); APScheduler only wakes
this sweeper. A batch of requests is claimed with a lease, every live grant is revoked
(idempotently, each revoke confirmed by its server), and only then do the requests become
``expired`` or ``revoked``, in one transaction with their audit events and messages. If this
instance dies half-way, the lease lapses and another instance finishes the job; if an
integration is down, or was removed from the policy, the request stays active (and is claimed
again one lease later) rather than reported as ended while access still exists, and the failure
is announced loudly (``removal_alerts``). The same sweep removes what ended requests still hold:
grants a rollback could not take back, and grants that were only *maybe* made (a timeout).

Endings are set-wise: a batch's grants are read in one query, each integration revokes its
accounts of the batch at once (``revoke_many``), integrations side by side, and the ends are
written with a handful of statements for the whole batch, whatever its size. One account that
cannot be revoked keeps only its own request back.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, suppress
from datetime import datetime, timedelta
from typing import Final, TypeVar

from app.core.leases import kept
from app.core.removal_alerts import RemovalAlerts
from app.core.retry import with_retries
from app.core.transitions import Transitions
from app.integrations.base import Integration, IntegrationError, revoke_each
from app.logs import request_context
from blocks.reasons import no_longer_configured
from domain.audit import AuditEvent, AuditKind
from domain.clock import Clock
from domain.errors import DomainError
from domain.ids import RequestId, UserId
from domain.lifecycle import AccessRequest, Status, StatusChange
from store.repositories.bulk import lost_to_a_lock
from store.repositories.grants import Grant
from store.unit_of_work import Store, UnitOfWork

_log = logging.getLogger(__name__)
_T = TypeVar("_T")

LEASE: Final = timedelta(seconds=60)
BATCH: Final = 500
"""Requests claimed at once: few statements for many ends, small enough that two instances
share a mass expiry and that one batch's transaction stays short."""
RECORD_ATTEMPTS: Final = 3
"""A batch's record undone as a deadlock victim (a sweep that updates the same rows one by one)
is simply written again."""
PARALLEL: Final = 8
"""Integrations revoked side by side (each with its whole share of the batch)."""


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
        batch: int = BATCH,
    ) -> None:
        self._store = store
        self._integrations = integrations
        self._transitions = transitions
        self._alerts = alerts
        self._clock = clock
        self._retry = retry
        self._lease = lease
        self._batch = batch
        self.owner = owner or f"end-{uuid.uuid4().hex[:12]}"

    def run_due(self) -> int:
        """End every due (or revoked) request, a claimed batch at a time, then clean up what
        ended requests still hold; returns how many requests ended."""
        ended = 0
        # The leases are renewed while the integrations work, not while the batch is recorded:
        # the renewal and the batch's UPDATE would lock the same rows in different orders. The
        # lease was renewed a moment ago, and the end is a compare-and-swap on the status anyway.
        while claimed := self._claim(leftovers=False):
            with self._kept(claimed):
                gone = self._revoke_batch(claimed)
            ended += self._again_if_raced(self._record_ends, gone)
        while claimed := self._claim(leftovers=True):
            with self._kept(claimed):
                gone = self._revoke_batch(claimed)
            if gone:
                self._again_if_raced(self._record_cleanup, gone)
        return ended

    def end(self, request_id: RequestId) -> bool:
        """End one request now (its claim already held)."""
        return self._again_if_raced(self._record_ends, self._revoke_batch([request_id])) == 1

    def _again_if_raced(
        self,
        record: Callable[[dict[RequestId, list[Grant]]], _T],
        revoked: dict[RequestId, list[Grant]],
    ) -> _T:
        """``record(revoked)``, written again if the database undid it as a deadlock victim."""
        for attempt in range(1, RECORD_ATTEMPTS + 1):
            try:
                return record(revoked)
            except Exception as error:
                if attempt == RECORD_ATTEMPTS or not lost_to_a_lock(error):
                    raise
                _log.warning("recording the batch lost a lock race; again", extra={"n": attempt})
        raise AssertionError("unreachable")

    def _claim(self, *, leftovers: bool) -> list[RequestId]:
        with self._store.write() as uow:
            claim = uow.grants.claim_leftovers if leftovers else uow.grants.claim_to_end
            return claim(
                owner=self.owner, now=self._clock.now(), lease=self._lease, limit=self._batch
            )

    def _kept(self, claimed: list[RequestId]) -> AbstractContextManager[None]:
        return kept(
            store=self._store,
            clock=self._clock,
            request_ids=claimed,
            owner=self.owner,
            lease=self._lease,
        )

    def _revoke_batch(self, claimed: Sequence[RequestId]) -> dict[RequestId, list[Grant]]:
        """The batch's live grants, revoked; the requests whose grants are all gone, with
        them (in claim order)."""
        with self._store.read() as uow:
            grants = uow.grants.live_many(claimed)
        gone = self._revoke_everything(claimed, grants)
        return {r: grants.get(r, []) for r in claimed if r in gone}

    def _revoke_everything(
        self, claimed: Sequence[RequestId], grants: Mapping[RequestId, list[Grant]]
    ) -> set[RequestId]:
        """Revoke every live grant of the batch; the requests whose grants are all confirmed
        gone. The others' failures are recorded and announced, their claims stay, their leases
        lapse, and the next round tries again."""
        accounts: dict[str, dict[str, list[RequestId]]] = {}
        failures: dict[RequestId, dict[str, str]] = {}
        for request_id in claimed:
            for grant in grants.get(request_id, []):
                if grant.integration not in self._integrations:
                    failures.setdefault(request_id, {})[grant.integration] = no_longer_configured(
                        grant.integration
                    )
                    continue
                owners = accounts.setdefault(grant.integration, {})
                owners.setdefault(grant.account, []).append(request_id)
        if accounts:
            with ThreadPoolExecutor(
                max_workers=min(PARALLEL, len(accounts)), thread_name_prefix="revoke"
            ) as pool:
                outcomes = pool.map(
                    lambda item: (item[0], self._revoke_in(item[0], list(item[1]))),
                    accounts.items(),
                )
                for name, failed in outcomes:
                    for account, error in failed.items():
                        for request_id in accounts[name][account]:
                            failures.setdefault(request_id, {})[name] = error
        if failures:
            now = self._clock.now()
            with self._store.write() as uow:
                for request_id, failed in failures.items():
                    with request_context(request_id):
                        _log.error("revoke incomplete; will retry", extra={"left": sorted(failed)})
                    self._alerts.failed(uow, request_id=request_id, failures=failed, at=now)
        return {r for r in claimed if r not in failures}

    def _revoke_in(self, name: str, accounts: list[str]) -> dict[str, str]:
        """Every account of the batch on one integration, the failed ones tried again (with
        the retry's pauses); what is still not confirmed gone, with why."""
        integration = self._integrations[name]
        failed: dict[str, str] = {}
        left = accounts

        def attempt() -> None:
            nonlocal left
            try:
                outcome = integration.revoke_many(accounts=left)
                unanswered = [a for a in left if a not in outcome]
                if unanswered:  # the batch said nothing of these: ask for each on its own
                    outcome |= revoke_each(integration, accounts=unanswered)
                failed.clear()
                failed.update((a, str(e)) for a in left if (e := outcome[a]) is not None)
            except IntegrationError as error:
                failed.update(dict.fromkeys(left, str(error)))
            except Exception as error:  # a bug in one integration must not hide the others
                _log.exception("revoke crashed", extra={"integration": name})
                failed.update(dict.fromkeys(left, f"{name}: {type(error).__name__}"))
                return
            left = list(failed)
            if failed:  # tried again by the retry, with its pauses
                raise IntegrationError(next(iter(failed.values())))

        with suppress(IntegrationError):  # what is left is in ``failed``
            self._retry(attempt, what=f"revoke {name}")
        return failed

    def _record_cleanup(self, cleaned: dict[RequestId, list[Grant]]) -> None:
        """Every leftover of these ended requests is confirmed gone: one transaction."""
        now = self._clock.now()
        with self._store.write() as uow:
            grants = [g for gs in cleaned.values() for g in gs]
            uow.grants.mark_revoked(grants, at=now)
            uow.audit.extend(_revoked_events(grants, at=now, leftover=True))
            self._resolve(uow, list(cleaned), at=now)
            uow.grants.release_many(request_ids=list(cleaned), owner=self.owner)

    def _record_ends(self, revoked: dict[RequestId, list[Grant]]) -> int:
        """One transaction for the batch (one hold on the audit chain, one commit), with one
        conditional UPDATE: a request that changed meanwhile is left out, not the others."""
        if not revoked:
            return 0
        now = self._clock.now()
        ids = list(revoked)
        with self._store.write() as uow:
            requests = uow.requests.get_many(ids)
            asks = uow.grants.revoke_asks(ids)
            changes: list[tuple[AccessRequest, StatusChange]] = []
            before: dict[RequestId, list[AuditEvent]] = {}
            for request_id in ids:
                request = requests.get(request_id)
                if request is None or request.status is not Status.ACTIVE:
                    continue  # ended meanwhile (another instance), or never active
                ask = asks.get(request_id)
                try:
                    if ask is not None:
                        _, change = request.revoke(by=ask.by, at=now)
                    else:
                        _, change = request.expire(at=now)
                except DomainError:
                    continue
                changes.append((request, change))
                by = ask.by if ask is not None else None
                before[request_id] = _revoked_events(revoked[request_id], at=now, by=by)
            ended = self._transitions.record_ends(uow, changes=changes, before=before)
            uow.grants.mark_revoked([g for r in ended for g in revoked[r]], at=now)
            self._resolve(uow, list(ended), at=now)
        return len(ended)

    def _resolve(self, uow: UnitOfWork, request_ids: list[RequestId], *, at: datetime) -> None:
        """Say so where someone was told the access could not be removed (one query finds
        them)."""
        for request_id in uow.removals.of(request_ids):
            self._alerts.resolved(uow, request_id=request_id, at=at)


def _revoked_events(
    grants: Sequence[Grant],
    *,
    at: datetime,
    by: UserId | None = None,
    leftover: bool = False,
) -> list[AuditEvent]:
    """Each grant confirmed gone, as its audit event (a leftover says what it was)."""
    events: list[AuditEvent] = []
    for grant in grants:
        data = {"integration": grant.integration, "account": grant.account}
        if leftover:
            data["leftover"] = grant.status.value
        events.append(
            AuditEvent(
                kind=AuditKind.ACCESS_REVOKED,
                at=at,
                actor=by,
                request_id=grant.request_id,
                data=data,
            )
        )
    return events
