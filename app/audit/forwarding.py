"""Forwarding the audit log to a webhook (a SIEM, a log pipeline), in order, at least once.

A cursor in the database says how far forwarding got; one instance at a time forwards (a lease
in the database), so events go out in chain order. An event may be sent twice if an instance
dies between sending and moving the cursor: receivers deduplicate on ``id`` (or ``hash``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from datetime import timedelta
from itertools import islice
from typing import Any, Final

from domain.clock import Clock
from store.repositories.audit import StoredEvent
from store.unit_of_work import Store

_log = logging.getLogger(__name__)

CURSOR: Final = "audit_forwarded_to"
LEASE: Final = "audit_forwarder_lease"
LEASE_FOR: Final = timedelta(seconds=60)
BATCH: Final = 500


def event_payload(stored: StoredEvent) -> dict[str, Any]:
    """The event exactly as stored, chain fields included, so the receiver can verify it (the
    link, and the ID of the key that made it; README, "Audit log")."""
    event = stored.event
    return {
        "id": stored.id,
        "at": event.at.isoformat(),
        "kind": event.kind.value,
        "actor": event.actor,
        "request_id": event.request_id,
        "data": event.data,
        "prev_hash": stored.prev_hash,
        "hash": stored.hash,
        "key_id": stored.key_id,
    }


@dataclass(frozen=True, slots=True)
class Webhook:
    url: str
    secret: str | None = None
    timeout: float = 10.0

    def post(self, payload: dict[str, Any]) -> None:
        body = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
        headers = {"Content-Type": "application/json"}
        if self.secret:
            stamp = str(int(time.time()))
            digest = hmac.new(self.secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256)
            headers |= {"X-JIT-Timestamp": stamp, "X-JIT-Signature": f"v1={digest.hexdigest()}"}
        request = urllib.request.Request(self.url, data=body, headers=headers, method="POST")  # noqa: S310 - admin-configured URL
        with urllib.request.urlopen(request, timeout=self.timeout) as answer:  # noqa: S310
            if not 200 <= answer.status < 300:
                raise urllib.error.HTTPError(
                    self.url, answer.status, "not 2xx", answer.headers, None
                )


class AuditForwarder:
    def __init__(self, *, store: Store, webhook: Webhook, clock: Clock) -> None:
        self._store = store
        self._webhook = webhook
        self._clock = clock
        self._owner = f"audit-{uuid.uuid4().hex[:12]}"

    def run(self) -> int:
        """Forward what is new; returns how many events went out."""
        if not self._claim():
            return 0
        sent = 0
        try:
            with self._store.read() as uow:
                after = int(uow.meta.get(CURSOR) or 0)
                events = list(islice(uow.audit.iter_all(after=after), BATCH))
            for stored in events:
                try:
                    self._webhook.post(event_payload(stored))
                except (OSError, urllib.error.URLError) as error:
                    _log.warning("audit forwarding paused", extra={"error": str(error)})
                    break
                with self._store.write() as uow:
                    uow.meta.put(CURSOR, str(stored.id))
                sent += 1
        finally:
            self._release()
        return sent

    def _claim(self) -> bool:
        now = self._clock.now()
        mine = f"{self._owner}|{(now + LEASE_FOR).isoformat()}"
        with self._store.write() as uow:
            held = uow.meta.get(LEASE)
            if held is not None:
                _, _, until = held.partition("|")
                if until > now.isoformat():
                    return False
            return uow.meta.swap(LEASE, expected=held, value=mine)

    def _release(self) -> None:
        with self._store.write() as uow:
            held = uow.meta.get(LEASE)
            if held and held.startswith(self._owner + "|"):
                uow.meta.swap(LEASE, expected=held, value="|")
