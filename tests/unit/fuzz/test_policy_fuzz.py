"""The policy loader against hypothesis-made durations and mutations of policy.example.yml
(issue 14): never an exception, every problem at a line and column, and a duration above
MAX_ACCESS_DURATION always an error where it is written."""

from __future__ import annotations

import copy
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.policy.loader import LoadResult, load_policy_or_raise, parse_policy
from app.policy.problems import PolicyError
from app.settings import DEFAULT_MAX_ACCESS_DURATION
from domain.durations import DurationError, parse_duration

EXAMPLE = Path(__file__).resolve().parents[3] / "policy.example.yml"
DATA = yaml.safe_load(EXAMPLE.read_text())
FUZZ = settings(
    max_examples=100,
    deadline=timedelta(seconds=2),
    suppress_health_check=[HealthCheck.too_slow],
)

units = st.sampled_from("smhdwSMHDW")
durations = st.one_of(
    st.builds(lambda n, u: f"{n}{u}", st.integers(0, 10**30), units),
    st.builds(lambda a, b: f"{a}d{b}h", st.integers(0, 400), st.integers(0, 48)),
    st.sampled_from(["7d", "1w", "168h", "604801s", "8d", "1w1s", "6d23h59m59s"]),
    st.text(max_size=20),
    st.just("9" * 5_000 + "d"),
    st.integers() | st.floats() | st.none() | st.lists(st.integers(), max_size=2),
)
leaves = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12)
values = st.recursive(
    leaves,
    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=6), c, max_size=3),
    max_leaves=6,
)


def _flow_duration_paths() -> list[tuple[str | int, ...]]:
    paths: list[tuple[str | int, ...]] = []
    for index, flow in enumerate(DATA["access_flows"]):
        paths += [
            ("access_flows", index, "duration", "max"),
            ("access_flows", index, "duration", "default"),
            ("access_flows", index, "approval_timeout"),
            ("access_flows", index, "remind_after"),
        ]
        for n in range(len(flow["duration"].get("choices", []))):
            paths.append(("access_flows", index, "duration", "choices", n))
    return paths


def _all_paths(data: Any, prefix: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    found = [prefix] if prefix else []
    if isinstance(data, dict):
        for key, value in data.items():
            found += _all_paths(value, (*prefix, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            found += _all_paths(value, (*prefix, index))
    return found


DURATION_PATHS = _flow_duration_paths()
ALL_PATHS = _all_paths(DATA)


def _set(data: Any, path: tuple[str | int, ...], value: Any) -> Any:
    changed = copy.deepcopy(data)
    target = changed
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    return changed


def _line_of(text: str, path: tuple[str | int, ...]) -> int:
    """The 1-based line of the value at ``path``, as PyYAML's own parser places it."""
    node = yaml.compose(text)
    assert node is not None
    for part in path:
        if isinstance(node, yaml.MappingNode):
            node = next(v for k, v in node.value if k.value == part)
        else:
            node = node.value[part]
    return int(node.start_mark.line) + 1


def _well_formed(result: LoadResult, text: str) -> None:
    lines = text.count("\n") + 1
    assert (result.policy is None) == bool(result.errors)
    for problem in result.problems:
        assert 1 <= problem.line <= lines, problem
        assert problem.column >= 1, problem
        assert problem.message
        assert problem.format(source="policy.yml").startswith(
            f"policy.yml:{problem.line}:{problem.column}: "
        )


@FUZZ
@given(path=st.sampled_from(DURATION_PATHS), written=durations)
def test_any_duration_gives_problems_and_one_above_the_cap_is_an_error_where_it_is_written(
    path: tuple[str | int, ...], written: Any
) -> None:
    text = yaml.safe_dump(_set(DATA, path, written), sort_keys=False, allow_unicode=True)

    result = parse_policy(text=text, env=None)

    _well_formed(result, text)
    try:
        value = parse_duration(written) if isinstance(written, str) else None
    except DurationError:
        value = None
    capped = [p for p in result.errors if p.code == "duration-above-cap"]
    if value is not None and value > DEFAULT_MAX_ACCESS_DURATION:
        assert [p.path for p in capped] == [path]
        assert capped[0].line == _line_of(text, path)
    else:
        assert capped == []


@FUZZ
@given(path=st.sampled_from(ALL_PATHS), value=values)
def test_any_value_anywhere_in_the_example_gives_problems_never_an_exception(
    path: tuple[str | int, ...], value: Any
) -> None:
    text = yaml.safe_dump(_set(DATA, path, value), sort_keys=False, allow_unicode=True)

    _well_formed(parse_policy(text=text, env=None), text)


def test_a_lower_cap_makes_the_example_an_error_naming_the_setting(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yml"
    policy.write_text(EXAMPLE.read_text())

    with pytest.raises(PolicyError) as raised:
        load_policy_or_raise(path=policy, env=None, max_duration=timedelta(hours=2))

    shown = str(raised.value)
    assert f"{policy}:" in shown
    assert "above the longest duration allowed, 2h" in shown
    assert "MAX_ACCESS_DURATION" in shown
    assert load_policy_or_raise(path=policy, env=None).access_flows  # 7 days: the example fits
