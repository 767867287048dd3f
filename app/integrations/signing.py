"""How every outgoing webhook call is signed and sent: the webhook integration, the audit webhook
and request webhooks (README, "Verifying webhook calls").

Headers of every call::

    X-JIT-Event-Id: <the call's ID, the same on every retry of it; also in the signed body>
    X-JIT-Timestamp: <unix seconds when this attempt was sent>
    X-JIT-Signature: v1=<hex HMAC-SHA256(secret, timestamp + "." + body)>

The ID is inside the body as well (``id``), so the signature covers the ID, the timestamp and
the body together; a receiver rejects a timestamp more than :data:`ALLOWED_SKEW_SECONDS` from
its clock and an ID it has already processed, which together stop replays. The signed string
is the one the bot has always used, so receivers written before the ID existed keep working.

Redirects are never followed: a signed body goes only to the URL the configuration names, and
a ``3xx`` answer is a failure like any other non-``2xx``.
"""

from __future__ import annotations

import hashlib
import hmac
import urllib.request
from email.message import Message
from typing import IO, Final
from urllib.parse import urlsplit

SIGNATURE_VERSION: Final = "v1"
EVENT_ID_HEADER: Final = "X-JIT-Event-Id"
TIMESTAMP_HEADER: Final = "X-JIT-Timestamp"
SIGNATURE_HEADER: Final = "X-JIT-Signature"
ALLOWED_SKEW_SECONDS: Final = 300
"""What receivers should accept between ``X-JIT-Timestamp`` and their own clock, either way."""


def sign(*, secret: str, timestamp: str, body: bytes) -> str:
    """The ``X-JIT-Signature`` value for ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return f"{SIGNATURE_VERSION}={mac.hexdigest()}"


def signed_headers(
    *, secret: str | None, event_id: str, timestamp: str, body: bytes
) -> dict[str, str]:
    """The ID, timestamp and (with a secret) signature headers of one attempt."""
    headers = {EVENT_ID_HEADER: event_id, TIMESTAMP_HEADER: timestamp}
    if secret:
        headers[SIGNATURE_HEADER] = sign(secret=secret, timestamp=timestamp, body=body)
    return headers


def is_plain_http(url: str) -> bool:
    """``http://``: neither the body nor the signature's freshness is protected in transit."""
    return url.strip().lower().startswith("http://")


def where(url: str) -> str:
    """``scheme://host[:port]`` of ``url``, for logs: its path, query and user part may carry
    a token, so they are never written down."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or "?"
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "an unparsable URL"
    return f"{parts.scheme}://{host}{port}"


class NoRedirects(urllib.request.HTTPRedirectHandler):
    """Makes urllib raise ``HTTPError`` with the ``3xx`` instead of following it."""

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: Message,
        newurl: str,
    ) -> urllib.request.Request | None:
        return None


OPENER: Final = urllib.request.build_opener(NoRedirects)
"""The opener every webhook call goes through."""
