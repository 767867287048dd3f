"""The HTTP endpoint on loopback: JSON verdicts with a status code, checks bounded in time and
reported without their exception's text, Prometheus text on /metrics."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from app.operations.metrics import Metrics
from app.operations.probes import Check, Probe
from app.operations.server import OperationsServer


class Checks:
    """Named checks a test can change while the server runs."""

    def __init__(self) -> None:
        self.checks: dict[str, Check] = {}

    def __call__(self) -> Mapping[str, Check]:
        return self.checks


@pytest.fixture
def endpoint(metrics: Metrics) -> Iterator[tuple[OperationsServer, Checks, Checks]]:
    alive, ready = Checks(), Checks()
    server = OperationsServer(
        host="127.0.0.1",
        port=0,
        registry=metrics.registry,
        liveness=Probe(checks=alive),
        readiness=Probe(checks=ready, timeout=0.3),
    )
    server.start()
    yield server, alive, ready
    server.stop()


def get(server: OperationsServer, path: str) -> tuple[int, bytes]:
    url = f"http://127.0.0.1:{server.port}{path}"
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            return int(answer.status), bytes(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def verdict(server: OperationsServer, path: str) -> tuple[int, dict[str, Any]]:
    status, body = get(server, path)
    found: dict[str, Any] = json.loads(body)
    return status, found


def test_every_check_passing_is_200_and_one_failing_is_503_naming_it(
    endpoint: tuple[OperationsServer, Checks, Checks],
) -> None:
    server, alive, ready = endpoint
    alive.checks = {"worker-end": lambda: None}
    ready.checks = {"database": lambda: None, "slack": lambda: "Socket Mode not connected"}
    assert verdict(server, "/healthz") == (
        200,
        {"status": "ok", "checks": {"worker-end": "ok"}},
    )
    assert verdict(server, "/readyz") == (
        503,
        {
            "status": "unavailable",
            "checks": {"database": "ok", "slack": "Socket Mode not connected"},
        },
    )
    ready.checks["slack"] = lambda: None
    assert verdict(server, "/readyz")[0] == 200


def test_a_check_that_raises_is_reported_by_its_type_only(
    endpoint: tuple[OperationsServer, Checks, Checks],
) -> None:
    server, _, ready = endpoint

    def leaky() -> str | None:
        raise ConnectionError("password=hunter2 rejected")

    ready.checks = {"database": leaky}
    status, body = get(server, "/readyz")
    assert status == 503
    assert json.loads(body)["checks"] == {"database": "failed (ConnectionError)"}
    assert b"hunter2" not in body


def test_a_check_that_hangs_fails_within_the_probe_timeout(
    endpoint: tuple[OperationsServer, Checks, Checks],
) -> None:
    server, _, ready = endpoint
    release = threading.Event()

    def hangs() -> str | None:
        release.wait(10)
        return None

    ready.checks = {"database": hangs, "slack": lambda: None}
    try:
        status, body = verdict(server, "/readyz")
    finally:
        release.set()
    assert status == 503
    assert body["checks"] == {"database": "no answer within 0.3 s", "slack": "ok"}


def test_metrics_are_served_in_the_prometheus_text_format_and_other_paths_are_404(
    endpoint: tuple[OperationsServer, Checks, Checks], metrics: Metrics
) -> None:
    server, _, _ = endpoint
    metrics.decisions.labels(outcome="approved").inc()
    status, body = get(server, "/metrics")
    assert status == 200
    families = {f.name: f for f in text_string_to_metric_families(body.decode())}
    [approved] = [s for s in families["jit_decisions"].samples if s.name == "jit_decisions_total"]
    assert (approved.labels, approved.value) == ({"outcome": "approved"}, 1.0)
    assert get(server, "/")[0] == 404
