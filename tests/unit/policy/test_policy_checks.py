"""``check_policy``: the semantic checks, on models built in memory (no YAML involved)."""

from __future__ import annotations

from typing import Any

import pytest

from domain.policy import Policy
from domain.policy_checks import Problem, check_policy, format_path

POSTGRES = {"host": "127.0.0.1", "database": "sales", "user": "jit", "password": "${PG_PASSWORD}"}
ENV = {"PG_PASSWORD": "s3cret-value"}


def flow(**changes: Any) -> dict[str, Any]:
    return {
        "name": "developers",
        "grantees": {"users": ["U024BE7LH"]},
        "bundles": ["incident"],
        "approvers": "automatic",
        "duration": {"default": "1h", "max": "1h"},
        **changes,
    }


def policy(**changes: Any) -> Policy:
    data: dict[str, Any] = {
        "integrations": [{"name": "prod-pg", "type": "postgresql", "connection": POSTGRES}],
        "bundles": [
            {
                "name": "incident",
                "objects": [
                    {"integration": "prod-pg", "resource": "sales.*", "permission": "read_write"}
                ],
            }
        ],
        "access_flows": [flow()],
        **changes,
    }
    return Policy.model_validate(data)


def problems(value: Policy, *, env: dict[str, str] | None = ENV) -> list[tuple[str, str, str]]:
    return [(p.code, format_path(p.path), p.severity) for p in check_policy(policy=value, env=env)]


def only(value: Policy, *, env: dict[str, str] | None = ENV) -> Problem:
    found = check_policy(policy=value, env=env)
    assert len(found) == 1, found
    return found[0]


def test_a_sound_policy_has_no_problems() -> None:
    assert problems(policy()) == []


@pytest.mark.parametrize("section", ["integrations", "bundles", "access_flows"])
def test_a_name_used_twice_in_a_section_is_an_error_at_the_second(section: str) -> None:
    base = policy().model_dump(mode="json")
    base[section].append(base[section][0])

    found = check_policy(policy=Policy.model_validate(base), env=ENV)

    duplicate = next(p for p in found if p.code == "duplicate-name")
    assert format_path(duplicate.path) == f"{section}[1].name"
    assert (duplicate.hint, duplicate.related) == ("names must be unique", (section, 0, "name"))


def test_a_bundle_object_naming_an_unknown_integration_lists_the_known_ones() -> None:
    value = policy(
        bundles=[
            {
                "name": "incident",
                "objects": [{"integration": "prod-pgg", "resource": "x", "permission": "admin"}],
            }
        ]
    )

    problem = only(value)

    assert problem.code == "unknown-integration"
    assert format_path(problem.path) == "bundles[0].objects[0].integration"
    assert problem.hint == "did you mean 'prod-pg'? known integrations: prod-pg"
    assert problem.depends_on == ("integration", "prod-pgg")


def test_a_flow_object_naming_an_unknown_integration_is_an_error() -> None:
    objects = [{"integration": "nowhere", "resource": "x", "permission": "admin"}]

    found = problems(policy(access_flows=[flow(objects=objects)]))

    assert found == [("unknown-integration", "access_flows[0].objects[0].integration", "error")]


def test_a_flow_naming_an_unknown_bundle_is_an_error() -> None:
    problem = only(policy(access_flows=[flow(bundles=["incident", "other"])]))

    assert (problem.code, format_path(problem.path)) == (
        "unknown-bundle",
        "access_flows[0].bundles[1]",
    )
    assert problem.hint == "known bundles: incident"


def test_an_object_asking_a_permission_its_integration_type_does_not_offer_is_an_error() -> None:
    objects = [{"integration": "prod-pg", "resource": "sales.*", "permission": "superuser"}]

    problem = only(policy(bundles=[{"name": "incident", "objects": objects}]))

    assert problem.code == "permission-not-offered"
    assert problem.message == (
        "integration 'prod-pg' (postgresql) does not offer permission 'superuser'"
    )
    assert problem.hint == "known permissions: read_only, read_write, admin"


def test_an_object_outside_the_subset_an_integration_offers_is_an_error() -> None:
    integrations = [
        {
            "name": "prod-pg",
            "type": "postgresql",
            "connection": POSTGRES,
            "permissions": ["read_only"],
        }
    ]

    found = problems(policy(integrations=integrations))

    assert found == [("permission-not-offered", "bundles[0].objects[0].permission", "error")]


