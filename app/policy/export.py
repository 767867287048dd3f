"""Policy → YAML text that loads back as the very same policy: the export half of export/import."""

from __future__ import annotations

from typing import Final

import yaml

from domain.policy import Policy

# PyYAML with allow_unicode writes these unescaped, even in quotes, and reads them back as line
# breaks (NEL, LINE and PARAGRAPH SEPARATOR): such text is forced into escaped double quotes.
_READ_AS_LINE_BREAKS: Final = frozenset("\x85\u2028\u2029")


class _Dumper(yaml.SafeDumper):
    pass


def _text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = '"' if _READ_AS_LINE_BREAKS.intersection(value) else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _text)


def dump_policy(*, policy: Policy) -> str:
    """The policy as YAML, keys in model order, non-ASCII text kept readable."""
    return yaml.dump(
        policy.model_dump(mode="json"), Dumper=_Dumper, sort_keys=False, allow_unicode=True
    )
