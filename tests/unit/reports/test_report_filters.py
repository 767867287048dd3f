"""The report filter language of ``/apono report`` and ``python -m app report``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain.lifecycle import Status
from domain.report_filters import FilterError, format_filters, parse_filter_words, parse_filters
from domain.reports import DEFAULT_COLUMNS, Column, Period, ReportFilter, ReportSpec


def day(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_the_example_of_the_brief_reads_as_every_filter_and_the_columns() -> None:
    spec = parse_filters(
        "last 7d bundle prod-incident status active,expired requester alice@example.com "
        "integration prod-postgres flow developers columns request_id,bundle_name"
    )
    assert spec == ReportSpec(
        filter=ReportFilter(
            period=Period(last=timedelta(days=7)),
            bundles=frozenset({"prod-incident"}),
            statuses=frozenset({Status.ACTIVE, Status.EXPIRED}),
            requesters=frozenset({"alice@example.com"}),
            integrations=frozenset({"prod-postgres"}),
            flows=frozenset({"developers"}),
        ),
        columns=(Column.REQUEST_ID, Column.BUNDLE_NAME),
    )


def test_no_filters_mean_every_request_and_every_column() -> None:
    assert parse_filters("") == parse_filters("   ") == ReportSpec()
    assert ReportSpec().columns == DEFAULT_COLUMNS


def test_from_and_to_dates_include_both_whole_days_in_utc() -> None:
    period = parse_filters("from 2026-01-01 to 2026-01-31").filter.period
    assert (period.since, period.until) == (day("2026-01-01"), day("2026-02-01"))


def test_date_times_are_taken_as_given_and_converted_to_utc() -> None:
    period = parse_filters("from 2026-01-01T10:00+02:00 to 2026-01-02T12:30").filter.period
    assert (period.since, period.until) == (day("2026-01-01T08:00"), day("2026-01-02T12:30"))


@pytest.mark.parametrize(
    "text", ["last 7d", "last 7 days", "LAST 1w", "last 168h", "last 1 week", "last 7D"]
)
def test_a_relative_period_can_be_written_in_several_ways(text: str) -> None:
    assert parse_filters(text).filter.period == Period(last=timedelta(days=7))


def test_lists_may_have_spaces_after_commas_and_keywords_may_repeat() -> None:
    spec = parse_filters("status active, expired status timed-out bundles a ,b")
    assert spec.filter.statuses == {Status.ACTIVE, Status.EXPIRED, Status.TIMED_OUT}
    assert spec.filter.bundles == {"a", "b"}


def test_slack_mentions_and_mailto_links_become_plain_requesters() -> None:
    spec = parse_filters("requester <@U024BE7LH|alice>, <mailto:Bob@Example.com|Bob@Example.com>")
    assert spec.filter.requesters == {"U024BE7LH", "Bob@Example.com"}
    assert spec.filter.requester_ids == {"U024BE7LH"}
    assert spec.filter.requester_emails == {"bob@example.com"}


def test_slack_ids_typed_in_lower_case_are_upper_cased() -> None:
    assert parse_filters("requester u024be7lh").filter.requesters == {"U024BE7LH"}


def test_columns_may_be_named_by_their_headers_in_quotes() -> None:
    spec = parse_filters('columns "Bundle Name", “Revoke/End Date”, request-id, flow')
    assert spec.columns == (
        Column.BUNDLE_NAME,
        Column.END_DATE,
        Column.REQUEST_ID,
        Column.ACCESS_FLOW,
    )


def test_the_cli_words_and_the_slack_text_give_the_same_spec() -> None:
    words = ["bundle", "prod-incident", "status", "active,expired", "last", "24h"]
    assert parse_filter_words(words) == parse_filters(
        "bundle prod-incident status active,expired last 24h"
    )


@pytest.mark.parametrize(
    "text",
    [
        "last 7d bundle prod-incident status active,expired requester alice@example.com",
        "from 2026-01-01 to 2026-01-31 integration prod-postgres,prod-redis flow developers",
        "from 2026-01-01T08:30:00Z columns bundle_name,request_id",
        "to 2026-01-02T12:00:00Z requester U024BE7LH",
        'bundle "incident response"',
    ],
)
def test_a_spec_written_back_as_text_reads_as_the_same_spec(text: str) -> None:
    spec = parse_filters(text)
    assert parse_filters(format_filters(spec)) == spec


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "bundel prod-incident",
            "unknown filter 'bundel' (did you mean 'bundle'?); filters: last, from, to, bundle,"
            " requester, integration, status, flow, columns",
        ),
        ("bundle", "'bundle' needs a value, e.g. 'bundle prod-incident'"),
        ("bundle status active", "'bundle' needs a value, e.g. 'bundle prod-incident'"),
        ("status ,", "'status' needs a value, e.g. 'status active,expired'"),
        (
            "status actve",
            "unknown status 'actve' (did you mean 'active'?); statuses: pending, approved,"
            " granting, active, expired, revoked, denied, canceled, timed_out, failed",
        ),
        ("last 7x", "'last 7x' is not a span of time; write e.g. last 24h, last 7d or last 4w"),
        ("last 0d", "'last 0d' is not a span of time; write e.g. last 24h, last 7d or last 4w"),
        (
            "from 2026-13-01",
            "'from 2026-13-01' is not a date; write e.g. from 2026-01-31 (or 2026-01-31T12:00Z)",
        ),
        ("to yesterday", "'to yesterday' is not a date; write e.g. to 2026-01-31"),
        ("from 2026-02-01 to 2026-01-01", "'from 2026-02-01' is not before 'to 2026-01-01'"),
        (
            "last 7d from 2026-01-01",
            "give either 'last' (e.g. last 7d) or 'from'/'to' dates, not both",
        ),
        ("last 7d last 1d", "'last' is given twice; keep one"),
        (
            "columns request_id,bundel_name",
            "unknown column 'bundel_name' (did you mean 'bundle_name'?)",
        ),
        ("columns id,request_id", "column 'request_id' is listed twice"),
        ('columns "Bundle Name', 'a quote is not closed; write e.g. columns "Bundle Name"'),
    ],
)
def test_bad_filters_are_refused_with_a_message_that_says_what_to_write(
    text: str, message: str
) -> None:
    with pytest.raises(FilterError) as refused:
        parse_filters(text)
    assert str(refused.value).startswith(message)
