"""Webhook: the bot tells another system to grant or revoke, and it does the work.

Every call is ``POST <url>``, a JSON body and three headers (``app/integrations/signing.py``)::

    X-JIT-Event-Id: <the call's id, also the body's "id": the same on each retry of the call>
    X-JIT-Timestamp: <unix seconds when this attempt was sent>
    X-JIT-Signature: v1=<hex HMAC-SHA256(secret, timestamp + "." + body)>

Bodies: ``{"id", "action": "grant", "integration", "account", "items": [{"resource",
"permission"}], "until": ISO 8601}``, ``{"id", "action": "revoke", "integration", "account"}``,
``{"id", "action": "extend", "integration", "account", "until"}`` and ``{"id", "action":
"check", "integration"}``. The ID is new for each call the bot decides to
make and kept across that call's retries, so a receiver skips a retry of a call it completed;
a grant made again later (after a revoke, or by the next instance) is a new call with a new ID.
Receivers must treat grant and revoke as idempotent (a call is retried after a timeout and
after 5xx) and answer 2xx, 404 or 410 when revoking an unknown account. Redirects are not
followed: a 3xx answer is a refusal. A grant's 2xx answer may carry ``{"access_details":
{"label": "value", ...}, "secret_fields": ["password", ...]}``; values labelled like a password,
secret or token are masked even when ``secret_fields`` forgets them.

A grant is only a plain failure when it certainly was not applied: every attempt failed to
connect, or the receiver refused it (a 4xx other than 408 and 429) with no earlier attempt that
may have been applied. Anything else that is not a 2xx (no answer after the request was sent,
a 5xx, an unusable 2xx answer) raises :class:`GrantUncertain`, and the services keep revoking
until a revoke is confirmed (docs/integrations/webhook.md).
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from http.client import HTTPException
from typing import Final

from app.integrations._checks import require_account, require_aware, require_offered
from app.integrations._errors import failure
from app.integrations._identity import Identity
from app.integrations.base import (
    AccessDetails,
    GrantItem,
    GrantUncertain,
    IntegrationError,
    Resource,
    RevokeOutcome,
    revoke_each,
)
from app.integrations.signing import OPENER, signed_headers
from domain.connections import WebhookConnection

TYPE_NAME: Final = "webhook"
MAX_RESPONSE_BYTES: Final = 64 * 1024
RETRYABLE_STATUSES: Final = frozenset({408, 429})
"""4xx answers that mean "later", not "never" (and the request was not processed); every 5xx is
retried too, but a 5xx may come after part of the work was done."""
GONE_STATUSES: Final = frozenset({404, 410})
"""A revoke answered with these: the receiver does not know the account, so it is gone."""
NOT_UNDERSTOOD: Final = frozenset({400, 405, 422})
"""An ``extend`` answered with these: the receiver does not know the action (it was written
before extensions existed) and keeps no end of its own."""
MAX_BACKOFF_SECONDS: Final = 30.0
_SECRET_WORDS: Final = ("password", "secret", "token")


@dataclass(frozen=True, slots=True)
class _Answer:
    status: int
    body: bytes
    retry_after: float | None = None


class _NotSent(Exception):
    """The request never reached the receiver (refused, unresolvable, connect timeout)."""


class _Lost(Exception):
    """The request was sent but no complete answer came back: it may have been applied."""


@dataclass
class _Failed(Exception):
    """Every attempt failed; what the last one saw and what the receiver may have done."""

    problem: str
    maybe_applied: bool
    """An attempt was sent and lost, or answered 5xx: the receiver may have acted on it."""
    connected: bool
    """At least one attempt reached the receiver."""


class WebhookIntegration(Identity):
    """Delegates grant and revoke to an HTTP endpoint, signed with a shared secret."""

    TYPE_NAME = TYPE_NAME

    def __init__(
        self,
        *,
        name: str,
        connection: WebhookConnection,
        permissions: Sequence[str],
        backoff_seconds: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(name=name, permissions=permissions)
        self._connection = connection
        self._backoff = backoff_seconds
        self._sleep = sleep
        self._clock = clock

    def discover(self) -> list[Resource]:
        return [Resource(name=name, kind="resource") for name in self._connection.resources]

    def check(self) -> None:
        try:
            self._call({"action": "check"})
        except _Failed as failed:
            raise self._failure("check", failed.problem) from None

    def safeguard_problem(self) -> str | None:
        return None  # the grant carries "until": ending it on time is the receiver's to do

    def accounts(self) -> list[str] | None:
        return None  # a receiver has no listing call: the bot revokes what it granted

    def preflight(self) -> list[str]:
        try:
            self._call({"action": "check"})
        except _Failed as failed:
            if not failed.connected:
                raise self._failure("preflight", failed.problem) from None
            return [f"The receiver did not accept the check action: {failed.problem}."]
        return []

    def grant(self, *, account: str, items: Sequence[GrantItem], until: datetime) -> AccessDetails:
        require_account(account, integration=self._name)
        require_offered(items, offered=self._offered, integration=self._name)
        require_aware(until, integration=self._name)
        payload = {
            "action": "grant",
            "account": account,
            "items": [{"resource": item.resource, "permission": item.permission} for item in items],
            "until": until.isoformat(),
        }
        try:
            answer = self._call(payload)
        except _Failed as failed:
            if failed.maybe_applied:
                raise self._uncertain(failed.problem) from None
            # Refused, never connected, or only told to come back later: nothing was applied.
            raise self._failure("grant", failed.problem) from None
        try:
            fields, secret_fields = self._access_details(answer.body)
        except IntegrationError as exc:
            # The receiver answered 2xx: it granted, whatever we make of its answer.
            raise self._uncertain(f"{exc}; the receiver answered 2xx") from None
        return AccessDetails(fields=fields, secret_fields=secret_fields, valid_until=until)

    def revoke_many(self, *, accounts: Sequence[str]) -> RevokeOutcome:
        """One confirmed revoke after the other: each is its own call to the target."""
        return revoke_each(self, accounts=accounts)

    def extend(self, *, account: str, until: datetime) -> None:
        """``{"action": "extend", "account", "until"}``: a receiver that enforces the end itself
        moves it and answers 2xx. A receiver that does not know the action (400, 405, 422)
        keeps no end of its own, so there is nothing to move: the bot's revoke ends the access
        at the new end."""
        require_account(account, integration=self._name)
        require_aware(until, integration=self._name)
        payload = {"action": "extend", "account": account, "until": until.isoformat()}
        try:
            self._call(payload, done=NOT_UNDERSTOOD)
        except _Failed as failed:
            raise self._failure("extend", failed.problem) from None

    def revoke(self, *, account: str) -> None:
        """Confirmed by a 2xx, or by 404/410 (the receiver does not know the account)."""
        require_account(account, integration=self._name)
        try:
            self._call({"action": "revoke", "account": account}, done=GONE_STATUSES)
        except _Failed as failed:
            raise self._failure("revoke", failed.problem) from None

    def _call(
        self, payload: Mapping[str, object], *, done: frozenset[int] = frozenset()
    ) -> _Answer:
        """POSTs ``payload``, retrying what may succeed later; returns a 2xx answer (or one of
        ``done``), raises :class:`_Failed` otherwise."""
        call_id = str(uuid.uuid4())
        body = json.dumps(
            {"id": call_id, **payload, "integration": self._name}, separators=(",", ":")
        ).encode()
        attempts = self._connection.retries + 1
        maybe_applied = connected = False
        problem = ""
        retry_after: float | None = None
        for attempt in range(attempts):
            if attempt:
                self._sleep(self._delay(attempt, retry_after))
            retry_after = None
            try:
                answer = self._post(body, call_id=call_id)
            except _NotSent as exc:
                problem = f"cannot reach the endpoint ({exc})"
                continue
            except _Lost as exc:
                problem = f"no answer after the request was sent ({exc})"
                maybe_applied = connected = True
                continue
            connected = True
            if 200 <= answer.status < 300 or answer.status in done:
                return answer
            problem = f"HTTP {answer.status}"
            if 300 <= answer.status < 400:
                # A redirect would resend a signed body somewhere the policy did not name.
                problem += " (redirects are not followed)"
            if answer.status >= 500:
                maybe_applied = True
            if _refusal(answer.status):
                raise _Failed(problem, maybe_applied, connected)
            retry_after = answer.retry_after
        raise _Failed(f"{problem} (after {attempts} attempts)", maybe_applied, connected)

    def _post(self, body: bytes, *, call_id: str) -> _Answer:
        timestamp = str(int(self._clock()))
        request = urllib.request.Request(  # noqa: S310 - HttpUrl only allows http(s)
            str(self._connection.url),
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                "User-Agent": "jit-access-bot",
                **signed_headers(
                    secret=self._connection.secret,
                    event_id=call_id,
                    timestamp=timestamp,
                    body=body,
                ),
            },
        )
        try:
            with OPENER.open(request, timeout=self._connection.timeout_seconds) as response:
                return _Answer(status=response.status, body=response.read(MAX_RESPONSE_BYTES))
        except urllib.error.HTTPError as error:
            with error:
                return _Answer(
                    status=error.code,
                    retry_after=_retry_after(error.headers.get("Retry-After")),
                    body=b"",
                )
        except urllib.error.URLError as error:
            # urllib wraps what fails while connecting and sending; the body is small enough
            # to be sent whole or not at all, so the receiver cannot have acted on it.
            raise _NotSent(_reason(error)) from None
        except (HTTPException, OSError) as error:
            # Sent, then the answer timed out, was cut off or was not HTTP.
            raise _Lost(_reason(error)) from None

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, MAX_BACKOFF_SECONDS)
        return min(self._backoff * 2.0 ** (attempt - 1), MAX_BACKOFF_SECONDS)

    def _access_details(self, body: bytes) -> tuple[dict[str, str], frozenset[str]]:
        if not body.strip():
            return {}, frozenset()
        try:
            document = json.loads(body)
        except ValueError:
            return {}, frozenset()  # a plain "OK" is a fine answer to a grant
        if not isinstance(document, dict) or "access_details" not in document:
            return {}, frozenset()
        details = document["access_details"]
        declared = document.get("secret_fields", [])
        if (
            not isinstance(details, dict)
            or not all(isinstance(k, str) and isinstance(v, str) for k, v in details.items())
            or not isinstance(declared, list)
            or not all(isinstance(k, str) for k in declared)
        ):
            raise self._failure(
                "grant",
                "the answer's access_details must map strings to strings"
                " and secret_fields must list strings",
            )
        guessed = {key for key in details if any(w in key.lower() for w in _SECRET_WORDS)}
        return dict(details), frozenset(declared) & details.keys() | guessed

    def _failure(self, action: str, detail: str) -> IntegrationError:
        return failure(self._name, action, detail, secrets=(self._connection.secret,))

    def _uncertain(self, detail: str) -> GrantUncertain:
        detail += "; the receiver may have granted, so the account must be revoked"
        return GrantUncertain(str(self._failure("grant", detail)))


def _refusal(status: int) -> bool:
    """A definite "no" to this request: not 2xx, not 5xx, not "try later"."""
    return status < 500 and status not in RETRYABLE_STATUSES and not 200 <= status < 300


def _retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        return None  # an HTTP date: fall back to our own back-off


def _reason(exc: Exception) -> str:
    reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
    return str(reason) or type(reason).__name__
