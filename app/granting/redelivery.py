"""Credentials that could not be delivered are issued anew, or the request ends.

The relay cannot deliver a credentials message when no configured key opens it (the key was
rotated away, or derived from an app-level token that changed) or when Slack refuses it for
good. It then marks the message *stranded* (``store/repositories/outbox.py``) and wakes this
worker; the payload is gone, so nobody can send it again as it was. This worker claims the
request (the lease granting and ending take, so no expiry or revoke runs meanwhile) and grants
again with the same account: every integration type resets an existing account to exactly the
requested objects with a fresh password (``app/integrations/base.py``), so the undelivered
password stops working and the new one is sent, sealed with the current key.

If that is impossible (the integration is no longer configured, the grant fails, or the
message was stranded again after :data:`MAX_RESENDS` resends) the request is revoked: every
grant is removed (a revoke that fails is left to the ending sweeper's clean-up, and announced),
the requester is told why in their status message and the audit channel and the admins get an
alert. Every step is audited (README, "Keys").
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta
from typing import Final

from app.core.leases import HandedBack, kept, release, stopping
from app.core.notifier import Notifier, parse_credentials_ref
from app.core.removal_alerts import RemovalAlerts
from app.core.retry import with_retries
from app.core.transitions import Transitions
from app.granting.provisioning import by_integration
from app.integrations.base import AccessDetails, Integration, IntegrationError
from app.logs import request_context
from blocks.alerts import credentials_lost_message
from blocks.reasons import (
    credentials_undeliverable,
    delivery_gave_up,
    no_longer_configured,
    not_configured,
)
from domain.audit import AuditEvent, AuditKind
from domain.clock import Clock
from domain.ids import RequestId, account_name
from domain.lifecycle import Status, TransitionError
from store.repositories.grants import GrantStatus
from store.repositories.outbox import StrandedMessage
from store.repositories.requests import ConcurrentChange
from store.unit_of_work import Store

_log = logging.getLogger(__name__)

LEASE: Final = timedelta(seconds=60)
BATCH: Final = 50
MAX_RESENDS: Final = 2
"""Credentials stranded again after this many resends end the request: something other than a
key (the requester's Slack account, say) keeps them from being delivered."""


class CredentialsRedelivery:
    def __init__(
        self,
        *,
        store: Store,
        integrations: Mapping[str, Integration],
        notifier: Notifier,
        transitions: Transitions,
        alerts: RemovalAlerts,
        admins: Callable[[], Sequence[str]],
        clock: Clock,
        retry: Callable[..., object] = with_retries,
        owner: str | None = None,
        lease: timedelta = LEASE,
    ) -> None:
        """``admins``: the user IDs to alert, asked at each alert (admins change)."""
        self._store = store
        self._integrations = integrations
        self._notifier = notifier
        self._transitions = transitions
        self._alerts = alerts
        self._admins = admins
        self._clock = clock
        self._retry = retry
        self._lease = lease
        self.owner = owner or f"redeliver-{uuid.uuid4().hex[:12]}"

    def run_due(self) -> int:
        """Deal with every stranded credentials message; returns how many were issued anew or
        ended their request."""
        done = 0
        while not stopping():
            with self._store.write() as uow:
                claimed = uow.outbox.claim_stranded(
                    owner=self.owner, now=self._clock.now(), lease=self._lease, limit=BATCH
                )
            if not claimed:
                return done
            by_request: dict[RequestId, list[StrandedMessage]] = {}
            for message in claimed:
                by_request.setdefault(message.request_id, []).append(message)
            requests = list(by_request)
            for index, request_id in enumerate(requests):
                if stopping():
                    release(store=self._store, owner=self.owner, ids=requests[index:])
                    raise HandedBack(requests[index:])
                done += self._work(request_id, by_request[request_id])
        return done

    def _work(self, request_id: RequestId, messages: list[StrandedMessage]) -> int:
        with request_context(request_id):
            try:
                with kept(
                    store=self._store,
                    clock=self._clock,
                    request_id=request_id,
                    owner=self.owner,
                    lease=self._lease,
                ):
                    return self._redeliver(request_id, messages)
            except HandedBack:
                raise
            except Exception:
                # The claim is kept until its lease lapses; the next round tries again.
                _log.exception("undelivered credentials not dealt with yet")
                return 0

    def _redeliver(self, request_id: RequestId, messages: list[StrandedMessage]) -> int:
        now = self._clock.now()
        with self._store.read() as uow:
            request = uow.requests.get(request_id)
            grouped = by_integration(uow.requests.objects(request_id))
            live = [g.integration for g in uow.grants.live(request_id)]
            resends = max(uow.outbox.retired_count(ref=m.ref) if m.ref else 0 for m in messages)
        if (
            request is None
            or request.status is not Status.ACTIVE
            or request.expires_at is None
            or request.expires_at <= now
        ):
            # Ended (or ending) anyway: nothing to deliver any more.
            self._retire(request_id, messages)
            return 0
        names: list[str] = []
        for message in messages:
            about = parse_credentials_ref(message.ref)
            # A message queued by an older version names no integration: issue all of them.
            names += [about[1]] if about is not None else live
        names = [n for n in dict.fromkeys(names) if n in grouped]
        if resends >= MAX_RESENDS:
            return self._end(
                request_id,
                messages,
                integration=names[0] if names else "",
                problem=delivery_gave_up(resends + 1),
            )
        account = account_name(request_id)
        issued: dict[str, AccessDetails] = {}
        for name in names:
            integration = self._integrations.get(name)
            try:
                if integration is None:
                    raise IntegrationError(not_configured(name))
                details = self._retry(
                    lambda i=integration, n=name: i.grant(
                        account=account, items=grouped[n], until=request.expires_at
                    ),
                    what=f"reset {name}",
                )
            except IntegrationError as error:
                return self._end(request_id, messages, integration=name, problem=str(error))
            assert isinstance(details, AccessDetails)
            issued[name] = details
        return self._send_again(request_id, messages, issued=issued, account=account)

    def _send_again(
        self,
        request_id: RequestId,
        messages: list[StrandedMessage],
        *,
        issued: dict[str, AccessDetails],
        account: str,
    ) -> int:
        now = self._clock.now()
        errors = sorted({m.error for m in messages})
        with self._store.write() as uow:
            request = uow.requests.get(request_id)
            summary = uow.requests.summary(request_id)
            assert request is not None
            assert summary is not None
            for message in messages:
                uow.outbox.retire(message_id=message.id)
            for name, details in issued.items():
                uow.audit.append(
                    AuditEvent(
                        kind=AuditKind.CREDENTIALS_RESENT,
                        at=now,
                        request_id=request_id,
                        data={"integration": name, "account": account, "undelivered": errors},
                    )
                )
                self._notifier.credentials(
                    uow,
                    summary=summary,
                    integration=name,
                    fields=details.fields,
                    valid_until=request.expires_at,
                    at=now,
                    resent=True,
                )
            uow.grants.release(request_id=request_id, owner=self.owner)
        _log.warning(
            "undelivered credentials issued anew and sent again",
            extra={"integrations": sorted(issued)},
        )
        return len(messages)

    def _end(
        self,
        request_id: RequestId,
        messages: list[StrandedMessage],
        *,
        integration: str,
        problem: str,
    ) -> int:
        """Revoke the request: every grant removed, the requester and the admins told."""
        with self._store.read() as uow:
            live = uow.grants.live(request_id)
        failures: dict[str, str] = {}
        for grant in live:
            target = self._integrations.get(grant.integration)
            if target is None:
                failures[grant.integration] = no_longer_configured(grant.integration)
                continue
            try:
                self._retry(
                    lambda t=target, a=grant.account: t.revoke(account=a),
                    what=f"revoke {grant.integration}",
                )
            except IntegrationError as error:
                failures[grant.integration] = str(error)
        now = self._clock.now()
        shown = problem[:300]
        try:
            with self._store.write() as uow:
                request = uow.requests.get(request_id)
                assert request is not None
                for message in messages:
                    uow.outbox.retire(message_id=message.id)
                reason = credentials_undeliverable(integration=integration, problem=shown)
                ended, change = request.revoke(by=None, at=now, reason=reason)
                for grant in live:
                    if grant.integration in failures:
                        continue  # still live: the ending sweeper keeps revoking it
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
                            request_id=request_id,
                            data={"integration": grant.integration, "account": grant.account},
                        )
                    )
                uow.audit.append(
                    AuditEvent(
                        kind=AuditKind.CREDENTIALS_LOST,
                        at=now,
                        request_id=request_id,
                        data={
                            "integration": integration,
                            "error": problem[:500],
                            "undelivered": sorted({m.error for m in messages}),
                            "cleanup_failed": sorted(failures),
                        },
                    )
                )
                summary = self._transitions.record(uow, request=ended, change=change)
                self._notifier.alert(
                    uow,
                    message=credentials_lost_message(
                        request_id=request_id,
                        requester=summary.requester,
                        integration=integration,
                        problem=shown,
                    ),
                    admins=self._admins(),
                    at=now,
                )
                if failures:
                    self._alerts.failed(uow, request_id=request_id, failures=failures, at=now)
        except (TransitionError, ConcurrentChange):
            _log.warning("request changed while ending it for undelivered credentials")
            return 0
        _log.error(
            "undelivered credentials could not be issued anew: request revoked",
            extra={"integration": integration, "cleanup_failed": sorted(failures)},
        )
        return len(messages)

    def _retire(self, request_id: RequestId, messages: list[StrandedMessage]) -> None:
        with self._store.write() as uow:
            for message in messages:
                uow.outbox.retire(message_id=message.id)
            uow.grants.release(request_id=request_id, owner=self.owner)
