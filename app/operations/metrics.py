"""The instruments, one registry per application (several apps in one process, as the tests run
them, or several instances side by side, each expose their own)."""

from __future__ import annotations

from typing import Final

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.process_collector import ProcessCollector

PREFIX: Final = "jit"
# Integration calls take from milliseconds (Redis) to tens of seconds (a webhook that retries).
CALL_BUCKETS: Final = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
# An end is due within a sweep (1 s) and a lease (60 s) at worst; beyond that it is late.
LATENESS_BUCKETS: Final = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 900.0, 3600.0)


class Metrics:
    """Every counter and histogram the bot updates; the gauges are read from the database at
    scrape time (:mod:`app.operations.database`)."""

    def __init__(self, *, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        r = self.registry
        ProcessCollector(registry=r)
        self.decisions = Counter(
            f"{PREFIX}_decisions",
            "Decisions on pending requests, by outcome (approved, denied, step_approved, refused).",
            ["outcome"],
            registry=r,
        )
        self.grant_seconds = Histogram(
            f"{PREFIX}_grant_seconds",
            "Duration of grant calls to an integration, failed ones included.",
            ["integration"],
            buckets=CALL_BUCKETS,
            registry=r,
        )
        self.revoke_seconds = Histogram(
            f"{PREFIX}_revoke_seconds",
            "Duration of revoke calls to an integration, failed ones included.",
            ["integration"],
            buckets=CALL_BUCKETS,
            registry=r,
        )
        self.grant_failures = Counter(
            f"{PREFIX}_grant_failures",
            "Grant calls that raised, by integration (maybe-granted ones included).",
            ["integration"],
            registry=r,
        )
        self.revoke_failures = Counter(
            f"{PREFIX}_revoke_failures",
            "Revoke calls that raised, by integration; the access may still exist.",
            ["integration"],
            registry=r,
        )
        self.expiry_lateness = Histogram(
            f"{PREFIX}_expiry_lateness_seconds",
            "Seconds between a request's expires_at and the end this instance recorded.",
            buckets=LATENESS_BUCKETS,
            registry=r,
        )
        self.reconciler_removals = Counter(
            f"{PREFIX}_reconciler_removals",
            "Accounts the reconciler found without a live request and removed, by integration.",
            ["integration"],
            registry=r,
        )
        self.slack_errors = Counter(
            f"{PREFIX}_slack_api_errors",
            "Slack Web API calls that failed, by method and error (HTTP status, Slack's error "
            "code or the network exception).",
            ["method", "error"],
            registry=r,
        )
        self.slack_rate_limited = Counter(
            f"{PREFIX}_slack_rate_limited",
            "Slack Web API calls answered 429 (Retry-After), by method.",
            ["method"],
            registry=r,
        )
