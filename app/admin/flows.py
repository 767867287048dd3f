"""A flow's active flag and bundles, changed from Slack.

Each change reads, changes and saves the flow in one transaction with its audit event, so two
admins clicking at once cannot undo each other's change unseen.
"""

from __future__ import annotations

from collections.abc import Callable

from app.admin.audit import AdminAudit
from app.admin.contents import left_empty
from app.admin.gate import AdminGate
from app.admin.outcomes import SUGGESTIONS, FlowChanged, Rejected
from app.admin.views import flow_line
from app.core.catalog import CatalogService
from app.core.outcomes import NotAllowed
from blocks.admin import (
    FlowEditor,
    bundle_added_to_flow,
    bundle_removed_from_flow,
    flow_already,
    flow_does_not_offer,
    flow_gone,
    flow_offers_already,
    flow_offers_nothing,
    flow_switched,
    no_bundle,
)
from domain.catalog import Source
from domain.clock import Clock
from domain.ids import UserId
from domain.policy import AccessFlow
from store.unit_of_work import Store

FlowChange = Callable[[AccessFlow], "tuple[AccessFlow, str] | str"]
"""A flow → the changed flow and what to tell the audit channel, or why nothing changes."""


def _offers_something(flow: AccessFlow) -> bool:
    return bool(flow.bundles or flow.objects)


class FlowAdmin:
    def __init__(
        self,
        *,
        store: Store,
        catalog: CatalogService,
        gate: AdminGate,
        audit: AdminAudit,
        clock: Clock,
    ) -> None:
        self._store = store
        self._catalog = catalog
        self._gate = gate
        self._audit = audit
        self._clock = clock

    def flow_editor(self, *, by: UserId, flow: str) -> FlowEditor | NotAllowed:
        if not self._gate.allows(by):
            return self._gate.refuse(by, what=f"open flow {flow}")
        editor = self._flow_editor(flow)
        return editor or NotAllowed(flow_gone(flow))

    def _flow_editor(self, flow: str, notice: str | None = None) -> FlowEditor | None:
        record = self._catalog.flow(flow)
        if record is None:
            return None
        with self._store.read() as uow:
            names = [b.name for b in uow.catalog.bundles()]
        return FlowEditor(
            flow=flow_line(record),
            addable=tuple(n for n in names if n not in record.flow.bundles),
            notice=notice,
        )

    def suggest_bundles(self, *, by: UserId, flow: str, query: str) -> list[str]:
        """Bundles to add to ``flow`` (its menu turns into a typeahead past 100 bundles)."""
        if not self._gate.allows(by):
            self._gate.refuse(by, what=f"search bundles for flow {flow}")
            return []
        record = self._catalog.flow(flow)
        held = set(record.flow.bundles) if record else set()
        words = query.lower().split()
        with self._store.read() as uow:
            names = [b.name for b in uow.catalog.bundles()]
        return [n for n in names if n not in held and all(w in n.lower() for w in words)][
            :SUGGESTIONS
        ]

    def set_flow_active(
        self, *, by: UserId, flow: str, active: bool
    ) -> FlowChanged | Rejected | NotAllowed:
        verb = "activate" if active else "deactivate"
        if not self._gate.allows(by):
            return self._gate.refuse(by, what=f"{verb} flow {flow}")

        def change(current: AccessFlow) -> tuple[AccessFlow, str] | str:
            if current.active is active:
                return flow_already(flow=flow, active=active)
            if active and not _offers_something(current):
                return flow_offers_nothing(flow)
            return current.model_copy(update={"active": active}), flow_switched(
                flow=flow, active=active
            )

        return self._change_flow(by=by, flow=flow, what=f"flow.{verb}", change=change)

    def add_bundle_to_flow(
        self, *, by: UserId, flow: str, bundle: str
    ) -> FlowChanged | Rejected | NotAllowed:
        if not self._gate.allows(by):
            return self._gate.refuse(by, what=f"add bundle {bundle} to flow {flow}")
        with self._store.read() as uow:
            exists = uow.catalog.bundle_header(bundle) is not None

        def change(current: AccessFlow) -> tuple[AccessFlow, str] | str:
            if not exists:
                return no_bundle(bundle)
            if bundle in current.bundles:
                return flow_offers_already(flow=flow, bundle=bundle)
            updated = current.model_copy(update={"bundles": [*current.bundles, bundle]})
            return updated, bundle_added_to_flow(flow=flow, bundle=bundle)

        return self._change_flow(by=by, flow=flow, what="flow.add_bundle", change=change)

    def remove_bundle_from_flow(
        self, *, by: UserId, flow: str, bundle: str
    ) -> FlowChanged | Rejected | NotAllowed:
        if not self._gate.allows(by):
            return self._gate.refuse(by, what=f"remove bundle {bundle} from flow {flow}")

        def change(current: AccessFlow) -> tuple[AccessFlow, str] | str:
            if bundle not in current.bundles:
                return flow_does_not_offer(flow=flow, bundle=bundle)
            empty = left_empty(current, bundle)
            updated = current.model_copy(
                update={
                    "bundles": [b for b in current.bundles if b != bundle],
                    "active": current.active and not empty,
                }
            )
            return updated, bundle_removed_from_flow(
                flow=flow, bundle=bundle, deactivated=empty and current.active
            )

        return self._change_flow(by=by, flow=flow, what="flow.remove_bundle", change=change)

    def _change_flow(
        self, *, by: UserId, flow: str, what: str, change: FlowChange
    ) -> FlowChanged | Rejected:
        now = self._clock.now()
        with self._store.write() as uow:
            record = next((r for r in uow.catalog.flows() if r.flow.name == flow), None)
            if record is None:
                return Rejected(flow_gone(flow))
            outcome = change(record.flow)
            changed = not isinstance(outcome, str)
            if isinstance(outcome, str):
                said = outcome
            else:
                updated, said = outcome
                uow.catalog.save_flow(flow=updated, source=Source.SLACK, at=now, by=by)
                self._audit.record(
                    uow,
                    by=by,
                    what=what,
                    target=flow,
                    before={"active": record.flow.active, "bundles": list(record.flow.bundles)},
                    after={"active": updated.active, "bundles": list(updated.bundles)},
                    summary=said,
                )
        if changed:
            self._catalog.invalidate()  # written past the catalog service: reload at once
        editor = self._flow_editor(flow, notice=said[:1].upper() + said[1:])
        if editor is None:
            return Rejected(flow_gone(flow))
        return FlowChanged(editor=editor, summary=said, changed=changed)
