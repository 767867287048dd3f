"""The admin console's view models: plain data the builders render."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from blocks.admin.limits import LIST_ROWS
from domain.catalog import Source
from domain.objects import AccessObject
from domain.policy import Approvers


@dataclass(frozen=True, slots=True)
class BundleLine:
    name: str
    description: str
    source: Source
    objects: int
    integrations: int
    flows: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class FlowLine:
    name: str
    active: bool
    source: Source
    grantees: tuple[str, ...]
    """User IDs, emails and user groups, as the flow names them."""
    approvers: tuple[str, ...]
    automatic: bool
    manager: bool
    durations: str
    bundles: tuple[str, ...]
    plain_objects: int
    steps: tuple[Approvers, ...] = ()
    """The approval steps in order (README, "Approval steps"); none for an automatic flow."""


@dataclass(frozen=True, slots=True)
class IntegrationLine:
    name: str
    type: str
    resources: int
    ok: bool | None
    """``None`` until discovery has run once."""
    checked_at: datetime | None = None
    problem: str | None = None


@dataclass(frozen=True, slots=True)
class HealthLine:
    """The latest check of one integration's admin login."""

    name: str
    type: str
    problems: tuple[str, ...]
    """What the login lacks, or why the check failed; empty when it passed."""
    checked_at: datetime | None = None
    """``None`` until the first check has finished."""


@dataclass(frozen=True, slots=True)
class AdminHome:
    bundles: tuple[BundleLine, ...]
    bundle_total: int
    flows: tuple[FlowLine, ...]
    flow_total: int
    integrations: tuple[IntegrationLine, ...]
    health: tuple[HealthLine, ...] = ()


@dataclass(frozen=True, slots=True)
class AdminList:
    kind: Literal["bundles", "flows"]
    page: int
    total: int
    bundles: tuple[BundleLine, ...] = ()
    flows: tuple[FlowLine, ...] = ()
    size: int = LIST_ROWS

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.size))


@dataclass(frozen=True, slots=True)
class BundleEditor:
    draft_key: str
    name: str | None
    """``None`` for a new bundle: the admin types its name."""
    description: str
    source: Source | None
    flows: tuple[str, ...]
    integrations: tuple[str, ...]
    integration: str | None
    permissions: tuple[str, ...]
    total: int
    per_integration: dict[str, int] = field(default_factory=dict)
    recent: tuple[AccessObject, ...] = ()
    notice: str | None = None


@dataclass(frozen=True, slots=True)
class Impact:
    """What saving (or deleting) a bundle touches."""

    flows: tuple[str, ...]
    inactive_flows: tuple[str, ...]
    pending: int
    active: int


@dataclass(frozen=True, slots=True)
class BundleReview:
    draft_key: str
    name: str
    new: bool
    source: Source | None
    before: int
    after: int
    per_integration: dict[str, int]
    added: tuple[AccessObject, ...]
    added_count: int
    removed: tuple[AccessObject, ...]
    removed_count: int
    description_changed: bool
    impact: Impact


@dataclass(frozen=True, slots=True)
class DeletePlan:
    name: str
    source: Source
    objects: int
    impact: Impact
    deactivated: tuple[str, ...]
    """Flows the bundle was all they offered: they are deactivated with it."""


@dataclass(frozen=True, slots=True)
class FlowEditor:
    flow: FlowLine
    addable: tuple[str, ...]
    """Bundles not in the flow yet."""
    notice: str | None = None
