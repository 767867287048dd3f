"""CSV reports from a real database (SQLite and PostgreSQL): rows, dates, people, inert cells."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from pathlib import Path

from app.reports.csv import ReportService, report_filename
from domain.clock import ManualClock
from domain.lifecycle import Status
from domain.report_filters import parse_filters
from domain.reports import Period, ReportFilter
from store.repositories.reports import ReportRepository
from store.repositories.requests import RequesterSnapshot
from store.unit_of_work import Store
from tests.integration.reports.seeding import (
    ALICE,
    BOB,
    CAROL,
    INCIDENT_OBJECTS,
    T0,
    activate,
    deny,
    expire,
    export,
    revoke_grant,
    submit,
)

ONE_HOUR = timedelta(hours=1)


def test_a_bundle_request_across_three_integrations_gives_one_row_per_integration(
    store: Store,
) -> None:
    request = submit(store)
    activate(store, request, by=BOB.id, at=T0 + timedelta(minutes=5))

    rows = export(store)

    assert [(r["Request ID"], r["Integration"]) for r in rows] == [
        (request.id, "prod-mysql"),
        (request.id, "prod-postgres"),
        (request.id, "prod-redis"),
    ]
    by_integration = {r["Integration"]: r for r in rows}
    assert by_integration["prod-postgres"]["Resources"] == (
        "sales.orders, sales.customers, sales.*"
    )
    assert by_integration["prod-postgres"]["Permissions"] == "read_only, read_write"
    assert by_integration["prod-postgres"]["Resource Type"] == "table, schema"
    assert by_integration["prod-mysql"]["Resources"] == "shop.*"
    assert by_integration["prod-mysql"]["Permissions"] == "read_only"
    assert by_integration["prod-redis"]["Resources"] == "orders:*, carts:*"
    assert by_integration["prod-redis"]["Resource Type"] == "key_pattern"
    for row in rows:
        assert row["Bundle Name"] == "prod-incident"
        assert row["Status"] == "active"
        assert row["Trigger"] == "manual request"
        assert row["Access Flow"] == "developers"
        assert (row["Requester Name"], row["Requester Email"]) == (ALICE.name, ALICE.email)
        assert (row["Approver Names"], row["Approver Emails"]) == (BOB.name, BOB.email)


def test_a_request_without_a_bundle_has_an_empty_bundle_name(store: Store) -> None:
    submit(store, bundle=None, objects=INCIDENT_OBJECTS[:1])

    [row] = export(store)

    assert row["Bundle Name"] == ""
    assert row["Resources"] == "sales.orders"


def test_an_automatic_flow_names_no_approver_and_says_so_in_the_trigger(store: Store) -> None:
    request = submit(store, flow="on-call", automatic=True, objects=INCIDENT_OBJECTS[4:5])
    activate(store, request, by=None, at=T0)

    [row] = export(store)

    assert (row["Trigger"], row["Access Flow"]) == ("automatic flow", "on-call")
    assert (row["Approver Names"], row["Approver Emails"]) == ("", "")


def test_a_denied_request_names_the_approver_who_decided_and_their_reason(store: Store) -> None:
    request = submit(store)
    deny(store, request, by=BOB.id, at=T0 + ONE_HOUR, reason="not during the freeze")

    rows = export(store)

    assert {r["Approver Names"] for r in rows} == {"Bob Roe"}
    assert {r["Approver Emails"] for r in rows} == {"bob@example.com"}
    assert {r["Approver Reason"] for r in rows} == {"not during the freeze"}
    assert {r["Grant Date"] for r in rows} == {""}
    assert {r["Revoke/End Date"] for r in rows} == {"2026-03-01T13:00:00Z"}


def test_dates_are_utc_iso_8601_and_each_integration_keeps_its_own_revoke_time(
    store: Store,
) -> None:
    request = submit(store)
    active = activate(store, request, by=BOB.id, at=T0 + timedelta(minutes=5, seconds=30))
    revoke_grant(store, request, integration="prod-redis", at=T0 + timedelta(minutes=20))
    expire(store, active, at=T0 + timedelta(hours=1, minutes=5, seconds=30))

    rows = {r["Integration"]: r for r in export(store)}

    assert {r["Request Date"] for r in rows.values()} == {"2026-03-01T12:00:00Z"}
    assert {r["Grant Date"] for r in rows.values()} == {"2026-03-01T12:05:30Z"}
    assert rows["prod-redis"]["Revoke/End Date"] == "2026-03-01T12:20:00Z"
    assert rows["prod-postgres"]["Revoke/End Date"] == "2026-03-01T13:05:30Z"
    assert rows["prod-postgres"]["Status"] == "expired"


def test_a_pending_request_has_no_grant_end_or_approver(store: Store) -> None:
    submit(store)

    rows = export(store)

    assert len(rows) == 3
    for row in rows:
        assert (row["Grant Date"], row["Revoke/End Date"], row["Approver Names"]) == ("", "", "")
        assert row["Status"] == "pending"


def test_hostile_values_stay_inert_and_survive_the_round_trip(store: Store) -> None:
    hostile_person = RequesterSnapshot(
        id=ALICE.id, name='=HYPERLINK("http://evil.example","click")', email="@evil.example"
    )
    justification = 'INC-42, "urgent"\nline two,\r\nand =1+1'
    request = submit(
        store,
        requester=hostile_person,
        justification=justification,
        bundle="+1",
        flow="-2",
        objects=INCIDENT_OBJECTS[:1],
    )
    deny(store, request, by=BOB.id, at=T0 + ONE_HOUR, reason="@SUM(A1:A9)")

    [row] = export(store)

    assert row["Requester Name"] == """'=HYPERLINK("http://evil.example","click")"""
    assert row["Requester Email"] == "'@evil.example"
    assert row["Bundle Name"] == "'+1"
    assert row["Access Flow"] == "'-2"
    assert row["Approver Reason"] == "'@SUM(A1:A9)"
    # Not a formula: quoted as it was, embedded commas, quotes and line breaks intact.
    assert row["Justification"] == justification


