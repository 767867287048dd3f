"""The catalog: the policy's bundles and flows in the database, expanded and versioned.

The database is what every instance reads, so a Slack-side edit (or a second instance's policy
sync) is seen everywhere. Flows are few and read on every modal action, so each instance keeps
them in memory and reloads only when the catalog's generation number moves.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from pydantic import ValidationError

from blocks.alerts import policy_conflict
from domain.catalog import Bundle, FlowRecord, IntegrationShare, Source, spec_digest
from domain.clock import Clock
from domain.connections import OFFERED_PERMISSIONS
from domain.expansion import expand_objects
from domain.policy import AccessFlow, BundleSpec, IntegrationSpec, Policy
from store.unit_of_work import Store, UnitOfWork

_log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Conflict:
    """The policy file changed something that was also changed in Slack; Slack's was kept."""

    kind: str
    name: str

    def __str__(self) -> str:
        return policy_conflict(kind=self.kind, name=self.name)


@dataclass(frozen=True, slots=True)
class FreshFlow:
    """A flow as the catalog holds it now (read with :meth:`CatalogService.fresh_flow`);
    ``record`` is ``None`` when the flow is gone."""

    record: FlowRecord | None


RECHECK_SECONDS: Final = 0.5
"""How stale the cached catalog may be for the modal's clicks."""

# Kinds of discovered resource that a pattern expands into, per integration type.
LEAF_KINDS = {"postgresql": {"table"}, "mysql": {"table"}, "webhook": None}


