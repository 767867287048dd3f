"""``policy.example.yml``: valid, and a tour of every feature the policy has."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from pydantic import BaseModel

from app.policy.loader import load_policy
from app.policy.schema import policy_json_schema
from domain.connections import ENV_REFERENCE
from domain.policy import AccessFlow, Policy

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "policy.example.yml"
SCHEMA = ROOT / "policy.schema.json"


def example_env() -> dict[str, str]:
    """A value for every ``${VAR}`` the example's values refer to (comments aside)."""
    data = yaml.safe_load(EXAMPLE.read_text())
    return {
        name: "example-value" for text in _strings(data) for name in ENV_REFERENCE.findall(text)
    }


def example_policy() -> Policy:
    result = load_policy(path=EXAMPLE, env=example_env())
    assert result.policy is not None, result.problems
    return result.policy


def test_the_example_loads_without_any_problem() -> None:
    result = load_policy(path=EXAMPLE, env=example_env())

    assert result.problems == ()
    assert result.policy is not None


def test_the_example_needs_exactly_its_eight_secrets() -> None:
    assert sorted(example_env()) == [
        "BILLING_WEBHOOK_SECRET",
        "EVENTS_RABBITMQ_PASSWORD",
        "OPSGENIE_API_KEY",
        "PAGERDUTY_API_TOKEN",
        "PROD_PG_PASSWORD",
        "PROD_REDIS_PASSWORD",
        "SHOP_DB_PASSWORD",
        "TICKETS_WEBHOOK_SECRET",
    ]


def test_the_example_points_editors_at_the_schema() -> None:
    first_line = EXAMPLE.read_text().splitlines()[0]

    assert first_line == "# yaml-language-server: $schema=./policy.schema.json"


def test_the_example_validates_against_the_committed_schema() -> None:
    schema = json.loads(SCHEMA.read_text())

    jsonschema.Draft202012Validator(schema).validate(yaml.safe_load(EXAMPLE.read_text()))


def test_every_field_of_every_model_in_the_schema_appears_in_the_example() -> None:
    schema = policy_json_schema()
    declared = {"Policy": set(schema["properties"])} | {
        name: set(definition.get("properties", {})) for name, definition in schema["$defs"].items()
    }
    used: dict[str, set[str]] = defaultdict(set)
    policy = example_policy()
    _collect(policy, used)
    for integration in policy.integrations:
        _collect(integration.connection_model(), used)

    unused = {model: sorted(fields - used[model]) for model, fields in declared.items()}

    assert {model: fields for model, fields in unused.items() if fields} == {}


def test_the_example_has_every_integration_type_and_every_kind_of_approval() -> None:
    policy = example_policy()

    assert {i.type for i in policy.integrations} == {
        "postgresql",
        "mysql",
        "redis",
        "rabbitmq",
        "webhook",
    }

    def kind(flow: AccessFlow) -> str:
        if flow.automatic:
            return "automatic"
        if len(flow.steps) > 1:
            return "steps"
        return "manager" if flow.steps[0].manager else "people"

    assert {kind(flow) for flow in policy.access_flows} == {
        "automatic",
        "manager",
        "people",
        "steps",
    }
    steps = next(f.steps for f in policy.access_flows if len(f.steps) > 1)
    assert [(s.manager, s.owners, s.listed_sources(), s.quorum) for s in steps] == [
        (True, False, ("manager",), "any"),
        (False, True, ("owners",), 2),
        (False, False, ("on_call",), "any"),
    ]
    assert any(not flow.active for flow in policy.access_flows)
    assert any(flow.remind_after is None for flow in policy.access_flows)


def _collect(value: Any, used: dict[str, set[str]]) -> None:
    if isinstance(value, BaseModel):
        used[type(value).__name__] |= value.model_fields_set
        for name in type(value).model_fields:
            _collect(getattr(value, name), used)
    elif isinstance(value, list | tuple):
        for item in value:
            _collect(item, used)


def _strings(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [text for item in value.values() for text in _strings(item)]
    if isinstance(value, list):
        return [text for item in value for text in _strings(item)]
    return [value] if isinstance(value, str) else []
