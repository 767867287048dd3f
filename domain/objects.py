"""Access objects: the unit a request is made of and counted against the per-request limit."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

MAX_OBJECTS_PER_REQUEST: Final = 1_000
"""At most this many access objects in one request, whatever way they were picked."""


@dataclass(frozen=True, slots=True, order=True)
class AccessObject:
    """One (integration, resource, permission): ``(prod-postgres, sales.orders, read_write)``."""

    integration: str
    resource: str
    permission: str

    def __str__(self) -> str:
        return f"{self.integration}:{self.resource}:{self.permission}"
