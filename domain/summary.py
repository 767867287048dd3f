"""A request summarised per integration, for messages, reports and the Home tab."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from domain.break_glass import Trigger
from domain.ids import RequestId, UserId
from domain.lifecycle import Status


@dataclass(frozen=True, slots=True)
class IntegrationPart:
    integration: str
    resources: tuple[str, ...]
    """The first distinct resources (all of them for small requests): enough to show."""
    permissions: tuple[str, ...]
    count: int
    resource_count: int = -1
    """How many distinct resources in all (``-1``: ``resources`` is complete)."""

    @property
    def resources_in_all(self) -> int:
        return len(self.resources) if self.resource_count < 0 else self.resource_count


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
    trigger: Trigger = Trigger.NORMAL
    acknowledged_by: UserId | None = None
    """Who acknowledged a break-glass request first (README, "Break-glass")."""
    acknowledged_at: datetime | None = None
    grantee: UserId | None = None
    """The teammate the access is for, when asked on their behalf (``None``: the requester)."""
    grantee_name: str | None = None
    grantee_email: str | None = None

    @property
    def holder(self) -> UserId:
        """Who holds the access and gets its credentials: the grantee, else the requester."""
        return self.grantee or self.requester

    @property
    def followers(self) -> tuple[UserId, ...]:
        """Who follows the request in DMs: the requester and, when it was asked for a teammate,
        the teammate too."""
        return (
            (self.requester,)
            if self.grantee in (None, self.requester)
            else (
                self.requester,
                self.grantee,
            )
        )

    @property
    def holder_name(self) -> str:
        if self.grantee is not None:
            return self.grantee_name or self.grantee
        return self.requester_name

    @property
    def holder_email(self) -> str | None:
        return self.grantee_email if self.grantee else self.requester_email

    @property
    def break_glass(self) -> bool:
        return self.trigger is Trigger.BREAK_GLASS

    @property
    def object_count(self) -> int:
        return sum(p.count for p in self.parts)


@dataclass(frozen=True, slots=True)
class Headline:
    """One row of a list of requests: enough to show it, without its objects."""

    id: RequestId
    requester: UserId
    requester_name: str
    flow: str
    bundle: str | None
    status: Status
    created_at: datetime
    object_count: int
    integrations: tuple[str, ...]
    expires_at: datetime | None = None
    ended_at: datetime | None = None
    trigger: Trigger = Trigger.NORMAL
    grantee: UserId | None = None
    """The teammate the access is for, when asked on their behalf (``None``: the requester)."""

    @property
    def what(self) -> str:
        return self.bundle or f"{self.object_count:,} objects"


@dataclass(frozen=True, slots=True)
class Page:
    """A page of headlines and where it sits in the whole list."""

    rows: tuple[Headline, ...]
    number: int
    size: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.size))

    @property
    def has_previous(self) -> bool:
        return self.number > 0

    @property
    def has_next(self) -> bool:
        return (self.number + 1) * self.size < self.total
