"""Request IDs people can read and type, and durations as policies write them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.durations import DurationError, format_duration, parse_duration
from domain.ids import account_name, new_request_id, parse_request_id


def test_a_new_request_id_is_short_and_parses_back_to_itself() -> None:
    for _ in range(200):
        request_id = new_request_id()
        assert len(request_id) == 9
        assert parse_request_id(request_id) == request_id


def test_a_typed_request_id_is_forgiving_about_case_prefix_and_look_alike_letters() -> None:
    assert parse_request_id("ar-7k3q9m") == "AR-7K3Q9M"
    assert parse_request_id("7K3Q9M") == "AR-7K3Q9M"
    assert parse_request_id(" AR-7K3QOM ") == "AR-7K3Q0M"


@pytest.mark.parametrize("text", ["", "AR-", "AR-12345", "AR-1234567", "DROP TABLE", "AR-12345U"])
def test_anything_else_is_not_a_request_id(text: str) -> None:
    assert parse_request_id(text) is None


def test_the_account_name_is_a_safe_lowercase_identifier() -> None:
    assert account_name(parse_request_id("AR-7K3Q9M")) == "jit_7k3q9m"  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30m", timedelta(minutes=30)),
        ("1h", timedelta(hours=1)),
        ("1h30m", timedelta(minutes=90)),
        ("2d", timedelta(days=2)),
        ("1w", timedelta(weeks=1)),
        ("45s", timedelta(seconds=45)),
    ],
)
def test_durations_are_read_as_written(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "h", "1", "1y", "-1h", "0m", "1h junk"])
def test_unreadable_or_zero_durations_are_refused(text: str) -> None:
    with pytest.raises(DurationError):
        parse_duration(text)


@given(st.integers(min_value=1, max_value=10 * 365 * 86400))
def test_formatting_a_duration_round_trips(seconds: int) -> None:
    value = timedelta(seconds=seconds)
    assert parse_duration(format_duration(value)) == value
