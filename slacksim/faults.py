"""Failures and slowness a test asks for: HTTP errors, outages, delays, per-channel rate limits."""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass

ERRORS_BY_STATUS = {
    429: "ratelimited",
    500: "internal_error",
    502: "bad_gateway",
    503: "service_unavailable",
    504: "request_timeout",
}


@dataclass(slots=True)
class _Rule:
    method: str | None  # None: any method
    status: int
    error: str
    retry_after: int | None
    remaining: int | None  # None: until removed

    def matches(self, method: str) -> bool:
        return (self.method is None or self.method == method) and (
            self.remaining is None or self.remaining > 0
        )


@dataclass(slots=True)
class _Delay:
    method: str | None
    seconds: float
    remaining: int | None


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


@dataclass(frozen=True, slots=True)
class Failure:
    status: int
    error: str
    retry_after: int | None


class Faults:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[_Rule] = []
        self._outage: _Rule | None = None
        self._delays: list[_Delay] = []
        self._rate: float | None = None
        self._burst = 1.0
        self._rate_methods: frozenset[str] = frozenset()
        self._buckets: dict[tuple[str, str], _Bucket] = {}

    def inject(
        self,
        *,
        method: str | None,
        status: int,
        retry_after: int | None = None,
        times: int | None = 1,
        error: str | None = None,
    ) -> None:
        if status == 429 and retry_after is None:
            retry_after = 1
        rule = _Rule(
            method, status, error or ERRORS_BY_STATUS.get(status, "fatal_error"), retry_after, times
        )
        with self._lock:
            self._rules.append(rule)

    def outage(self, *, status: int) -> None:
        with self._lock:
            self._outage = _Rule(
                None, status, ERRORS_BY_STATUS.get(status, "fatal_error"), None, None
            )

    def restore(self) -> None:
        with self._lock:
            self._outage = None

    def inject_delay(self, *, method: str | None, seconds: float, times: int | None = None) -> None:
        with self._lock:
            self._delays.append(_Delay(method, seconds, times))

    def enforce_rate_limit(
        self,
        *,
        per_second: float | None,
        burst: float | None = None,
        methods: tuple[str, ...] = ("chat.postMessage",),
    ) -> None:
        with self._lock:
            self._rate = per_second
            self._burst = max(1.0, burst if burst is not None else per_second or 1.0)
            self._rate_methods = frozenset(methods)
            self._buckets.clear()

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()
            self._delays.clear()
            self._outage = None
            self._rate = None
            self._buckets.clear()

    def delay_for(self, method: str) -> float:
        with self._lock:
            for delay in self._delays:
                if (delay.method is None or delay.method == method) and (
                    delay.remaining is None or delay.remaining > 0
                ):
                    if delay.remaining is not None:
                        delay.remaining -= 1
                    return delay.seconds
        return 0.0

    def failure_for(self, method: str, *, channel: str | None) -> Failure | None:
        with self._lock:
            if self._outage is not None:
                return Failure(self._outage.status, self._outage.error, None)
            rule = next((r for r in self._rules if r.matches(method)), None)
            if rule is not None:
                if rule.remaining is not None:
                    rule.remaining -= 1
                    if rule.remaining <= 0:
                        self._rules.remove(rule)
                return Failure(rule.status, rule.error, rule.retry_after)
            if self._rate is not None and method in self._rate_methods and channel:
                return self._take_token(method, channel, self._rate)
        return None

    def _take_token(self, method: str, channel: str, rate: float) -> Failure | None:
        now = time.monotonic()
        bucket = self._buckets.setdefault((method, channel), _Bucket(self._burst, now))
        bucket.tokens = min(self._burst, bucket.tokens + (now - bucket.updated) * rate)
        bucket.updated = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return None
        wait = (1.0 - bucket.tokens) / rate
        return Failure(429, "ratelimited", max(1, math.ceil(wait)))
