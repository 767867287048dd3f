"""Whatever the file holds, the loader answers with problems, never with an exception."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.policy.loader import LoadResult, parse_policy

EXAMPLE_LINES = (
    (Path(__file__).resolve().parents[3] / "policy.example.yml").read_text().splitlines()
)
ENV = {"PROD_PG_PASSWORD": "a", "SHOP_DB_PASSWORD": "b", "PROD_REDIS_PASSWORD": "c"}
SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

edits = st.lists(
    st.tuples(
        st.sampled_from(["delete", "duplicate", "indent", "dedent", "replace"]),
        st.integers(min_value=0, max_value=len(EXAMPLE_LINES) - 1),
        st.text(alphabet=" -:[]{}#&*!|>'\"%@`,?\tx1", max_size=3),
    ),
    min_size=1,
    max_size=4,
)

leaves = st.none() | st.booleans() | st.integers() | st.text(max_size=10)
documents = st.recursive(
    leaves,
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(
            st.sampled_from(["integrations", "bundles", "access_flows", "name", "type", "x"])
            | st.text(max_size=5),
            children,
            max_size=4,
        )
    ),
    max_leaves=20,
)


def edited(changes: list[tuple[str, int, str]]) -> str:
    lines = list(EXAMPLE_LINES)
    for kind, index, text in changes:
        index %= len(lines) or 1
        if not lines:
            break
        if kind == "delete":
            del lines[index]
        elif kind == "duplicate":
            lines.insert(index, lines[index])
        elif kind == "indent":
            lines[index] = "  " + lines[index]
        elif kind == "dedent":
            lines[index] = lines[index].removeprefix("  ")
        else:
            middle = len(lines[index]) // 2
            lines[index] = lines[index][:middle] + text + lines[index][middle + len(text) :]
    return "\n".join(lines) + "\n"


def assert_well_formed(result: LoadResult) -> None:
    assert (result.policy is None) == bool(result.errors)
    for problem in result.problems:
        assert problem.line >= 1
        assert problem.column >= 1
        assert problem.message
    positions = [(p.line, p.column) for p in result.problems]
    assert positions == sorted(positions)


@SETTINGS
@given(changes=edits)
def test_an_edited_example_gives_problems_never_an_exception(
    changes: list[tuple[str, int, str]],
) -> None:
    assert_well_formed(parse_policy(text=edited(changes), env=ENV))


@SETTINGS
@given(document=documents)
def test_any_yaml_document_gives_problems_never_an_exception(document: Any) -> None:
    assert_well_formed(parse_policy(text=yaml.safe_dump(document), env=ENV))
