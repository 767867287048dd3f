"""A request summarised per integration, for messages, reports and the Home tab."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from domain.ids import RequestId, UserId
from domain.lifecycle import Status
from domain.objects import AccessObject


@dataclass(frozen=True, slots=True)
class IntegrationPart:
    integration: str
    resources: tuple[str, ...]
    permissions: tuple[str, ...]
    count: int


@dataclass(frozen=True, slots=True)
class RequestSummary:
    id: RequestId
    requester: UserId
    requester_name: str
    requester_email: str | None
    flow: str
    bundle: str | None
    status: Status
    duration: timedelta
    justification: str
    created_at: datetime
    parts: tuple[IntegrationPart, ...]
    expires_at: datetime | None = None
    decided_by: UserId | None = None
    decided_at: datetime | None = None
    reason: str | None = None
    automatic: bool = False

    @property
    def object_count(self) -> int:
        return sum(p.count for p in self.parts)


def parts_of(objects: Iterable[AccessObject]) -> tuple[IntegrationPart, ...]:
    grouped: dict[str, tuple[dict[str, None], dict[str, None], list[int]]] = {}
    for obj in objects:
        resources, permissions, count = grouped.setdefault(obj.integration, ({}, {}, [0]))
        resources[obj.resource] = None
        permissions[obj.permission] = None
        count[0] += 1
    return tuple(
        IntegrationPart(
            integration=name,
            resources=tuple(resources),
            permissions=tuple(sorted(permissions)),
            count=count[0],
        )
        for name, (resources, permissions, count) in sorted(grouped.items())
    )
