"""The admin console's one entry point: every admin use case, each served by its own module.

Listeners and the Home service hold this facade; the work is done by the parts it builds, which
share one gate (only admins may do any of it; anything else is refused and audited) and one
audit helper (every change is an audit event and an audit-channel line, in its transaction).
"""

from __future__ import annotations

from app.services.admin.audit import AdminAudit
from app.services.admin.bundles import BundleSaving
from app.services.admin.deletion import BundleDeletion
from app.services.admin.editor import BundleEditing
from app.services.admin.flows import FlowAdmin
from app.services.admin.gate import AdminGate
from app.services.admin.outcomes import Changed, FlowChanged, Invalid, Rejected
from app.services.admin.views import AdminViews
from app.services.admins import Admins
from app.services.catalog import CatalogService
from app.services.discovery import DiscoveryService
from app.services.notifier import Notifier
from app.services.outcomes import NotAllowed
from blocks.admin import AdminHome, AdminList, BundleEditor, BundleReview, DeletePlan, FlowEditor
from domain.clock import Clock
from domain.ids import UserId
from domain.objects import AccessObject
from store.unit_of_work import Store


class AdminService:
    def __init__(
        self,
        *,
        store: Store,
        catalog: CatalogService,
        admins: Admins,
        discovery: DiscoveryService,
        notifier: Notifier,
        clock: Clock,
    ) -> None:
        gate = AdminGate(store=store, admins=admins, clock=clock)
        audit = AdminAudit(notifier=notifier, clock=clock)
        self._views = AdminViews(store=store, catalog=catalog, gate=gate, discovery=discovery)
        self._editing = BundleEditing(store=store, catalog=catalog, gate=gate, clock=clock)
        self._saving = BundleSaving(
            store=store, catalog=catalog, gate=gate, audit=audit, clock=clock
        )
        self._deletion = BundleDeletion(
            store=store, catalog=catalog, gate=gate, audit=audit, clock=clock
        )
        self._flows = FlowAdmin(store=store, catalog=catalog, gate=gate, audit=audit, clock=clock)

    # -- what admins see ------------------------------------------------------------------------

    def home_for(self, *, viewer: UserId) -> AdminHome | None:
        return self._views.home_for(viewer=viewer)

    def bundle_list(self, *, by: UserId, page: int) -> AdminList | NotAllowed:
        return self._views.bundle_list(by=by, page=page)

    def flow_list(self, *, by: UserId, page: int) -> AdminList | NotAllowed:
        return self._views.flow_list(by=by, page=page)

    # -- the bundle editor ---------------------------------------------------------------------

    def start_editing(self, *, by: UserId, bundle: str | None) -> BundleEditor | NotAllowed:
        return self._editing.start_editing(by=by, bundle=bundle)

    def pick_integration(
        self, *, draft_key: str, by: UserId, integration: str
    ) -> BundleEditor | NotAllowed:
        return self._editing.pick_integration(draft_key=draft_key, by=by, integration=integration)

    def add_object(
        self, *, draft_key: str, by: UserId, resource: str | None, permission: str | None
    ) -> BundleEditor | NotAllowed:
        return self._editing.add_object(
            draft_key=draft_key, by=by, resource=resource, permission=permission
        )

    def remove_objects(
        self, *, draft_key: str, by: UserId, integration: str | None
    ) -> BundleEditor | NotAllowed:
        return self._editing.remove_objects(draft_key=draft_key, by=by, integration=integration)

    def remove_object(self, *, draft_key: str, by: UserId, item: int) -> BundleEditor | NotAllowed:
        return self._editing.remove_object(draft_key=draft_key, by=by, item=item)

    def suggest_removals(
        self, *, draft_key: str, by: UserId, query: str
    ) -> list[tuple[int, AccessObject]]:
        return self._editing.suggest_removals(draft_key=draft_key, by=by, query=query)

    def suggest_resources(
        self, *, draft_key: str, by: UserId, query: str
    ) -> list[tuple[str, str | None]]:
        return self._editing.suggest_resources(draft_key=draft_key, by=by, query=query)

    # -- review, save and delete ---------------------------------------------------------------

    def review(
        self, *, draft_key: str, by: UserId, name: str | None, description: str | None
    ) -> BundleReview | Invalid | NotAllowed:
        return self._saving.review(draft_key=draft_key, by=by, name=name, description=description)

    def save(self, *, draft_key: str, by: UserId) -> Changed | Rejected | NotAllowed:
        return self._saving.save(draft_key=draft_key, by=by)

    def delete_plan(self, *, by: UserId, bundle: str) -> DeletePlan | NotAllowed:
        return self._deletion.delete_plan(by=by, bundle=bundle)

    def delete_bundle(self, *, by: UserId, bundle: str) -> Changed | Rejected | NotAllowed:
        return self._deletion.delete_bundle(by=by, bundle=bundle)

    # -- flows -------------------------------------------------------------------------------

    def flow_editor(self, *, by: UserId, flow: str) -> FlowEditor | NotAllowed:
        return self._flows.flow_editor(by=by, flow=flow)

    def suggest_bundles(self, *, by: UserId, flow: str, query: str) -> list[str]:
        return self._flows.suggest_bundles(by=by, flow=flow, query=query)

    def set_flow_active(
        self, *, by: UserId, flow: str, active: bool
    ) -> FlowChanged | Rejected | NotAllowed:
        return self._flows.set_flow_active(by=by, flow=flow, active=active)

    def add_bundle_to_flow(
        self, *, by: UserId, flow: str, bundle: str
    ) -> FlowChanged | Rejected | NotAllowed:
        return self._flows.add_bundle_to_flow(by=by, flow=flow, bundle=bundle)

    def remove_bundle_from_flow(
        self, *, by: UserId, flow: str, bundle: str
    ) -> FlowChanged | Rejected | NotAllowed:
        return self._flows.remove_bundle_from_flow(by=by, flow=flow, bundle=bundle)
