"""Every figure the issues ask for has a registered benchmark, so none can silently disappear."""

from __future__ import annotations

from typing import Final

from bench.registry import discover, registered

REQUIRED: Final = {
    # issue 3: the request modal
    "modal.open": "ms",
    "modal.bundle_pick_10k": "ms",
    "modal.typeahead_100k": "ms",
    "modal.submit_1000": "ms",
    # issue 4: approvals
    "approval.fanout_50": "ms",
    "approval.decide": "ms",
    # issue 5: grants, revokes, expiry
    "grant.bundle_1000": "s",
    "revoke.bundle_1000": "s",
    "expiry.lateness": "s",
    "expiry.mass_10k": "s",
    # issue 6: reports and Home
    "report.csv_100k": "s",
    "report.csv_100k_peak": "MB",
    "home.render_10k": "ms",
    # issue 8: two instances under load
    "scale.two_instances_500": "per_s",
    # issue 13: a fair outbox, CPU per request, ten times the load
    "outbox.fairness": "ms",
    "scale.cpu_per_request": "ms",
    "scale.cpu_per_request_postgres": "ms",
    "scale.cpu_per_request_driver": "ms",
    "scale.two_instances_5000": "per_s",
}


def test_every_benchmark_module_imports() -> None:
    assert discover() == []


def test_every_required_benchmark_is_registered_with_its_unit() -> None:
    discover()
    units = {b.name: b.unit for b in registered()}
    assert {name: units.get(name) for name in REQUIRED} == REQUIRED
