"""Integrations that answer without a server, for benchmarks of what people see in Slack.

The modal and Home benchmarks measure the catalog, the views and the database: an integration
that passes its admin login check and discovers nothing keeps every figure the same on every
machine, whatever the local servers hold. Nothing is ever granted through one.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from app.integrations.base import (
    AccessDetails,
    GrantItem,
    IntegrationError,
    Resource,
    RevokeOutcome,
)
from domain.connections import OFFERED_PERMISSIONS
from domain.policy import Policy


class OfflineIntegration:
    def __init__(self, *, name: str, type_name: str, permissions: Sequence[str]) -> None:
        self._name = name
        self._type_name = type_name
        self._permissions = tuple(permissions)

    @property
    def name(self) -> str:
        return self._name

    @property
    def type_name(self) -> str:
        return self._type_name

    def permissions(self) -> Sequence[str]:
        return self._permissions

    def discover(self) -> list[Resource]:
        return []

    def grant(self, *, account: str, items: Sequence[GrantItem], until: datetime) -> AccessDetails:
        raise IntegrationError(f"{self._name}: a benchmark integration grants nothing")

    def revoke(self, *, account: str) -> None:
        return None  # nothing was ever granted

    def revoke_many(self, *, accounts: Sequence[str]) -> RevokeOutcome:
        return dict.fromkeys(accounts)

    def extend(self, *, account: str, until: datetime) -> None:
        return None  # nothing was ever granted

    def accounts(self) -> list[str] | None:
        return []

    def preflight(self) -> list[str]:
        return []

    def safeguard_problem(self) -> str | None:
        return None

    def check(self) -> None:
        return None


def offline_integrations(policy: Policy) -> dict[str, OfflineIntegration]:
    return {
        spec.name: OfflineIntegration(
            name=spec.name,
            type_name=spec.type,
            permissions=spec.permissions or OFFERED_PERMISSIONS.get(spec.type) or (),
        )
        for spec in policy.integrations
    }