class CatalogService:
    def __init__(self, *, store: Store, clock: Clock) -> None:
        self._store = store
        self._clock = clock
        self._lock = threading.Lock()
        self._generation = -1
        self._flows: list[FlowRecord] = []
        self._descriptions: dict[str, str] = {}
        self._integrations: dict[str, IntegrationSpec] = {}
        self._bundles: dict[str, tuple[Bundle, tuple[IntegrationShare, ...]]] = {}
        self._checked_at = float("-inf")

    # -- reading ------------------------------------------------------------------------------

    def flows(self, *, fresh: bool = False) -> list[FlowRecord]:
        return self.flows_with_generation(fresh=fresh)[1]

    def flows_with_generation(self, *, fresh: bool = False) -> tuple[int, list[FlowRecord]]:
        """The flows and the catalog generation they belong to.

        Modal clicks may see the catalog up to :data:`RECHECK_SECONDS` late; decisions that
        must not be stale (a submission) pass ``fresh=True``.
        """
        self._refresh(fresh=fresh)
        return self._generation, self._flows

    def descriptions(self) -> dict[str, str]:
        """Every bundle's description (menus show them), reloaded when the catalog changes."""
        self._refresh()
        return self._descriptions

    def _refresh(self, *, fresh: bool = False) -> None:
        if not fresh and time.monotonic() - self._checked_at < RECHECK_SECONDS:
            return
        with self._store.read() as uow:
            self._refresh_in(uow)

    def _refresh_in(self, uow: UnitOfWork) -> list[FlowRecord]:
        """The flows as of ``uow`` (kept for the next readers too)."""
        checked_at = time.monotonic()
        generation = uow.catalog.generation()
        with self._lock:
            if generation == self._generation:
                self._checked_at = checked_at
                return self._flows
        flows = uow.catalog.flows()
        descriptions = uow.catalog.descriptions()
        with self._lock:
            self._generation, self._flows = generation, flows
            self._descriptions, self._bundles = descriptions, {}
            self._checked_at = checked_at
        return flows

    def fresh_flow(self, uow: UnitOfWork, name: str) -> FreshFlow:
        """``flow(name, fresh=True)`` read in the caller's transaction: a click that reads the
        request anyway learns the catalog's generation with it, not in a transaction of its
        own. The flow is the one of the generation this transaction saw, even if another
        thread refreshes the cache meanwhile."""
        flows = self._refresh_in(uow)
        return FreshFlow(next((f for f in flows if f.flow.name == name), None))

    def invalidate(self) -> None:
        """Look at the database again on the next read (this instance just changed it)."""
        self._checked_at = float("-inf")

    def flow(self, name: str, *, fresh: bool = False) -> FlowRecord | None:
        return next((f for f in self.flows(fresh=fresh) if f.flow.name == name), None)

    def audit_channel(self, flow: str) -> str | None:
        """The channel ``flow`` sends its status changes to, if it names one (the catalog as
        of up to :data:`RECHECK_SECONDS` ago: a channel is where messages go, not a grant)."""
        record = self.flow(flow)
        return record.flow.audit_channel if record is not None else None

    def bundle(
        self, name: str, *, fresh: bool = False
    ) -> tuple[Bundle, tuple[IntegrationShare, ...]] | None:
        """A bundle with its per-integration counts. Every change to a bundle moves the catalog
        generation, so counting 100,000 rows happens once per change, not on every click."""
        self._refresh(fresh=fresh)
        cached = self._bundles.get(name)
        if cached is not None:
            return cached
        with self._store.read() as uow:
            return self._load_bundle(uow, name)

    def fresh_bundle(
        self, uow: UnitOfWork, name: str
    ) -> tuple[Bundle, tuple[IntegrationShare, ...]] | None:
        """``bundle(name, fresh=True)`` read in the caller's transaction."""
        self._refresh_in(uow)
        return self._bundles.get(name) or self._load_bundle(uow, name)

    def _load_bundle(
        self, uow: UnitOfWork, name: str
    ) -> tuple[Bundle, tuple[IntegrationShare, ...]] | None:
        bundle = uow.catalog.bundle(name)
        if bundle is None:
            return None
        entry = (bundle, tuple(uow.catalog.shares(bundle.key)))
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

    def sync_policy(self, policy: Policy, *, by: str | None = None) -> list[Conflict]:
        """Bring the policy file's changes into the database (at start-up).

        The database is what runs; the file is applied per bundle and per flow, and only where
        the file changed since it was last read, so edits made in Slack or by an import stand
        until the file itself changes that object again. No edit is lost silently: when the
        file changes an object that was also edited in Slack, Slack's version is kept and the
        conflict is returned (to be audited and announced).
        """
        self._integrations = {i.name: i for i in policy.integrations}
        now = self._clock.now()
        conflicts: list[Conflict] = []
        with self._store.write() as uow:
            leaves = self._leaves(uow)
            bundles = {b.name: b for b in uow.catalog.bundles()}
            flows = {r.flow.name: r for r in uow.catalog.flows()}
            for bundle in policy.bundles:
                if self._file_changed(uow, "bundle", bundle, bundles.get(bundle.name), conflicts):
                    self._save_bundle(uow, bundle, leaves=leaves, at=now, by=by)
            for flow in policy.access_flows:
                if self._file_changed(uow, "flow", flow, flows.get(flow.name), conflicts):
                    uow.catalog.save_flow(flow=flow, source=Source.FILE, at=now, by=by)
            for kind, names, current in (
                ("bundle", {b.name for b in policy.bundles}, bundles),
                ("flow", {f.name for f in policy.access_flows}, flows),
            ):
                for key in uow.meta.keys(prefix=f"file:{kind}:"):
                    name = key.removeprefix(f"file:{kind}:")
                    if name in names:
                        continue
                    # The file dropped it since last read: drop it too, unless Slack owns it now.
                    uow.meta.delete(key)
                    existing = current.get(name)
                    if existing is not None and existing.source is Source.FILE:
                        if kind == "bundle":
                            uow.catalog.delete_bundle(name)
                        else:
                            uow.catalog.delete_flow(name)
                    elif existing is not None:
                        conflicts.append(Conflict(kind=kind, name=name))
        self.invalidate()
        return conflicts

    @staticmethod
    def _file_changed(
        uow: UnitOfWork,
        kind: str,
        spec: BundleSpec | AccessFlow,
        existing: Bundle | FlowRecord | None,
        conflicts: list[Conflict],
    ) -> bool:
        """Whether to apply the file's version of ``spec`` (it changed since last read)."""
        digest = spec_digest(spec)
        key = f"file:{kind}:{spec.name}"
        seen = uow.meta.get(key)
        uow.meta.put(key, digest)
        if seen == digest:
            return False
        if existing is not None and existing.source is Source.SLACK:
            conflicts.append(Conflict(kind=kind, name=spec.name))
            return False
        return True

    # -- edits made in Slack (the admin use cases call these) ----------------------------------

    def save_bundle(
        self,
        spec: BundleSpec,
        *,
        by: str,
        also: Callable[[UnitOfWork, Bundle], None] | None = None,
    ) -> Bundle:
        """Create or replace a bundle as an admin wrote it; patterns are expanded as usual.

        ``also`` runs in the same transaction (the caller's audit event and messages)."""
        now = self._clock.now()
        with self._store.write() as uow:
            self._save_bundle(
                uow, spec, leaves=self._leaves(uow), at=now, by=by, source=Source.SLACK
            )
            saved = uow.catalog.bundle(spec.name)
            if also is not None and saved is not None:
                also(uow, saved)
        self.invalidate()
        assert saved is not None
        return saved

    def delete_bundle(self, name: str, *, by: str) -> bool:
        with self._store.write() as uow:
            deleted = uow.catalog.delete_bundle(name)
        self.invalidate()
        return deleted

    def save_flow(self, flow: AccessFlow, *, by: str) -> FlowRecord:
        with self._store.write() as uow:
            record = uow.catalog.save_flow(
                flow=flow, source=Source.SLACK, at=self._clock.now(), by=by
            )
        self.invalidate()
        return record

    def replace_with(self, policy: Policy, *, by: str | None) -> None:
        """Make the catalog's bundles and flows exactly those of ``policy`` (an import)."""
        now = self._clock.now()
        with self._store.write() as uow:
            leaves = self._leaves(uow)
            for bundle in policy.bundles:
                self._save_bundle(uow, bundle, leaves=leaves, at=now, by=by)
            for flow in policy.access_flows:
                uow.catalog.save_flow(flow=flow, source=Source.FILE, at=now, by=by)
            keep_bundles = {b.name for b in policy.bundles}
            for existing in uow.catalog.bundles():
                if existing.name not in keep_bundles:
                    uow.catalog.delete_bundle(existing.name)
            keep_flows = {f.name for f in policy.access_flows}
            for record in uow.catalog.flows():
                if record.flow.name not in keep_flows:
                    uow.catalog.delete_flow(record.flow.name)
        self.invalidate()

    def current_specs(self) -> tuple[list[BundleSpec], list[AccessFlow]]:
        """Bundles and flows as they stand now, written the way a policy file writes them."""
        with self._store.read() as uow:
            bundles = [
                BundleSpec.model_validate(uow.catalog.bundle_spec(b.name))
                for b in uow.catalog.bundles()
            ]
            flows = [r.flow for r in uow.catalog.flows()]
        return bundles, flows

    def record_discovery(
        self, *, integration: str, resources: Sequence[tuple[str, str]], at: datetime
    ) -> None:
        """Store what discovery found and re-expand every bundle pattern on that integration."""
        with self._store.write() as uow:
            uow.catalog.replace_resources(integration=integration, resources=resources, at=at)
            leaves = self._leaves(uow)
            for bundle in uow.catalog.bundles():
                spec_data = uow.catalog.bundle_spec(bundle.name)
                try:
                    spec = BundleSpec.model_validate(spec_data)
                except ValidationError:
                    continue
                if any(o.integration == integration for o in spec.objects):
                    self._save_bundle(
                        uow, spec, leaves=leaves, at=at, by=None, source=bundle.source
                    )
        self.invalidate()

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
