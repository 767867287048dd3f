"""The catalog: the policy's bundles and flows in the database, expanded and versioned.

The database is what every instance reads, so a Slack-side edit (or a second instance's policy
sync) is seen everywhere. Flows are few and read on every modal action, so each instance keeps
them in memory and reloads only when the catalog's generation number moves.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from datetime import datetime

from domain.catalog import Bundle, FlowRecord, IntegrationShare, Source
from domain.clock import Clock
from domain.connections import OFFERED_PERMISSIONS
from domain.expansion import expand_objects
from domain.policy import AccessFlow, BundleSpec, IntegrationSpec, Policy
from store.unit_of_work import Store, UnitOfWork

_log = logging.getLogger(__name__)

# Kinds of discovered resource that a pattern expands into, per integration type.
LEAF_KINDS = {"postgresql": {"table"}, "mysql": {"table"}, "webhook": None}


class CatalogService:
    def __init__(self, *, store: Store, clock: Clock) -> None:
        self._store = store
        self._clock = clock
        self._lock = threading.Lock()
        self._generation = -1
        self._flows: list[FlowRecord] = []
        self._integrations: dict[str, IntegrationSpec] = {}
        self._bundles: dict[str, tuple[Bundle, tuple[IntegrationShare, ...]]] = {}

    # -- reading ------------------------------------------------------------------------------

    def flows(self) -> list[FlowRecord]:
        with self._store.read() as uow:
            generation = uow.catalog.generation()
            if generation == self._generation:
                return self._flows
            flows = uow.catalog.flows()
        with self._lock:
            self._generation, self._flows = generation, flows
        return flows

    def flow(self, name: str) -> FlowRecord | None:
        return next((f for f in self.flows() if f.flow.name == name), None)

    def bundle(self, name: str) -> tuple[Bundle, tuple[IntegrationShare, ...]] | None:
        """A bundle with its per-integration counts; counting 100,000 rows is done once per
        version, not on every click."""
        with self._store.read() as uow:
            row = uow.catalog.bundle_header(name)
            if row is None:
                return None
            key, version = row
            cached = self._bundles.get(name)
            if cached is not None and cached[0].key == key and cached[0].version == version:
                return cached
            bundle = uow.catalog.bundle(name)
            if bundle is None:
                return None
            shares = tuple(uow.catalog.shares(bundle.key))
        entry = (bundle, shares)
        with self._lock:
            self._bundles[name] = entry
        return entry

    @property
    def integrations(self) -> Mapping[str, IntegrationSpec]:
        return self._integrations

    def permissions_of(self, integration: str) -> tuple[str, ...]:
        spec = self._integrations.get(integration)
        if spec is None:
            return ()
        return spec.offered_permissions() or (OFFERED_PERMISSIONS.get(spec.type) or ())

    # -- writing ------------------------------------------------------------------------------

    def sync_policy(self, policy: Policy, *, by: str | None = None) -> None:
        """Make the database hold the file's bundles and flows (Slack-made ones are kept)."""
        self._integrations = {i.name: i for i in policy.integrations}
        now = self._clock.now()
        with self._store.write() as uow:
            leaves = self._leaves(uow)
            for bundle in policy.bundles:
                self._save_bundle(uow, bundle, leaves=leaves, at=now, by=by)
            for flow in policy.access_flows:
                uow.catalog.save_flow(flow=flow, source=Source.FILE, at=now, by=by)
            in_file = {b.name for b in policy.bundles}
            for existing in uow.catalog.bundles():
                if existing.source is Source.FILE and existing.name not in in_file:
                    uow.catalog.delete_bundle(existing.name)
            flows_in_file = {f.name for f in policy.access_flows}
            for record in uow.catalog.flows():
                if record.source is Source.FILE and record.flow.name not in flows_in_file:
                    uow.catalog.delete_flow(record.flow.name)

    def record_discovery(
        self, *, integration: str, resources: Sequence[tuple[str, str]], at: datetime
    ) -> None:
        """Store what discovery found and re-expand every bundle pattern on that integration."""
        with self._store.write() as uow:
            uow.catalog.replace_resources(integration=integration, resources=resources, at=at)
            leaves = self._leaves(uow)
            for bundle in uow.catalog.bundles():
                spec_data = uow.catalog.bundle_spec(bundle.name)
                if spec_data is None:
                    continue
                spec = BundleSpec.model_validate(spec_data)
                if any(o.integration == integration for o in spec.objects):
                    self._save_bundle(
                        uow, spec, leaves=leaves, at=at, by=None, source=bundle.source
                    )

    def _leaves(self, uow: UnitOfWork) -> dict[str, list[str]]:
        leaves: dict[str, list[str]] = {}
        for name, spec in self._integrations.items():
            if spec.type not in LEAF_KINDS:
                continue
            kinds = LEAF_KINDS[spec.type]
            known = uow.catalog.resources(name)
            if known:
                leaves[name] = [n for n, k in known if kinds is None or k in kinds]
        return leaves

    def _save_bundle(
        self,
        uow: UnitOfWork,
        spec: BundleSpec,
        *,
        leaves: Mapping[str, Sequence[str]],
        at: datetime,
        by: str | None,
        source: Source = Source.FILE,
    ) -> None:
        objects = expand_objects(spec.objects, leaves=leaves)
        uow.catalog.save_bundle(
            name=spec.name,
            description=spec.description,
            spec=spec.model_dump(mode="json"),
            objects=objects,
            source=source,
            at=at,
            by=by,
        )


def flows_of(records: Sequence[FlowRecord]) -> list[AccessFlow]:
    return [r.flow for r in records]
