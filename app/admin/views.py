"""What admins see: the Home tab's Admin section and the paged lists of bundles and flows."""

from __future__ import annotations

from collections.abc import Sequence

from app.admin.discovery import DiscoveryService
from app.admin.gate import AdminGate
from app.core.catalog import CatalogService
from app.core.outcomes import NotAllowed
from blocks.admin import (
    HOME_ROWS,
    LIST_ROWS,
    AdminHome,
    AdminList,
    BundleLine,
    FlowLine,
    IntegrationLine,
    durations_offered,
)
from domain.catalog import Bundle, FlowRecord
from domain.ids import UserId
from domain.policy import AccessFlow
from store.unit_of_work import Store


def _durations(flow: AccessFlow) -> str:
    return durations_offered(
        maximum=flow.duration.max, offered=flow.duration.offered(), default=flow.duration.default
    )


def flow_line(record: FlowRecord) -> FlowLine:
    flow = record.flow
    automatic = flow.approvers == "automatic"
    approvers: tuple[str, ...] = ()
    manager = False
    if flow.steps:
        first = flow.steps[0]
        approvers = (*first.users, *first.groups)
        manager = first.manager
    return FlowLine(
        name=flow.name,
        active=flow.active,
        source=record.source,
        grantees=(*flow.grantees.users, *flow.grantees.groups),
        approvers=approvers,
        automatic=automatic,
        manager=manager,
        durations=_durations(flow),
        bundles=tuple(flow.bundles),
        plain_objects=len(flow.objects),
        steps=flow.steps,
    )


class AdminViews:
    def __init__(
        self,
        *,
        store: Store,
        catalog: CatalogService,
        gate: AdminGate,
        discovery: DiscoveryService,
    ) -> None:
        self._store = store
        self._catalog = catalog
        self._gate = gate
        self._discovery = discovery

    def home_for(self, *, viewer: UserId) -> AdminHome | None:
        """The Home tab's Admin section; ``None`` for anyone else (opening Home is not an
        admin action, so nothing is audited)."""
        if not self._gate.allows(viewer):
            return None
        bundles, flows = self._bundles_and_flows()
        return AdminHome(
            bundles=self._bundle_lines(bundles[:HOME_ROWS], flows),
            bundle_total=len(bundles),
            flows=tuple(flow_line(r) for r in flows[:HOME_ROWS]),
            flow_total=len(flows),
            integrations=self._integration_lines(),
        )

    def bundle_list(self, *, by: UserId, page: int) -> AdminList | NotAllowed:
        if not self._gate.allows(by):
            return self._gate.refuse(by, what="list bundles")
        bundles, flows = self._bundles_and_flows()
        page = max(0, min(page, (len(bundles) - 1) // LIST_ROWS))
        shown = bundles[page * LIST_ROWS : (page + 1) * LIST_ROWS]
        return AdminList(
            kind="bundles",
            page=page,
            total=len(bundles),
            bundles=self._bundle_lines(shown, flows),
        )

    def flow_list(self, *, by: UserId, page: int) -> AdminList | NotAllowed:
        if not self._gate.allows(by):
            return self._gate.refuse(by, what="list flows")
        flows = self._catalog.flows()
        page = max(0, min(page, (len(flows) - 1) // LIST_ROWS))
        shown = flows[page * LIST_ROWS : (page + 1) * LIST_ROWS]
        return AdminList(
            kind="flows",
            page=page,
            total=len(flows),
            flows=tuple(flow_line(r) for r in shown),
        )

    def _bundles_and_flows(self) -> tuple[list[Bundle], list[FlowRecord]]:
        with self._store.read() as uow:
            bundles = uow.catalog.bundles()
        return bundles, self._catalog.flows()

    def _bundle_lines(
        self, bundles: Sequence[Bundle], flows: Sequence[FlowRecord]
    ) -> tuple[BundleLine, ...]:
        lines = []
        for bundle in bundles:
            found = self._catalog.bundle(bundle.name)
            lines.append(
                BundleLine(
                    name=bundle.name,
                    description=bundle.description,
                    source=bundle.source,
                    objects=bundle.object_count,
                    integrations=len(found[1]) if found else 0,
                    flows=tuple(r.flow.name for r in flows if bundle.name in r.flow.bundles),
                )
            )
        return tuple(lines)

    def _integration_lines(self) -> tuple[IntegrationLine, ...]:
        health = dict(self._discovery.health)
        lines = []
        with self._store.read() as uow:
            for name, spec in sorted(self._catalog.integrations.items()):
                checked = health.get(name)
                lines.append(
                    IntegrationLine(
                        name=name,
                        type=spec.type,
                        resources=uow.catalog.resource_count(name),
                        ok=checked.ok if checked else None,
                        checked_at=checked.checked_at if checked else None,
                        problem=checked.problem if checked else None,
                    )
                )
        return tuple(lines)