def test_a_built_in_type_listing_a_permission_it_cannot_grant_is_an_error() -> None:
    integrations = [
        {
            "name": "prod-pg",
            "type": "postgresql",
            "connection": POSTGRES,
            "permissions": ["read_write", "owner"],
        }
    ]

    problem = only(policy(integrations=integrations))

    assert (problem.code, format_path(problem.path)) == (
        "permission-not-offered",
        "integrations[0].permissions[1]",
    )
    assert problem.hint == "postgresql offers: read_only, read_write, admin"


def test_a_webhook_without_permissions_is_reported_once_not_at_every_object() -> None:
    hook = {"url": "https://hooks.example.com/jit", "secret": "${HOOK_SECRET}"}
    value = policy(
        integrations=[{"name": "billing", "type": "webhook", "connection": hook}],
        bundles=[
            {
                "name": "incident",
                "objects": [{"integration": "billing", "resource": "r", "permission": "viewer"}],
            }
        ],
    )

    found = problems(value, env={"HOOK_SECRET": "x"})

    assert found == [("missing-permissions", "integrations[0].permissions", "error")]


def test_an_empty_permission_list_is_an_error() -> None:
    integrations = [
        {"name": "prod-pg", "type": "postgresql", "connection": POSTGRES, "permissions": []}
    ]

    assert ("empty-permissions", "integrations[0].permissions", "error") in problems(
        policy(integrations=integrations)
    )


def test_a_default_duration_above_the_maximum_is_an_error() -> None:
    problem = only(policy(access_flows=[flow(duration={"default": "2h", "max": "90m"})]))

    assert problem.code == "default-above-max"
    assert problem.message == "default duration 2h is above the maximum 1h30m"


def test_a_duration_choice_above_the_maximum_is_an_error() -> None:
    duration = {"choices": ["1h", "8h"], "default": "1h", "max": "4h"}

    found = problems(policy(access_flows=[flow(duration=duration)]))

    assert found == [("choice-above-max", "access_flows[0].duration.choices[1]", "error")]


def test_a_default_that_is_not_one_of_the_choices_is_an_error() -> None:
    duration = {"choices": ["1h", "4h"], "default": "2h", "max": "4h"}

    problem = only(policy(access_flows=[flow(duration=duration)]))

    assert problem.code == "default-not-a-choice"
    assert problem.hint == "add it to `choices` or pick one of: 1h, 4h"


def test_a_reminder_not_before_the_approval_timeout_is_only_a_warning() -> None:
    value = policy(access_flows=[flow(approval_timeout="1h", remind_after="2h")])

    assert problems(value) == [
        ("reminder-after-timeout", "access_flows[0].remind_after", "warning")
    ]


APPROVED = {"users": ["U0APPROVER"]}


def test_break_glass_within_the_flows_maximum_and_the_ceiling_is_sound() -> None:
    value = policy(
        access_flows=[
            flow(
                approvers=APPROVED,
                duration={"default": "1h", "max": "8h"},
                break_glass={"max_duration": "4h", "daily_limit": 3},
            )
        ]
    )

    assert problems(value) == []


def test_break_glass_longer_than_the_flow_allows_is_an_error() -> None:
    value = policy(access_flows=[flow(approvers=APPROVED, break_glass={"max_duration": "2h"})])

    problem = only(value)

    assert problem.code == "break-glass-above-max"
    assert format_path(problem.path) == "access_flows[0].break_glass.max_duration"
    assert problem.message == "break-glass max_duration 2h is above the flow's maximum 1h"


def test_break_glass_longer_than_the_ceiling_is_an_error_whatever_the_flow_allows() -> None:
    value = policy(
        access_flows=[
            flow(
                approvers=APPROVED,
                duration={"default": "1h", "max": "1d"},
                break_glass={"max_duration": "5h"},
            )
        ]
    )

    assert problems(value) == [
        ("break-glass-above-cap", "access_flows[0].break_glass.max_duration", "error")
    ]


def test_break_glass_on_an_automatic_flow_is_only_a_warning() -> None:
    value = policy(access_flows=[flow(break_glass={"max_duration": "1h"})])

    assert problems(value) == [
        ("break-glass-on-automatic-flow", "access_flows[0].break_glass", "warning")
    ]


