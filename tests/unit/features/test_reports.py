"""Reports (``app/reports/csv.py``): one CSV row per (request, integration), for the requests
the filters pick."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from app.reports.csv import ReportResult
from app.requesting.submission import Submitted
from domain.report_filters import parse_filters
from tests.unit.features.world import BOB, CACHE, DAVE, DB, ORDER_KEYS, World


def report(world: World, filters: str = "") -> tuple[ReportResult, list[dict[str, str]]]:
    out = io.StringIO(newline="")
    result = world.reports.write_csv(spec=parse_filters(filters), out=out)
    return result, list(csv.DictReader(io.StringIO(out.getvalue())))


def rows_by_request(rows: list[dict[str, str]]) -> set[tuple[str, str]]:
    return {(r["Request ID"], r["Integration"]) for r in rows}


def test_a_request_across_two_integrations_gives_one_row_per_integration(world: World) -> None:
    request_id = world.active_request()

    result, rows = report(world)

    assert result.rows == 2
    assert result.requests == 1
    assert rows_by_request(rows) == {(request_id, DB), (request_id, CACHE)}
    for row in rows:
        assert row["Status"] == "active"
        assert row["Bundle Name"] == "db-read"
        assert row["Access Flow"] == "oncall-db"


def test_the_status_filter_keeps_only_requests_in_those_statuses(world: World) -> None:
    active = world.active_request()
    denied = world.pending_request()
    world.decisions.decide(request_id=denied, flow_claim=None, clicker=BOB.id, approve=False)

    _, rows = report(world, "status denied")

    assert {r["Request ID"] for r in rows} == {denied}
    assert active not in {r["Request ID"] for r in rows}


def test_the_requester_filter_keeps_only_that_persons_requests(world: World) -> None:
    world.directory.add(DAVE, groups=["@oncall"])
    alices = world.pending_request()
    daves = world.pending_request(user=DAVE)

    _, rows = report(world, f"requester {DAVE.email}")

    assert {r["Request ID"] for r in rows} == {daves}
    assert alices not in {r["Request ID"] for r in rows}


def test_a_relative_period_ends_at_the_services_clock(world: World) -> None:
    old = world.pending_request()
    world.clock.advance(timedelta(days=10))
    recent = world.pending_request()

    _, rows = report(world, "last 7d")

    assert {r["Request ID"] for r in rows} == {recent}
    assert old not in {r["Request ID"] for r in rows}


def test_the_integration_filter_keeps_only_that_integrations_rows(world: World) -> None:
    request_id = world.active_request()
    submitted = world.submit(world.objects_form([ORDER_KEYS]), duration="30m")
    assert isinstance(submitted, Submitted)
    automatic = submitted.request_id

    result, rows = report(world, f"integration {DB}")

    assert rows_by_request(rows) == {(request_id, DB)}
    assert automatic not in {r["Request ID"] for r in rows}
    assert result.requests == 1


def test_the_columns_filter_writes_only_those_columns_in_that_order(world: World) -> None:
    world.active_request()

    _, rows = report(world, "columns status,request_id")

    assert list(rows[0]) == ["Status", "Request ID"]
