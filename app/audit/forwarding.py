"""Forwarding the audit log to a webhook (a SIEM, a log pipeline), in order, at least once.

A cursor in the database says how far forwarding got; one instance at a time forwards (a lease
in the database), so events go out in chain order. An event may be sent twice if an instance
dies between sending and moving the cursor: receivers deduplicate on ``X-JIT-Event-Id``, which
is the event's ``hash`` (a checkpoint's: its ``mac``), both inside the signed body.

Calls are signed as every webhook of the bot is (``app/integrations/signing.py``): a receiver
rejects a stale timestamp or an ID it has seen, so a captured call cannot be replayed. Plain
``http://`` and an unsigned webhook are refused by the settings unless
``ALLOW_INSECURE_WEBHOOKS`` allows them; redirects are never followed.
"""

from __future__ import annotations

import json
import logging
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from http.client import HTTPException
from itertools import islice
from typing import Any, Final

from app.integrations.signing import OPENER, signed_headers, where
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


def event_id(payload: dict[str, Any]) -> str:
    """The ID a call of ``payload`` carries: the same on every attempt, found in the body."""
    return str(payload.get("hash") or payload.get("mac") or payload["id"])


class WebhookFailed(urllib.error.URLError):
    """The receiver did not answer 2xx; the reason names its host, never the URL's path or
    query (they may carry a token) nor the secret."""


@dataclass(frozen=True, slots=True)
class Webhook:
    url: str = field(repr=False)
    secret: str | None = field(default=None, repr=False)
    timeout: float = 10.0
    wall_clock: Callable[[], float] = time.time

    def post(self, payload: dict[str, Any]) -> None:
        """Raises :class:`WebhookFailed` unless the receiver answered 2xx (a 3xx included:
        redirects are not followed)."""
        body = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
        headers = {"Content-Type": "application/json", "User-Agent": "jit-access-bot audit/1"}
        headers |= signed_headers(
            secret=self.secret,
            event_id=event_id(payload),
            timestamp=str(int(self.wall_clock())),
            body=body,
        )
        request = urllib.request.Request(self.url, data=body, headers=headers, method="POST")  # noqa: S310 - the scheme is checked by the settings
        try:
            with OPENER.open(request, timeout=self.timeout) as answer:
                answer.read(64 * 1024)
                status = int(answer.status)
        except urllib.error.HTTPError as error:
            error.close()
            redirect = " (redirects are not followed)" if error.code < 400 else ""
            raise WebhookFailed(f"{where(self.url)} answered {error.code}{redirect}") from None
        except (urllib.error.URLError, HTTPException, OSError) as error:
            reason = getattr(error, "reason", None) or error
            raise WebhookFailed(f"{where(self.url)} unreachable: {reason}") from None
        if not 200 <= status < 300:
            raise WebhookFailed(f"{where(self.url)} answered {status}")


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
                    reason = str(getattr(error, "reason", error))
                    _log.warning("audit forwarding paused", extra={"error": reason})
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