def test_the_csv_text_quotes_commas_quotes_and_line_breaks(store: Store) -> None:
    submit(store, justification='a, "b"\nc', objects=INCIDENT_OBJECTS[:1])
    buffer = io.StringIO(newline="")
    service = ReportService(store=store, clock=ManualClock(start=T0))

    service.write_csv(spec=parse_filters("columns justification,request_id"), out=buffer)

    text = buffer.getvalue()
    assert text.startswith("Justification,Request ID\r\n")
    assert '"a, ""b""\nc",AR-' in text


def test_selected_columns_come_in_the_order_asked(store: Store) -> None:
    request = submit(store, objects=INCIDENT_OBJECTS[:1])

    rows = export(store, "columns bundle_name,request_id,permissions")

    assert rows == [
        {"Bundle Name": "prod-incident", "Request ID": request.id, "Permissions": "read_write"}
    ]


# -- filters --------------------------------------------------------------------------------------


def seed_varied(store: Store) -> dict[str, str]:
    """Four requests that each filter tells apart; returns label → request ID."""
    old = submit(store, at=T0 - timedelta(days=10))
    activate(store, old, by=BOB.id, at=T0 - timedelta(days=10))
    automatic = submit(
        store,
        at=T0 - timedelta(days=3),
        requester=CAROL,
        bundle=None,
        flow="on-call",
        automatic=True,
        objects=INCIDENT_OBJECTS[4:],
    )
    active = activate(store, automatic, by=None, at=T0 - timedelta(days=3))
    expire(store, active, at=T0 - timedelta(days=3) + ONE_HOUR)
    denied = submit(store, at=T0 - ONE_HOUR, bundle="analytics", objects=INCIDENT_OBJECTS[3:4])
    deny(store, denied, by=BOB.id, at=T0, reason="no")
    pending = submit(store, at=T0, requester=CAROL)
    return {"old": old.id, "automatic": automatic.id, "denied": denied.id, "pending": pending.id}


def requests_in(rows: list[dict[str, str]], ids: dict[str, str]) -> set[str]:
    names = {request_id: label for label, request_id in ids.items()}
    return {names[row["Request ID"]] for row in rows}


def test_every_filter_picks_the_requests_it_names(store: Store) -> None:
    ids = seed_varied(store)
    now = T0 + timedelta(minutes=1)
    expectations = {
        "": {"old", "automatic", "denied", "pending"},
        "last 7d": {"automatic", "denied", "pending"},
        "last 2h": {"denied", "pending"},
        "from 2026-02-19 to 2026-02-19": {"old"},
        "from 2026-02-20": {"automatic", "denied", "pending"},
        "to 2026-02-28": {"old", "automatic"},
        "from 2026-03-01T10:30Z to 2026-03-01T11:30Z": {"denied"},
        "from 2026-03-01T11:00:00Z to 2026-03-01T12:00:00Z": {"denied"},
        "bundle prod-incident": {"old", "pending"},
        "bundle prod-incident,analytics": {"old", "denied", "pending"},
        "requester alice@example.com": {"old", "denied"},
        "requester ALICE@Example.COM": {"old", "denied"},
        f"requester {CAROL.id}": {"automatic", "pending"},
        f"requester alice@example.com,{CAROL.id}": {"old", "automatic", "denied", "pending"},
        "integration prod-mysql": {"old", "denied", "pending"},
        "status active": {"old"},
        "status expired,denied": {"automatic", "denied"},
        "status pending": {"pending"},
        "flow on-call": {"automatic"},
        "flow developers bundle prod-incident status active last 30d": {"old"},
        "bundle nothing-like-it": set(),
    }
    for text, expected in expectations.items():
        assert requests_in(export(store, text, now=now), ids) == expected, text


