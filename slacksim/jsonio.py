"""JSON in and out of the simulator, with orjson.

The simulator copies, encodes and decodes every view, message and envelope it handles; in the
two-instance benchmark that was a third of its CPU with the standard library, CPU the app under
test then lacked. orjson refuses what Slack never sends (integers beyond 64 bits): those go
through the standard library, so a fuzzed payload still travels as it would.
"""

from __future__ import annotations

import json
from typing import Any

import orjson


def dumps(obj: Any) -> str:
    return encode(obj).decode()


def encode(obj: Any) -> bytes:
    try:
        return orjson.dumps(obj)
    except TypeError:
        return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


def loads(data: str | bytes) -> Any:
    """As ``json.loads``; raises ``json.JSONDecodeError`` (orjson's is one) on bad input."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return json.loads(data)  # what orjson refuses and the standard library reads, or fails


def clone(obj: Any) -> Any:
    """A deep copy of JSON data."""
    return loads(encode(obj))
