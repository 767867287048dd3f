"""Bundle patterns → access objects.

A resource with ``*``, ``?`` or ``[`` is a pattern. Where the integration type grants per table
(PostgreSQL, MySQL, webhooks with a resource list), a pattern becomes one object per discovered
resource it matches, so a requester can pick some of them. Where nothing matching is known
(discovery has not run, or the type takes patterns natively, like Redis key patterns), the
pattern itself stays one object.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from fnmatch import fnmatchcase

from domain.eligibility import is_pattern
from domain.objects import AccessObject
from domain.policy import ObjectSpec


def expand_objects(
    specs: Sequence[ObjectSpec], *, leaves: Mapping[str, Sequence[str]]
) -> list[AccessObject]:
    """``leaves`` maps each integration that expands patterns to its grantable resource names."""
    objects: dict[AccessObject, None] = {}
    for spec in specs:
        candidates = leaves.get(spec.integration)
        matches = (
            [name for name in candidates if fnmatchcase(name, spec.resource)]
            if candidates is not None and is_pattern(spec.resource)
            else []
        )
        for resource in matches or [spec.resource]:
            objects[AccessObject(spec.integration, resource, spec.permission)] = None
    return list(objects)
