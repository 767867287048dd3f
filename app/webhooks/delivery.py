"""One signed POST of one event to one subscription; anything but a 2xx answer is a failure.

Headers (README, "Request webhooks")::

    X-JIT-Event-Id: <the event's id, the same on every retry>
    X-JIT-Event-Type: request.approved
    X-JIT-Timestamp: <unix seconds when this attempt was sent>
    X-JIT-Signature: v1=<hex HMAC-SHA256(secret, timestamp + "." + body)>

Signing and the no-redirect opener are shared with the webhook integration and the audit
webhook (``app/integrations/signing.py``). Redirects are refused rather than followed: a signed
event goes only where the policy says.
"""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from http.client import HTTPException
from typing import Final

from app.integrations.signing import OPENER, signed_headers

EVENT_TYPE_HEADER: Final = "X-JIT-Event-Type"
USER_AGENT: Final = "jit-access-bot request-webhooks/1"


class DeliveryFailed(Exception):
    """The receiver did not take the event; ``retry_after`` is what it asked for, if anything.
    The message never holds the URL (it may carry a token) nor the secret."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A subscription's URL and key, ready to send; ``problem`` says why it cannot send at all
    (a missing variable, plain http not allowed), and every attempt then fails with it."""

    url: str = field(repr=False)
    secret: str = field(repr=False)
    timeout: float = 10.0
    problem: str | None = None


def post(
    endpoint: Endpoint,
    *,
    event_id: str,
    event_type: str,
    body: bytes,
    wall_clock: Callable[[], float] = time.time,
) -> None:
    """Send one event; raises :class:`DeliveryFailed` unless the receiver answered 2xx."""
    if endpoint.problem is not None:
        raise DeliveryFailed(endpoint.problem)
    stamp = str(int(wall_clock()))
    request = urllib.request.Request(  # noqa: S310 - the scheme is checked when built
        endpoint.url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            EVENT_TYPE_HEADER: event_type,
            **signed_headers(secret=endpoint.secret, event_id=event_id, timestamp=stamp, body=body),
        },
    )
    try:
        with OPENER.open(request, timeout=endpoint.timeout) as answer:
            answer.read(64 * 1024)
            status = int(answer.status)
    except urllib.error.HTTPError as error:
        error.close()
        raise DeliveryFailed(
            f"answered {error.code}"
            + (" (redirects are not followed)" if error.code < 400 else ""),
            retry_after=_retry_after(error.headers.get("Retry-After")),
        ) from None
    except (urllib.error.URLError, HTTPException, OSError) as error:
        reason = getattr(error, "reason", None) or error
        raise DeliveryFailed(f"no answer: {reason}") from None
    if not 200 <= status < 300:
        raise DeliveryFailed(f"answered {status}")


def _retry_after(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None  # an HTTP date: the back-off decides
