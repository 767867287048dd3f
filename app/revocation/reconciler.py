"""The backstop: accounts on the targets that no live request owns are removed.

Revokes are confirmed and retried, but some leftovers only the servers themselves can show: an
account whose request row was deleted from the bot's database, one left by a bot that was down
past an expiry (MariaDB and Redis have no server-side expiry), one a crash left half-made. At
start-up and on an interval this asks every integration for the temporary accounts it holds,
keeps those of requests being granted or active (ending them when due is the ending sweeper's
job, which runs at start-up too), and revokes the rest, each
removal audited and announced in the audit channel (docs/architecture.md, "No standing
access"). Only names the bot gives its own accounts are ever considered.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Final

from app.core.notifier import Notifier
from app.core.removal_alerts import RemovalAlerts
from app.core.retry import with_retries
from app.integrations.base import Integration, IntegrationError
from blocks.alerts import reconciled_message
from blocks.reasons import request_ended, request_unknown
from domain.audit import AuditEvent, AuditKind
from domain.clock import Clock
from domain.ids import RequestId, request_of_account
from store.repositories.grants import GrantStatus
from store.unit_of_work import Store, UnitOfWork

_log = logging.getLogger(__name__)

AccountOwner = Callable[[str], RequestId | None]
_NEXT_RUN: Final = "reconciler.next_run"


class Reconciler:
    def __init__(
        self,
        *,
        store: Store,
        integrations: Mapping[str, Integration],
        notifier: Notifier,
        alerts: RemovalAlerts,
        clock: Clock,
        retry: Callable[..., object] = with_retries,
        owner_of: AccountOwner = request_of_account,
        every: timedelta | None = None,
    ) -> None:
        """``owner_of``: the request an account name belongs to, ``None`` for names the bot
        never gives (left alone); tests narrow it to the accounts they create. ``every``: the
        interval; several instances then share one pass per interval instead of each making
        its own (and announcing the same removals twice)."""
        self._store = store
        self._integrations = integrations
        self._notifier = notifier
        self._alerts = alerts
        self._clock = clock
        self._retry = retry
        self._owner_of = owner_of
        self._every = every

    def run(self) -> int:
        """One pass over every integration; returns how many accounts were removed."""
        if not self._my_turn():
            return 0
        return sum(self._reconcile(integration) for integration in self._integrations.values())

    def _my_turn(self) -> bool:
        """Whether no other instance made a pass less than ``every`` ago (claimed by a
        compare-and-swap on the time the next pass is due)."""
        if self._every is None:
            return True
        now = self._clock.now()
        with self._store.write() as uow:
            due = uow.meta.get(_NEXT_RUN)
            if due is not None and datetime.fromisoformat(due) > now:
                return False
            # A little early, so that this instance's own next tick is not refused.
            following = now + self._every * 0.9
            return uow.meta.swap(_NEXT_RUN, expected=due, value=following.isoformat())

    def _reconcile(self, integration: Integration) -> int:
        try:
            found = integration.accounts()
        except IntegrationError as error:
            _log.error(
                "cannot list accounts", extra={"integration": integration.name, "error": str(error)}
            )
            return 0
        if found is None:
            return 0  # this type cannot list its accounts; grant rows drive its clean-up
        owned = {account: owner for account in found if (owner := self._owner_of(account))}
        with self._store.read() as uow:
            keep = uow.grants.protected(
                integration=integration.name,
                request_ids=list(owned.values()),
            )
        removed = 0
        for account, request_id in sorted(owned.items()):
            if request_id in keep:
                continue
            try:
                self._retry(
                    lambda a=account: integration.revoke(account=a),
                    what=f"reconcile {integration.name}",
                )
            except IntegrationError as error:
                # Still there: the next pass tries again (and the health check shows why).
                _log.error(
                    "cannot remove a leftover account",
                    extra={
                        "integration": integration.name,
                        "account": account,
                        "error": str(error),
                    },
                )
                continue
            with self._store.write() as uow:
                self._record(
                    uow,
                    integration=integration.name,
                    account=account,
                    request_id=request_id,
                    at=self._clock.now(),
                )
            removed += 1
        return removed

    def _record(
        self,
        uow: UnitOfWork,
        *,
        integration: str,
        account: str,
        request_id: RequestId,
        at: datetime,
    ) -> None:
        request = uow.requests.get(request_id)
        if request is None:
            why = request_unknown(request_id)
        else:
            why = request_ended(request_id=request_id, status=request.status.value)
            for grant in uow.grants.live(request_id):
                if grant.integration == integration:
                    uow.grants.record(
                        request_id=request_id,
                        integration=integration,
                        account=account,
                        status=GrantStatus.REVOKED,
                        at=at,
                    )
            if not uow.grants.live(request_id):
                self._alerts.resolved(uow, request_id=request_id, at=at)
        uow.audit.append(
            AuditEvent(
                kind=AuditKind.RECONCILED,
                at=at,
                request_id=request_id,
                data={"integration": integration, "account": account, "why": why},
            )
        )
        self._notifier.alert(
            uow,
            message=reconciled_message(integration=integration, account=account, why=why),
            admins=(),
            at=at,
        )
        _log.warning(
            "removed a leftover account",
            extra={"integration": integration, "account": account, "why": why},
        )
