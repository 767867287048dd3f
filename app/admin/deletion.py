"""Delete a bundle: first say what it would do, then do it in one transaction with its audit."""

from __future__ import annotations

from app.admin.audit import AdminAudit, audit_objects
from app.admin.contents import impact_of, left_empty, written
from app.admin.gate import AdminGate
from app.admin.outcomes import Changed, Rejected
from app.core.catalog import CatalogService
from app.core.outcomes import NotAllowed
from blocks.admin import DeletePlan, bundle_deleted, bundle_gone
from domain.catalog import Source
from domain.clock import Clock
from domain.ids import UserId
from store.unit_of_work import Store


class BundleDeletion:
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

    def delete_plan(self, *, by: UserId, bundle: str) -> DeletePlan | NotAllowed:
        """What deleting ``bundle`` would do, for the confirmation."""
        if not self._gate.allows(by):
            return self._gate.refuse(by, what=f"delete bundle {bundle}")
        with self._store.read() as uow:
            current = uow.catalog.bundle(bundle)
        if current is None:
            return NotAllowed(bundle_gone(bundle))
        holding = [r.flow for r in self._catalog.flows() if bundle in r.flow.bundles]
        return DeletePlan(
            name=current.name,
            source=current.source,
            objects=current.object_count,
            impact=impact_of(store=self._store, catalog=self._catalog, bundle=bundle),
            deactivated=tuple(f.name for f in holding if left_empty(f, bundle) and f.active),
        )

    def delete_bundle(self, *, by: UserId, bundle: str) -> Changed | Rejected | NotAllowed:
        """Delete a bundle and take it out of every flow, in one transaction with its audit."""
        if not self._gate.allows(by):
            return self._gate.refuse(by, what=f"delete bundle {bundle}")
        impact = impact_of(store=self._store, catalog=self._catalog, bundle=bundle)
        now = self._clock.now()
        with self._store.write() as uow:
            current = uow.catalog.bundle(bundle)
            if current is None:
                return Rejected(bundle_gone(bundle))
            objects = written(uow, current)
            changed: list[str] = []
            deactivated: list[str] = []
            for record in uow.catalog.flows():
                flow = record.flow
                if bundle not in flow.bundles:
                    continue
                empty = left_empty(flow, bundle)
                if empty and flow.active:
                    deactivated.append(flow.name)
                updated = flow.model_copy(
                    update={
                        "bundles": [b for b in flow.bundles if b != bundle],
                        "active": flow.active and not empty,
                    }
                )
                uow.catalog.save_flow(flow=updated, source=Source.SLACK, at=now, by=by)
                changed.append(flow.name)
            uow.catalog.delete_bundle(bundle)
            summary = bundle_deleted(
                name=bundle,
                was_file=current.source is Source.FILE,
                flows=changed,
                deactivated=deactivated,
                pending=impact.pending,
            )
            self._audit.record(
                uow,
                by=by,
                what="bundle.delete",
                target=bundle,
                before={"description": current.description, **audit_objects(objects)},
                after=None,
                summary=summary,
                flows=changed,
                deactivated=deactivated,
            )
        self._catalog.invalidate()  # written past the catalog service: reload at once
        return Changed(summary=summary)
