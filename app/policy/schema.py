"""The policy's JSON Schema, for editors (``# yaml-language-server: $schema=...``) and CI.

Generated from the models, so it cannot drift from what the loader accepts; a test compares the
committed ``policy.schema.json`` with :func:`schema_text`.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any, Final

from pydantic.json_schema import GenerateJsonSchema

from domain.connections import CONNECTION_MODELS, TYPE_ALIASES
from domain.durations import format_duration
from domain.policy import Policy

JSON_SCHEMA_DIALECT: Final = "https://json-schema.org/draft/2020-12/schema"
REGENERATE_COMMAND: Final = "python -m app policy schema > policy.schema.json"


class _PolicySchema(GenerateJsonSchema):
    def encode_default(self, dft: Any) -> Any:
        # pydantic writes timedelta defaults as ISO 8601 ("P1D"); the file says "1d".
        if isinstance(dft, timedelta):
            return format_duration(dft)
        return super().encode_default(dft)


def policy_json_schema() -> dict[str, Any]:
    """The schema of a policy file, with each integration's ``connection`` schema by ``type``."""
    schema = Policy.model_json_schema(schema_generator=_PolicySchema)
    definitions: dict[str, Any] = schema["$defs"]
    integration = definitions["IntegrationSpec"]
    integration["properties"]["type"]["enum"] += sorted(TYPE_ALIASES)
    integration["allOf"] = []
    for type_name, model in CONNECTION_MODELS.items():
        definitions[model.__name__] = model.model_json_schema(schema_generator=_PolicySchema)
        names = [type_name, *sorted(a for a, t in TYPE_ALIASES.items() if t == type_name)]
        integration["allOf"].append(
            {
                "if": {"properties": {"type": {"enum": names}}, "required": ["type"]},
                "then": {"properties": {"connection": {"$ref": f"#/$defs/{model.__name__}"}}},
            }
        )
    return {
        **schema,
        "$schema": JSON_SCHEMA_DIALECT,
        "title": "Access bot policy",
        "description": "Integrations, bundles and access flows of the just-in-time access bot. "
        f"Generated from the policy models: {REGENERATE_COMMAND}",
    }


def schema_text() -> str:
    """The schema as committed: pretty, keys sorted, one trailing newline."""
    return json.dumps(policy_json_schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write_schema(*, path: Path) -> None:
    path.write_text(schema_text(), encoding="utf-8")
