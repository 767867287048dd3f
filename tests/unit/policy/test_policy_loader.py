"""The loader: YAML positions, schema errors, connections and salvaged semantic checks."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from app.policy.loader import LoadResult, load_policy, load_policy_or_raise, parse_policy
from app.policy.problems import PolicyError
from app.policy.yaml_source import parse_yaml

VALID = """\
integrations:
  - name: prod-pg
    type: postgresql
    connection: {host: 127.0.0.1, database: sales, user: jit, password: "${PG_PASSWORD}"}
bundles:
  - name: incident
    objects:
      - {integration: prod-pg, resource: "sales.*", permission: read_write}
access_flows:
  - name: on-call
    grantees: {groups: ["@oncall"]}
    bundles: [incident]
    approvers: automatic
    duration: {default: 1h, max: 1h}
"""
ENV = {"PG_PASSWORD": "hunter2"}


def parse(text: str, env: dict[str, str] | None = None) -> LoadResult:
    return parse_policy(text=textwrap.dedent(text), env=ENV if env is None else env)


def found(text: str, env: dict[str, str] | None = None) -> list[tuple[int, int, str]]:
    return [(p.line, p.column, p.message) for p in parse(text, env).problems]


def test_a_valid_file_gives_the_policy_and_no_problems() -> None:
    result = parse(VALID)

    assert result.problems == ()
    assert result.policy is not None
    assert result.policy.access_flows[0].bundles == ["incident"]


def test_bad_yaml_is_one_problem_at_its_line_and_column() -> None:
    result = parse("admins: [U024BE7LH\nbundles: []\n")

    assert [(p.line, p.column, p.code) for p in result.problems] == [(2, 8, "yaml-syntax")]
    assert result.problems[0].message.startswith("invalid YAML: ")
    assert result.policy is None


def test_a_tab_in_the_indentation_gets_a_hint() -> None:
    problem = parse("admins:\n\t- U024BE7LH\n").problems[0]

    assert (problem.line, problem.column) == (2, 1)
    assert problem.hint == "YAML indents with spaces, never tabs"


def test_a_duplicate_key_is_an_error_at_the_second_and_the_first_value_is_kept() -> None:
    parsed = parse_yaml("a: 1\nb: 2\na: 3\n")

    assert parsed.data == {"a": 1, "b": 2}
    assert [(p.line, p.column, p.message) for p in parsed.problems] == [(3, 1, "duplicate key 'a'")]


def test_an_unknown_key_points_at_the_key_itself() -> None:
    text = VALID.replace(
        "    approvers: automatic\n", "    approvers: automatic\n    colour: red\n"
    )

    assert found(text) == [(14, 5, "unknown key 'colour'")]


def test_an_unknown_key_suggests_the_closest_allowed_key() -> None:
    text = VALID.replace("approvers: automatic", "aprovers: automatic")
    problems = parse(text).problems

    assert [(p.line, p.column, p.hint) for p in problems if p.code == "extra_forbidden"] == [
        (13, 5, "did you mean 'approvers'?")
    ]


def test_a_missing_key_points_at_the_mapping_that_lacks_it() -> None:
    text = VALID.replace("    duration: {default: 1h, max: 1h}\n", "")

    assert found(text) == [(10, 5, "missing required key 'duration'")]


def test_a_value_that_fits_neither_form_of_approvers_is_one_problem() -> None:
    text = VALID.replace("approvers: automatic", "approvers: automatc")

    assert found(text) == [
        (
            13,
            16,
            "approvers: expected 'automatic' or a mapping (users, groups, manager, owners, "
            "on_call, quorum) or a list of such mappings",
        )
    ]


def test_a_mistake_inside_an_approvers_mapping_is_reported_against_the_mapping() -> None:
    text = VALID.replace("approvers: automatic", "approvers: {user: [U024BE7LH]}")

    assert found(text) == [(13, 17, "unknown key 'user'")]


def test_a_bad_duration_and_a_bare_number_are_errors_at_their_values() -> None:
    text = VALID.replace("{default: 1h, max: 1h}", "{default: 1 hour, max: 60}")

    assert found(text) == [
        (14, 25, "default: '1 hour' is not a duration; write e.g. 30m, 1h, 2d or 1h30m"),
        (14, 38, "max: 60 has no unit; write e.g. 30m, 1h, 2d or 1h30m"),
    ]


def test_an_integration_type_typo_suggests_the_type() -> None:
    problem = parse(VALID.replace("type: postgresql", "type: postgress")).problems[0]

    assert (problem.line, problem.column) == (3, 11)
    assert problem.hint == "did you mean 'postgresql'?"


def test_a_connection_is_checked_against_the_model_of_its_type() -> None:
    text = VALID.replace("host: 127.0.0.1,", "host: 127.0.0.1, port: five, hots: x,")

    assert found(text) == [
        (4, 41, "port: input should be a valid integer, unable to parse string as an integer"),
        (4, 47, "unknown key 'hots'"),
    ]


def test_a_connection_of_an_aliased_type_is_checked_against_the_canonical_model() -> None:
    text = VALID.replace("type: postgresql", "type: mariadb").replace("database: sales, ", "")
    text = text.replace("sales.*", "shop.*").replace("user: jit", "user: root, sslmode: off")

    assert found(text) == [(4, 47, "unknown key 'sslmode'")]


def test_a_literal_secret_is_an_error_that_never_shows_the_value() -> None:
    text = VALID.replace('"${PG_PASSWORD}"', "hunter2")

    problems = parse(text).problems

    assert [(p.line, p.column, p.code) for p in problems] == [(4, 73, "value_error")]
    assert "hunter2" not in repr(problems)
    assert problems[0].hint == (
        'write password: "${PROD_PG_PASSWORD}" and set PROD_PG_PASSWORD in the environment'
    )


def test_a_variable_missing_from_the_environment_is_located_at_its_value() -> None:
    assert found(VALID, env={}) == [(4, 73, "environment variable PG_PASSWORD is not set")]


def test_without_an_environment_the_variables_are_not_checked() -> None:
    result = parse_policy(text=VALID, env=None)

    assert result.problems == ()


def test_semantic_checks_still_run_where_another_part_of_the_file_is_invalid() -> None:
    text = (
        VALID.replace("[incident]", "[incidnet]")
        .replace("approvers: automatic", "approvers: automatc")
        .replace("default: 1h,", "default: 1 hour,")
    )

    assert [(p.line, p.code) for p in parse(text).problems] == [
        (6, "unused-bundle"),  # the flow names a bundle that does not exist
        (12, "unknown-bundle"),
        (13, "union_type"),
        (14, "value_error"),
    ]


def test_references_to_an_integration_that_could_not_be_read_are_not_called_unknown() -> None:
    text = VALID.replace("type: postgresql", "type: oracle")

    assert [p.code for p in parse(text).problems] == ["literal_error"]


def test_a_bundle_used_only_by_a_flow_that_could_not_be_read_is_not_called_unused() -> None:
    text = VALID.replace("max: 1h}", "max: 1h}\n    justification: sometimes")

    assert [p.code for p in parse(text).problems] == ["literal_error"]


def test_a_root_that_is_not_a_mapping_is_one_error() -> None:
    assert found("- a\n- b\n") == [
        (
            1,
            1,
            "the policy: expected a mapping",
        )
    ]


def test_an_empty_file_is_an_error() -> None:
    assert found("# nothing yet\n") == [(1, 1, "the policy is empty")]


def test_anchors_and_merge_keys_are_followed() -> None:
    flows = VALID[VALID.index("access_flows:") :]
    text = VALID.replace(flows, "") + textwrap.dedent(
        """\
        access_flows:
          - &on-call
            name: on-call
            grantees: {groups: ["@oncall"]}
            bundles: [incident]
            approvers: automatic
            duration: {default: 1h, max: 1h}
          - <<: *on-call
            name: on-call-eu
            grantees: {groups: ["@oncall-eu"]}
        """
    )

    result = parse(text)

    assert result.problems == ()
    assert result.policy is not None
    second = result.policy.access_flows[1]
    assert (second.name, second.grantees.groups, second.bundles) == (
        "on-call-eu",
        ["@oncall-eu"],
        ["incident"],
    )


def test_a_merged_value_is_located_where_it_was_written() -> None:
    text = (
        VALID.replace("access_flows:\n", "access_flows:\n  - &base\n").replace(
            "  - name: on-call\n", "    name: on-call\n"
        )
        + "  - {<<: *base, name: copy, bundles: [nope]}\n"
    )

    assert found(text) == [(16, 39, "unknown bundle 'nope'")]


def test_an_alias_that_contains_itself_is_an_error_not_a_hang() -> None:
    problems = parse("admins: &a [U024BE7LH, *a]\n").problems

    # An alias is the very node it names, so the position is that of the anchored list.
    assert (1, 9, "an alias refers to a value that contains it") in [
        (p.line, p.column, p.message) for p in problems
    ]


def test_aliases_that_expand_too_far_are_refused() -> None:
    text = "a: &a [x, x, x, x]\nb: &b [*a, *a, *a, *a]\nc: [*b, *b, *b, *b]\n"

    parsed = parse_yaml(text, max_values=50)

    assert parsed.data is None
    assert parsed.problems[0].message == "the file expands to more than 50 values"


def test_unsupported_tags_are_errors() -> None:
    assert found("admins: [!secret U024BE7LH]\n") == [(1, 10, "unsupported tag !secret")]


def test_a_date_like_description_stays_the_text_written() -> None:
    result = parse(
        VALID.replace("  - name: incident\n", "  - name: incident\n    description: 2024-01-31\n")
    )

    assert result.policy is not None
    assert result.policy.bundles[0].description == "2024-01-31"


def test_problems_come_sorted_by_position() -> None:
    text = (
        VALID.replace("[incident]", "[nope]")
        .replace("admins", "x")
        .replace("integrations:", "admins: [someone]\nintegrations:")
    )

    positions = [(p.line, p.column) for p in parse(text).problems]

    assert positions == sorted(positions)
    assert len(positions) == 3  # the bad admin, the unknown bundle, the unused bundle warning


def test_a_file_with_only_warnings_still_gives_the_policy() -> None:
    text = VALID.replace(
        "    bundles: [incident]\n",
        "    objects: [{integration: prod-pg, resource: t, permission: read_only}]\n",
    )

    result = parse(text)

    assert [p.severity for p in result.problems] == ["warning"]
    assert result.policy is not None


def test_load_policy_reads_a_file(tmp_path: Path) -> None:
    path = tmp_path / "policy.yml"
    path.write_text(VALID)

    assert load_policy(path=path, env=ENV).policy == parse(VALID).policy


def test_load_policy_or_raise_lists_every_problem(tmp_path: Path) -> None:
    path = tmp_path / "policy.yml"
    path.write_text(VALID.replace("[incident]", "[nope]").replace("max: 1h}", "max: 1 hour}"))

    with pytest.raises(PolicyError) as raised:
        load_policy_or_raise(path=path, env=ENV)

    assert [p.severity for p in raised.value.problems] == ["warning", "error", "error"]
    assert str(raised.value).splitlines() == [
        f"{path}: the policy has 2 errors",
        *(p.format(source=str(path)) for p in raised.value.problems),
    ]


def test_a_duplicate_name_points_at_the_first_by_its_line_even_after_a_broken_item() -> None:
    text = VALID.replace(
        "bundles:\n",
        "  - {name: broken, type: oracle, connection: {}}\n"
        "  - {name: prod-pg, type: redis, connection: {url: 'redis://127.0.0.1:6379/0'}}\n"
        "bundles:\n",
    )

    duplicate = next(p for p in parse(text).problems if p.code == "duplicate-name")

    assert (duplicate.line, duplicate.hint) == (6, "names must be unique; see line 2")


# -- approval steps (README, "Approval steps") ------------------------------------------------

STEPS = VALID.replace(
    "    approvers: automatic\n",
    "    approvers:\n"
    "      - users: [U024BE7LH, U0G9QF9C6]\n"
    "        quorum: 3\n"
    '      - groups: ["@dba"]\n'
    "        quorum: all\n"
    "      - owners: true\n"
    "      - {}\n",
)


def test_every_misuse_of_approval_steps_is_reported_at_its_line_and_column() -> None:
    assert found(STEPS) == [
        (15, 17, "approval step 1 needs 3 approvals but names only 2 possible approvers"),
        (
            17,
            17,
            "approval step 2 needs `all` of its approvers, but a group's members change, "
            "so nobody can tell how many approvals that is",
        ),
        (
            18,
            17,
            "approval step 3 asks the owners, but none of the integrations or bundles of "
            "flow 'on-call' names `owners`",
        ),
        (19, 9, "approval step 4 names nobody, so requests could never be approved"),
    ]


def test_a_mistake_inside_one_step_of_a_list_is_reported_at_that_step() -> None:
    text = VALID.replace(
        "    approvers: automatic\n",
        "    approvers:\n      - users: [U024BE7LH]\n      - owner: true\n        quorum: most\n",
    )

    assert found(text) == [
        (15, 9, "unknown key 'owner'"),
        (16, 17, "quorum: expected 'any' or 'all' or a number"),
    ]


def test_owners_of_an_integration_satisfy_a_step_that_asks_the_owners() -> None:
    text = VALID.replace(
        "    type: postgresql\n", '    type: postgresql\n    owners: {groups: ["@dba"]}\n'
    ).replace("    approvers: automatic\n", "    approvers: {owners: true, quorum: 2}\n")

    result = parse(text)

    assert list(result.problems) == []
    assert result.policy is not None
    [flow] = result.policy.access_flows
    assert [s.quorum for s in flow.steps] == [2]


def test_a_list_written_as_a_steps_quorum_is_reported_not_dropped() -> None:
    # The list rule of `approvers` (a list of steps) must not swallow a list inside a step.
    text = VALID.replace(
        "    approvers: automatic\n",
        "    approvers:\n      - users: [U024BE7LH]\n        quorum: []\n",
    )

    assert found(text) == [(15, 17, "quorum: expected 'any' or 'all' or a number")]


def test_an_on_call_source_in_a_step_is_checked_where_that_step_writes_it() -> None:
    text = VALID.replace(
        "    approvers: automatic\n",
        "    approvers:\n"
        "      - users: [U024BE7LH]\n"
        "      - on_call: [{provider: pagerduty, schedule: PSCHED1}]\n"
        "        quorum: 3\n",
    )

    result = parse(text)

    # An on-call step has no size the policy can tell, so quorum 3 is not judged too large.
    assert [(p.path, p.code) for p in result.problems] == [
        (("access_flows", 0, "approvers", 1, "on_call", 0, "provider"), "unknown-on-call-provider")
    ]
    assert [(p.line, p.column) for p in result.problems] == [(15, 30)]


def test_every_steps_on_call_references_count_as_the_flows() -> None:
    text = VALID.replace(
        "    approvers: automatic\n",
        "    approvers:\n"
        "      - on_call: [{provider: pd, schedule: A}]\n"
        "      - on_call: [{provider: pd, escalation_policy: B}]\n",
    ).replace(
        "integrations:\n",
        'on_call:\n  providers: [{name: pd, type: pagerduty, token: "${PD}"}]\nintegrations:\n',
    )

    result = parse(text, env={**ENV, "PD": "t"})

    assert result.problems == ()
    assert result.policy is not None
    [flow] = result.policy.access_flows
    assert [s.listed_sources() for s in flow.steps] == [("on_call",), ("on_call",)]
    assert [r.describe() for r in flow.on_call_refs()] == [
        r.describe() for s in flow.steps for r in s.on_call
    ]
    assert len(flow.on_call_refs()) == 2
    assert flow.steps[0].fixed_size() is None
