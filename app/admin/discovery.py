"""Discovery: what each integration has to grant on, feeding the pickers and bundle patterns."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from app.core.catalog import CatalogService
from app.integrations.base import Integration, IntegrationError
from domain.clock import Clock

_log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Health:
    ok: bool
    checked_at: datetime
    resources: int = 0
    problem: str | None = None


class DiscoveryService:
    def __init__(
        self, *, catalog: CatalogService, integrations: Mapping[str, Integration], clock: Clock
    ) -> None:
        self._catalog = catalog
        self._integrations = integrations
        self._clock = clock
        self.health: dict[str, Health] = {}

    def refresh(self) -> dict[str, Health]:
        """Discover every integration; one that is down keeps its last known resources."""
        for name, integration in self._integrations.items():
            now = self._clock.now()
            try:
                found = integration.discover()
            except IntegrationError as error:
                _log.warning("discovery failed", extra={"integration": name, "error": str(error)})
                self.health[name] = Health(ok=False, checked_at=now, problem=str(error))
                continue
            self._catalog.record_discovery(
                integration=name, resources=[(r.name, r.kind) for r in found], at=now
            )
            self.health[name] = Health(ok=True, checked_at=now, resources=len(found))
        return dict(self.health)
