"""Limits the policy model cannot state: a bundle no request could hold.

A request holds at most :data:`~domain.objects.MAX_OBJECTS_PER_REQUEST` access objects
(docs/architecture.md, "Vocabulary" and "Slack's limits"), and Bundle Mode adds a bundle whole, so
a bigger bundle can be offered but never requested. It is a warning, not an error: the bot runs
and refuses such a request with a clear reason, and a bundle an admin grew in Slack must still
export and import.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from app.policy.validation import Issue
from domain.objects import MAX_OBJECTS_PER_REQUEST


def limit_issues(data: Any) -> Iterator[Issue]:
    """Issues about sizes, with paths from the top of the file; runs on the data as written."""
    bundles = data.get("bundles") if isinstance(data, dict) else None
    if not isinstance(bundles, list):
        return
    for index, bundle in enumerate(bundles):
        objects = bundle.get("objects") if isinstance(bundle, dict) else None
        if not isinstance(objects, list) or len(objects) <= MAX_OBJECTS_PER_REQUEST:
            continue
        name = bundle.get("name")
        called = f"bundle {name!r}" if isinstance(name, str) else f"bundles[{index}]"
        yield Issue(
            path=("bundles", index, "objects"),
            code="bundle-too-large",
            message=f"{called} holds {len(objects):,} objects, but a request holds at most "
            f"{MAX_OBJECTS_PER_REQUEST:,}, so it can never be requested whole",
            hint=f"split it into bundles of at most {MAX_OBJECTS_PER_REQUEST:,} objects",
            at_key=True,
            severity="warning",
        )