def test_an_integration_filter_lists_only_that_integrations_rows(store: Store) -> None:
    seed_varied(store)

    rows = export(store, "integration prod-redis,prod-mysql")

    assert {r["Integration"] for r in rows} == {"prod-redis", "prod-mysql"}
    # old: 2, automatic: 1 (it only has redis), denied: 1 (it only has mysql), pending: 2
    assert len(rows) == 6


def test_rows_come_oldest_request_first(store: Store) -> None:
    ids = seed_varied(store)

    rows = export(store, "columns request_id")

    order = list(dict.fromkeys(r["Request ID"] for r in rows))
    assert order == [ids["old"], ids["automatic"], ids["denied"], ids["pending"]]


# -- streaming -----------------------------------------------------------------------------------


def test_a_report_longer_than_a_page_comes_out_whole_in_order_even_with_equal_dates(
    store: Store,
) -> None:
    # Pairs of requests share a request date, so the keyset must order by ID within a date.
    for index in range(9):
        # Every third request only has prod-postgres objects.
        chosen = INCIDENT_OBJECTS if index % 3 else INCIDENT_OBJECTS[:3]
        submit(store, at=T0 + timedelta(minutes=index // 2), objects=chosen)
    filters = {
        "everything": ReportFilter(),
        "one integration": ReportFilter(integrations=frozenset({"prod-redis"})),
        "a period": ReportFilter(period=Period(since=T0 + timedelta(minutes=1))),
    }
    with store.read() as uow:
        repository = ReportRepository(uow.session)
        for name, report_filter in filters.items():
            since, until = report_filter.period.bounds(now=T0)
            whole = [
                (r.request_id, r.integration)
                for r in repository.records(filter=report_filter, since=since, until=until)
            ]
            assert len(whole) == len(set(whole)) > 0, name
            for requests, objects in ((2, 10_000), (4, 7), (3, 1)):
                paged = [
                    (r.request_id, r.integration)
                    for r in repository.records(
                        filter=report_filter,
                        since=since,
                        until=until,
                        page_requests=requests,
                        page_objects=objects,
                    )
                ]
                assert paged == whole, (name, requests, objects)
            if name == "everything":
                assert len(whole) == 6 * 3 + 3 * 1
            if name == "one integration":
                assert {integration for _, integration in whole} == {"prod-redis"}


def test_a_report_is_one_snapshot_that_changes_made_while_it_runs_do_not_alter(
    store: Store,
) -> None:
    first = submit(store, at=T0, objects=INCIDENT_OBJECTS[:1])
    second = submit(store, at=T0 + ONE_HOUR, objects=INCIDENT_OBJECTS[:1])
    pending_only = ReportFilter(statuses=frozenset({Status.PENDING}))
    with store.read() as uow:
        records = ReportRepository(uow.session).records(
            filter=pending_only, since=None, until=None, page_requests=1
        )
        assert next(records).request_id == first.id
        deny(store, second, by=BOB.id, at=T0 + 2 * ONE_HOUR, reason="changed meanwhile")
        rest = [(r.request_id, r.status) for r in records]
    assert rest == [(second.id, "pending")]


def test_a_report_file_replaces_the_previous_one_and_leaves_nothing_else(
    store: Store, tmp_path: Path
) -> None:
    submit(store)
    reports = tmp_path / "reports"
    reports.mkdir()
    path = reports / report_filename(now=T0)
    path.write_text("an earlier report\n")
    service = ReportService(store=store, clock=ManualClock(start=T0))

    result = service.write_file(spec=parse_filters(""), path=path)

    assert (result.rows, result.requests) == (3, 1)
    assert path.name == "access-report-20260301T120000Z.csv"
    assert [p.name for p in reports.iterdir()] == [path.name]
    with path.open(newline="", encoding="utf-8") as written:
        assert len(list(csv.DictReader(written))) == 3
