"""``policy.schema.json``: generated from the models and kept in sync with them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from app.policy.schema import REGENERATE_COMMAND, policy_json_schema, schema_text, write_schema

COMMITTED = Path(__file__).resolve().parents[3] / "policy.schema.json"

VALID: dict[str, Any] = {
    "integrations": [
        {
            "name": "prod-pg",
            "type": "postgres",
            "connection": {"host": "h", "database": "d", "user": "u", "password": "${PG}"},
        }
    ],
    "access_flows": [
        {
            "name": "f",
            "grantees": {"groups": ["@oncall"]},
            "objects": [{"integration": "prod-pg", "resource": "t", "permission": "read_only"}],
            "approvers": "automatic",
            "duration": {"default": "1h", "max": "2h"},
        }
    ],
}


def validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(policy_json_schema())


def test_the_committed_schema_matches_the_models() -> None:
    assert COMMITTED.read_text() == schema_text(), (
        f"policy.schema.json is out of date; regenerate it with: {REGENERATE_COMMAND}"
    )


def test_write_schema_writes_sorted_pretty_json_with_a_final_newline(tmp_path: Path) -> None:
    path = tmp_path / "policy.schema.json"

    write_schema(path=path)

    text = path.read_text()
    assert text.endswith("}\n")
    assert text == json.dumps(json.loads(text), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def test_the_schema_names_its_dialect_and_says_what_it_is() -> None:
    schema = policy_json_schema()

    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["title"] == "Access bot policy"
    assert REGENERATE_COMMAND in schema["description"]
    jsonschema.Draft202012Validator.check_schema(schema)


def test_the_schema_accepts_a_valid_policy_with_a_type_alias() -> None:
    validator().validate(VALID)


def test_durations_default_to_the_spelling_used_in_the_file() -> None:
    flow = policy_json_schema()["$defs"]["AccessFlow"]["properties"]

    assert (flow["approval_timeout"]["default"], flow["remind_after"]["default"]) == ("1d", "1h")


@pytest.mark.parametrize(
    ("where", "value"),
    [
        (("integrations", 0, "connection", "password"), "hunter2"),
        (("integrations", 0, "connection", "hots"), "typo"),
        (("access_flows", 0, "aproovers"), "automatic"),
        (("access_flows", 0, "duration", "max"), "2 hours"),
    ],
)
def test_the_schema_flags_what_the_loader_refuses(where: tuple[str | int, ...], value: str) -> None:
    data = json.loads(json.dumps(VALID))
    target = data
    for part in where[:-1]:
        target = target[part]
    target[where[-1]] = value

    assert list(validator().iter_errors(data)) != []
