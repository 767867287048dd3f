"""Slack Web API errors and 429s, seen where the SDK sees every response.

The SDK hands each response (a 200 with ``ok: false`` too), HTTP error and network error of a
``WebClient`` to its retry handlers, in order, before it retries or raises. Put first in the
list, :class:`SlackCallCounter` counts what it sees and never asks for a retry, so the handlers
after it (``app/slack/client.py``) and the outbox relay's own ``Retry-After`` hold behave exactly
as before.
"""

from __future__ import annotations

import json
from typing import Any

from slack_sdk import WebClient
from slack_sdk.http_retry.handler import RetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState

from app.operations.metrics import Metrics


class SlackCallCounter(RetryHandler):
    def __init__(self, *, metrics: Metrics) -> None:
        super().__init__(max_retry_count=0)
        self._errors = metrics.slack_errors
        self._limited = metrics.slack_rate_limited

    def can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        method = request.url.rstrip("/").rsplit("/", 1)[-1].split("?", 1)[0]
        if response is None:
            if error is not None:
                self._errors.labels(method=method, error=type(error).__name__).inc()
            return False
        if response.status_code == 429:
            self._limited.labels(method=method).inc()
        problem = _error_of(response)
        if problem is not None:
            self._errors.labels(method=method, error=problem).inc()
        return False

    def observe(self, client: WebClient) -> None:
        """Count ``client``'s calls from now on (first in line, before any retry)."""
        client.retry_handlers.insert(0, self)


def _error_of(response: HttpResponse) -> str | None:
    body: Any = response.body
    if body is None and response.data:
        try:
            body = json.loads(response.data)
        except ValueError:
            body = None
    if isinstance(body, dict) and body.get("ok") is False:
        return str(body.get("error") or f"http_{response.status_code}")
    if response.status_code >= 400:
        return f"http_{response.status_code}"
    return None
