"""One signed POST of one event to one subscription; anything but a 2xx answer is a failure.

Headers (README, "Request webhooks")::

    X-JIT-Event-Id: <the event's id, the same on every retry>
    X-JIT-Event-Type: request.approved
    X-JIT-Timestamp: <unix seconds when this attempt was sent>
    X-JIT-Signature: v1=<hex HMAC-SHA256(secret, timestamp + "." + body)>

The signature is the one the webhook integration uses (``app/integrations/webhook.py``).
Redirects are refused rather than followed: a signed event goes only where the policy says.
"""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import Message
from http.client import HTTPException
from typing import IO, Final

from app.integrations.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign

EVENT_ID_HEADER: Final = "X-JIT-Event-Id"
EVENT_TYPE_HEADER: Final = "X-JIT-Event-Type"
USER_AGENT: Final = "jit-access-bot request-webhooks/1"
ALLOWED_SKEW_SECONDS: Final = 300
"""What receivers should accept between ``X-JIT-Timestamp`` and their own clock (README)."""


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


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: Message,
        newurl: str,
    ) -> urllib.request.Request | None:
        return None  # urllib then raises HTTPError with the 3xx


_OPENER: Final = urllib.request.build_opener(_NoRedirects)


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
            EVENT_ID_HEADER: event_id,
            EVENT_TYPE_HEADER: event_type,
            TIMESTAMP_HEADER: stamp,
            SIGNATURE_HEADER: sign(secret=endpoint.secret, timestamp=stamp, body=body),
        },
    )
    try:
        with _OPENER.open(request, timeout=endpoint.timeout) as answer:
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
