"""On call and automatic approval conditions in the policy: every misuse is one problem at its
line and column, and `check --offline` needs none of the tokens."""

from __future__ import annotations

import io
import textwrap
from datetime import UTC, datetime
from pathlib import Path

from app.policy.check import run_check
from app.policy.loader import LoadResult, parse_policy
from domain.policy import TimeWindow

VALID = """\
integrations:
  - name: prod-pg
    type: postgresql
    connection: {host: 127.0.0.1, database: sales, user: jit}
bundles:
  - name: incident
    objects:
      - {integration: prod-pg, resource: "sales.*", permission: read_write}
on_call:
  providers:
    - {name: pd, type: pagerduty, token: "${PD_TOKEN}"}
    - {name: og, type: opsgenie, token: "${OG_KEY}", url: "https://api.eu.opsgenie.com"}
access_flows:
  - name: pager
    grantees:
      on_call:
        - {provider: pd, schedule: PSCHED1}
        - {provider: og, schedule: sre}
    bundles: [incident]
    approvers:
      groups: ["@dba"]
      on_call: [{provider: pd, escalation_policy: PESC1}]
    auto_approval:
      windows:
        - {days: [mon, tue, wed, thu, fri], start: "09:00", end: "18:00", timezone: Europe/Berlin}
      requester_on_call: true
    until_shift_end: true
    on_call_unavailable: require_approval
    duration: {default: 1h, max: 1h}
"""
ENV = {"PD_TOKEN": "pd-secret", "OG_KEY": "og-secret"}


def parse(text: str, env: dict[str, str] | None = None) -> LoadResult:
    return parse_policy(text=textwrap.dedent(text), env=ENV if env is None else env)


def found(text: str, env: dict[str, str] | None = None) -> list[tuple[int, int, str]]:
    return [(p.line, p.column, p.message) for p in parse(text, env).problems]


def codes(text: str) -> list[tuple[int, int, str]]:
    return [(p.line, p.column, p.code) for p in parse(text).problems]


def test_a_policy_using_every_on_call_feature_has_no_problem() -> None:
    result = parse(VALID)

    assert result.problems == ()
    assert result.policy is not None
    flow = result.policy.access_flows[0]
    assert [r.describe() for r in flow.on_call_refs()] == [
        "pd schedule PSCHED1",
        "og schedule sre",
        "pd escalation policy PESC1",
    ]
    assert result.policy.on_call.providers[1].base_url == "https://api.eu.opsgenie.com"


def test_an_unknown_provider_is_an_error_at_its_name_with_a_guess() -> None:
    problems = parse(
        VALID.replace("{provider: og, schedule: sre}", "{provider: ogg, schedule: sre}")
    ).problems

    assert [(p.line, p.column, p.code) for p in problems] == [(18, 22, "unknown-on-call-provider")]
    assert "did you mean 'og'?" in problems[0].hint


def test_an_opsgenie_escalation_policy_is_an_error() -> None:
    text = VALID.replace(
        "{provider: pd, escalation_policy: PESC1}", "{provider: og, escalation_policy: E1}"
    )

    assert codes(text) == [(22, 51, "not-offered-by-provider")]


def test_a_reference_naming_both_or_neither_is_an_error() -> None:
    text = VALID.replace("{provider: pd, schedule: PSCHED1}", "{provider: pd}")

    [(line, _column, message)] = found(text)
    assert line == 17
    assert "exactly one of `schedule` or `escalation_policy`" in message


def test_a_bad_time_zone_is_an_error_at_its_value() -> None:
    [(line, _column, message)] = found(VALID.replace("Europe/Berlin", "Europe/Berlni"))

    assert line == 25
    assert "unknown time zone 'Europe/Berlni'" in message


