"""The policy file: YAML in, a validated policy or every problem with its line and column out."""

from app.policy.check import run_check
from app.policy.export import dump_policy
from app.policy.loader import LoadResult, load_policy, load_policy_or_raise, parse_policy
from app.policy.problems import PolicyError, PolicyProblem
from app.policy.schema import policy_json_schema, schema_text, write_schema

__all__ = [
    "LoadResult",
    "PolicyError",
    "PolicyProblem",
    "dump_policy",
    "load_policy",
    "load_policy_or_raise",
    "parse_policy",
    "policy_json_schema",
    "run_check",
    "schema_text",
    "write_schema",
]
