"""Grant and revoke latency and failures, measured around an integration that behaves as
before: same answers, same exceptions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.integrations.base import GrantItem, Integration, IntegrationError
from app.operations.instrumented import TimedIntegration, timed
from app.operations.metrics import Metrics
from tests.fakes import RecordingIntegration
from tests.unit.operations.conftest import sample

UNTIL = datetime(2026, 3, 2, 10, 0, tzinfo=UTC) + timedelta(hours=1)
ITEMS = [GrantItem("orders:*", "read_only")]


def test_a_grant_and_a_revoke_are_timed_per_integration_and_answer_unchanged(
    metrics: Metrics,
) -> None:
    inner = RecordingIntegration(name="prod-redis", type_name="redis")
    wrapped: Integration = TimedIntegration(inner=inner, metrics=metrics)
    details = wrapped.grant(account="jit_abc123", items=ITEMS, until=UNTIL)
    wrapped.revoke(account="jit_abc123")
    assert details.fields  # what the fake answered, passed through
    assert inner.grant_calls == ["jit_abc123"]
    assert inner.revoke_calls == ["jit_abc123"]
    assert (wrapped.name, wrapped.type_name) == ("prod-redis", "redis")
    assert sample(metrics, "jit_grant_seconds_count", integration="prod-redis") == 1
    assert sample(metrics, "jit_revoke_seconds_count", integration="prod-redis") == 1
    assert sample(metrics, "jit_grant_failures_total", integration="prod-redis") == 0
    assert sample(metrics, "jit_grant_seconds_sum", integration="prod-redis") > 0


def test_failures_are_counted_and_raised_as_they_were(metrics: Metrics) -> None:
    inner = RecordingIntegration(name="prod-pg", fail_grants=1, fail_revokes=2)
    wrapped = TimedIntegration(inner=inner, metrics=metrics)
    with pytest.raises(IntegrationError):
        wrapped.grant(account="jit_abc123", items=ITEMS, until=UNTIL)
    for _ in range(2):
        with pytest.raises(IntegrationError):
            wrapped.revoke(account="jit_abc123")
    wrapped.revoke(account="jit_abc123")
    assert sample(metrics, "jit_grant_failures_total", integration="prod-pg") == 1
    assert sample(metrics, "jit_revoke_failures_total", integration="prod-pg") == 2
    assert sample(metrics, "jit_revoke_seconds_count", integration="prod-pg") == 3


def test_every_integration_shows_at_zero_before_its_first_call(metrics: Metrics) -> None:
    timed(
        {"a": RecordingIntegration(name="a"), "b": RecordingIntegration(name="b")}, metrics=metrics
    )
    for name in ("a", "b"):
        assert (
            metrics.registry.get_sample_value("jit_revoke_failures_total", {"integration": name})
            == 0
        )
        assert (
            metrics.registry.get_sample_value("jit_grant_seconds_count", {"integration": name}) == 0
        )