def test_a_bad_time_and_an_empty_window_are_errors() -> None:
    assert "'25:00' is not a time of day" in found(VALID.replace('"18:00"', '"25:00"'))[0][2]
    assert "the window is empty" in found(VALID.replace('"18:00"', '"09:00"'))[0][2]
    assert found(VALID.replace("mon, tue", "monday, tue"))[0][0] == 25


def test_until_shift_end_without_on_call_grantees_is_an_error() -> None:
    text = VALID.replace(
        """      on_call:
        - {provider: pd, schedule: PSCHED1}
        - {provider: og, schedule: sre}
""",
        """      groups: ["@oncall"]
""",
    )

    assert codes(text) == [
        (24, 26, "on-call-condition-without-schedule"),
        (25, 22, "shift-end-without-on-call"),
    ]


def test_conditions_or_a_fallback_without_approvers_are_errors() -> None:
    text = VALID.replace(
        """    approvers:
      groups: ["@dba"]
      on_call: [{provider: pd, escalation_policy: PESC1}]
""",
        "    approvers: automatic\n",
    )

    assert codes(text) == [
        (22, 7, "conditions-without-approvers"),
        (26, 26, "fallback-without-approvers"),
    ]


def test_a_missing_token_is_named_but_check_offline_needs_none(tmp_path: Path) -> None:
    assert codes(VALID.replace("${OG_KEY}", "${OG_KEY}")) == []
    problems = parse(VALID, env={"PD_TOKEN": "x"}).problems
    assert [(p.line, p.code, p.message) for p in problems] == [
        (12, "missing-env", "environment variable OG_KEY is not set")
    ]
    path = tmp_path / "policy.yml"
    path.write_text(textwrap.dedent(VALID))
    out = io.StringIO()

    assert run_check(path=path, env={}, out=out, offline=True) == 0
    assert "error" not in out.getvalue()


def test_a_pasted_token_is_an_error_and_is_not_quoted_back() -> None:
    problems = parse(VALID.replace('"${PD_TOKEN}"', "u+abcdefSECRET")).problems

    assert [(p.line, p.column) for p in problems] == [(11, 42)]
    assert "SECRET" not in problems[0].message


def test_check_prints_file_line_col_for_on_call_errors(tmp_path: Path) -> None:
    path = tmp_path / "policy.yml"
    path.write_text(
        textwrap.dedent(VALID.replace("provider: og, schedule", "provider: nope, schedule"))
    )
    out = io.StringIO()

    assert run_check(path=path, env=ENV, out=out) == 1
    assert f"{path}:18:22: error: unknown on-call provider 'nope'" in out.getvalue()


def test_a_window_holds_its_start_but_not_its_end_in_its_own_time_zone() -> None:
    window = TimeWindow.model_validate(
        {"days": ["wed"], "start": "09:00", "end": "18:00", "timezone": "Europe/Berlin"}
    )

    # 2026-12-02 is a Wednesday; Berlin is UTC+1 in December.
    assert window.contains(datetime(2026, 12, 2, 8, 0, tzinfo=UTC))
    assert window.contains(datetime(2026, 12, 2, 16, 59, tzinfo=UTC))
    assert not window.contains(datetime(2026, 12, 2, 17, 0, tzinfo=UTC))
    assert not window.contains(datetime(2026, 12, 2, 7, 59, tzinfo=UTC))
    assert not window.contains(datetime(2026, 12, 3, 10, 0, tzinfo=UTC))  # Thursday


def test_a_window_ending_before_it_starts_runs_past_midnight() -> None:
    window = TimeWindow.model_validate(
        {"days": ["fri"], "start": "22:00", "end": "06:00", "timezone": "UTC"}
    )

    assert window.contains(datetime(2026, 12, 4, 23, 0, tzinfo=UTC))  # Friday night
    assert window.contains(datetime(2026, 12, 5, 5, 59, tzinfo=UTC))  # Saturday morning
    assert not window.contains(datetime(2026, 12, 5, 23, 0, tzinfo=UTC))  # Saturday night
