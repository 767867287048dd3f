"""Web API clients pointed at ``SLACK_API_URL`` (Slack's, or the local simulator's)."""

from __future__ import annotations

import logging
from typing import Final

from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)

from app.slack.keepalive import KeepAliveWebClient

TIMEOUT_SECONDS: Final = 10

# The SDK logs whole request bodies at DEBUG, and the relay's bodies include credentials: its
# logger is pinned at WARNING whatever LOG_LEVEL says, so no body is ever written to a log.
_quiet = logging.getLogger("app.slack.client")
_quiet.setLevel(logging.WARNING)


def make_web_client(
    *, token: str, base_url: str, retries: bool = True, keep_alive: bool = False
) -> WebClient:
    """A client that retries 429 (after ``Retry-After``), 5xx and dropped connections.

    The relay that sends queued messages uses ``retries=False``: it schedules its own retries in
    the database instead of sleeping in a thread, and must not stall other channels.
    ``keep_alive``: calls over one open connection per thread (the relay's sending threads and
    the listeners' alike) instead of a new one per call.
    """
    kind = KeepAliveWebClient if keep_alive else WebClient
    client = kind(token=token, base_url=base_url, timeout=TIMEOUT_SECONDS, logger=_quiet)
    client.retry_handlers.clear()
    client.retry_handlers.append(ConnectionErrorRetryHandler(max_retry_count=2))
    if retries:
        client.retry_handlers.append(RateLimitErrorRetryHandler(max_retry_count=3))
        client.retry_handlers.append(ServerErrorRetryHandler(max_retry_count=3))
    return client