@pytest.mark.parametrize("limit", [0, -1])
def test_a_break_glass_daily_limit_below_one_is_refused_by_the_model(limit: int) -> None:
    with pytest.raises(ValueError, match="daily_limit"):
        policy(
            access_flows=[
                flow(approvers=APPROVED, break_glass={"max_duration": "1h", "daily_limit": limit})
            ]
        )


def test_a_flow_offering_no_bundles_and_no_objects_is_an_error() -> None:
    found = problems(policy(access_flows=[flow(bundles=[])]))

    assert ("empty-flow", "access_flows[0]", "error") in found


def test_a_flow_without_grantees_is_an_error() -> None:
    problem = only(policy(access_flows=[flow(grantees={})]))

    assert (problem.code, format_path(problem.path)) == ("no-grantees", "access_flows[0].grantees")


def test_approvers_naming_nobody_suggests_automatic() -> None:
    problem = only(policy(access_flows=[flow(approvers={})]))

    assert problem.code == "no-approvers"
    assert "`approvers: automatic`" in problem.hint


def test_manager_approval_without_managers_or_a_manager_field_is_an_error() -> None:
    value = policy(access_flows=[flow(approvers={"manager": True})])

    assert problems(value) == [("no-manager-source", "access_flows[0].approvers.manager", "error")]
    assert problems(value.model_copy(update={"manager_field": "Manager"})) == []


def test_a_variable_missing_from_the_environment_is_named_but_no_value_is_shown() -> None:
    connection = {**POSTGRES, "host": "${PG_HOST}"}
    value = policy(
        integrations=[{"name": "prod-pg", "type": "postgresql", "connection": connection}]
    )

    problem = only(value, env={"PG_PASSWORD": "s3cret-value"})

    assert (problem.code, format_path(problem.path)) == (
        "missing-env",
        "integrations[0].connection.host",
    )
    assert problem.message == "environment variable PG_HOST is not set"
    assert "s3cret-value" not in repr(problem)


def test_without_an_environment_the_variables_are_not_checked() -> None:
    assert problems(policy(), env=None) == []


@pytest.mark.parametrize("person", ["U024BE7LH", "W012A3CDE", "dana@example.com"])
def test_user_ids_and_emails_are_people(person: str) -> None:
    assert problems(policy(admins=[person], managers={person: person})) == []


@pytest.mark.parametrize("person", ["dana", "u024be7lh", "S0614TZR7", "dana@localhost"])
def test_anything_else_is_not_a_person(person: str) -> None:
    assert problems(policy(admins=[person])) == [("bad-user", "admins[0]", "error")]


def test_a_group_written_among_users_gets_a_hint_to_move_it() -> None:
    problem = only(policy(access_flows=[flow(grantees={"users": ["@oncall"]})]))

    assert problem.hint == "user groups go under `groups:`"


@pytest.mark.parametrize(
    ("group", "valid"), [("@oncall", True), ("S0614TZR7", True), ("oncall", False)]
)
def test_groups_are_handles_or_ids(group: str, valid: bool) -> None:
    approvers = {"groups": [group]}

    found = problems(policy(access_flows=[flow(grantees={"groups": [group]}, approvers=approvers)]))

    expected = [
        ("bad-group", "access_flows[0].grantees.groups[0]", "error"),
        ("bad-group", "access_flows[0].approvers.groups[0]", "error"),
    ]
    assert found == ([] if valid else expected)


def test_a_bad_manager_entry_is_located_at_the_entry() -> None:
    found = problems(policy(managers={"dana@example.com": "bob"}))

    assert found == [("bad-user", "managers.dana@example.com", "error")]


def test_a_bundle_no_flow_uses_is_only_a_warning() -> None:
    value = policy(
        access_flows=[
            flow(
                bundles=[],
                objects=[{"integration": "prod-pg", "resource": "t", "permission": "read_only"}],
            )
        ]
    )

    assert problems(value) == [("unused-bundle", "bundles[0].name", "warning")]


def test_every_problem_is_reported_not_only_the_first() -> None:
    value = policy(
        admins=["nobody"],
        access_flows=[
            flow(bundles=["missing"], grantees={}, duration={"default": "2h", "max": "1h"})
        ],
    )

    codes = {code for code, _, _ in problems(value)}

    assert codes == {
        "bad-user",
        "unknown-bundle",
        "no-grantees",
        "default-above-max",
        "unused-bundle",
    }
