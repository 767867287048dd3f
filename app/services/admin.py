"""Admin use cases: bundles and access flows managed from Slack, every change audited.

Only admins may do any of it. Anything else is refused and audited: a hand-made payload from a
non-admin reaches these methods like any click, so the check is here, not in the views.

The bundle editor keeps the bundle being edited server-side, in a request-modal draft of mode
``BUNDLE_EDIT`` (``private_metadata`` carries only its key). Its fields are read as follows:

- ``bundle``: the bundle's name (for a new bundle: set when the admin asks for the review);
- ``bundle_version``: the version it had when editing started; ``None`` for a new bundle;
- ``justification``: the description, as typed;
- ``integration``: the integration objects are being added from;
- the draft's items: the bundle's objects *as written*, patterns unexpanded (``sales.*`` stays
  one item, so a pattern keeps matching tables discovered later).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any, Final

from pydantic import TypeAdapter, ValidationError

from app.services.admins import Admins
from app.services.catalog import LEAF_KINDS, CatalogService
from app.services.discovery import DiscoveryService
from app.services.notifier import Notifier
from app.services.outcomes import NotAllowed, refuse
from blocks.admin import (
    HOME_ROWS,
    LIST_ROWS,
    MAX_DESCRIPTION,
    MAX_RESOURCE,
    MAX_SAMPLES,
    AdminHome,
    AdminList,
    BundleEditor,
    BundleLine,
    BundleReview,
    DeletePlan,
    FlowEditor,
    FlowLine,
    Impact,
    IntegrationLine,
)
from domain.audit import AuditEvent, AuditKind
from domain.catalog import Bundle, FlowRecord, Source
from domain.clock import Clock
from domain.drafts import Draft, Mode
from domain.durations import format_duration
from domain.eligibility import is_pattern
from domain.ids import UserId
from domain.lifecycle import Status
from domain.objects import AccessObject
from domain.policy import AccessFlow, BundleSpec, Name, ObjectSpec
from store.unit_of_work import Store, UnitOfWork

NOT_ADMIN: Final = "Only admins can manage bundles and access flows."
EXPIRED: Final = "This editor has expired; open the bundle again from the Home tab."
SUGGESTIONS: Final = 100
RECENT: Final = 5
AUDIT_LIST_LIMIT: Final = 200
"""Before/after object lists are audited in full up to this size; beyond, counts and a diff."""
ACTIVE_STATUSES: Final = (Status.APPROVED, Status.GRANTING, Status.ACTIVE)

_names = TypeAdapter(Name)


@dataclass(frozen=True, slots=True)
class Invalid:
    """The editor's form is not right yet: field (``name``, ``objects``) → what to fix."""

    errors: dict[str, str]


@dataclass(frozen=True, slots=True)
class Rejected:
    """Not done, for a reason the admin can act on (changed meanwhile, nothing to offer...)."""

    reason: str


@dataclass(frozen=True, slots=True)
class Changed:
    """Done: ``summary`` is what the audit channel was told (without who did it)."""

    summary: str


@dataclass(frozen=True, slots=True)
class FlowChanged:
    """The flow as it is now; ``changed`` is false when there was nothing to do (``summary``
    then says why)."""

    editor: FlowEditor
    summary: str
    changed: bool


FlowChange = Callable[[AccessFlow], "tuple[AccessFlow, str] | str"]
"""A flow → the changed flow and what to tell the audit channel, or why nothing changes."""


def _offers_something(flow: AccessFlow) -> bool:
    return bool(flow.bundles or flow.objects)


def _durations(flow: AccessFlow) -> str:
    offered = flow.duration.offered()
    if len(offered) <= 1:
        return f"{format_duration(flow.duration.max)} max"
    menu = ", ".join(format_duration(d) for d in offered)
    return f"{menu} (default {format_duration(flow.duration.default)})"


def flow_line(record: FlowRecord) -> FlowLine:
    flow = record.flow
    automatic = flow.approvers == "automatic"
    approvers: tuple[str, ...] = ()
    manager = False
    if flow.approvers != "automatic":
        approvers = (*flow.approvers.users, *flow.approvers.groups)
        manager = flow.approvers.manager
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
    )


def _audit_objects(objects: Sequence[AccessObject]) -> dict[str, Any]:
    counts: dict[str, int] = {}
    for obj in objects:
        counts[obj.integration] = counts.get(obj.integration, 0) + 1
    listed = [str(o) for o in objects] if len(objects) <= AUDIT_LIST_LIMIT else None
    return {"count": len(objects), "per_integration": counts, "objects": listed}


def _names_text(names: Iterable[str]) -> str:
    return ", ".join(f"*{n}*" for n in names) or "none"


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
        self._store = store
        self._catalog = catalog
        self._admins = admins
        self._discovery = discovery
        self._notifier = notifier
        self._clock = clock

    # -- who may ------------------------------------------------------------------------------

    def _refuse(self, by: UserId, what: str) -> NotAllowed:
        return refuse(
            self._store,
            at=self._clock.now(),
            kind=AuditKind.ADMIN_REFUSED,
            actor=by,
            request_id=None,
            reason=NOT_ADMIN,
            detail=f"not an admin: {what}"[:200],
        )

    def _record(
        self,
        uow: UnitOfWork,
        *,
        by: UserId,
        what: str,
        target: str,
        before: Any,
        after: Any,
        summary: str,
        **extra: Any,
    ) -> None:
        """One audit event and one audit-channel line, in the change's own transaction."""
        now = self._clock.now()
        uow.audit.append(
            AuditEvent(
                kind=AuditKind.ADMIN_CHANGE,
                at=now,
                actor=by,
                data={
                    "by": by,
                    "what": what,
                    "target": target,
                    "before": before,
                    "after": after,
                    **extra,
                },
            )
        )
        self._notifier.audit_notice(uow, text=f"🛠️ <@{by}> {summary}", at=now)

    # -- what admins see ------------------------------------------------------------------------

    def home_for(self, *, viewer: UserId) -> AdminHome | None:
        """The Home tab's Admin section; ``None`` for anyone else (opening Home is not an
        admin action, so nothing is audited)."""
        if not self._admins.is_admin(viewer):
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
        if not self._admins.is_admin(by):
            return self._refuse(by, "list bundles")
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
        if not self._admins.is_admin(by):
            return self._refuse(by, "list flows")
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

    # -- the bundle editor ---------------------------------------------------------------------

    def start_editing(self, *, by: UserId, bundle: str | None) -> BundleEditor | NotAllowed:
        """A fresh editor for ``bundle``, or for a new bundle when ``None``."""
        if not self._admins.is_admin(by):
            return self._refuse(by, f"edit bundle {bundle or '(new)'}")
        now = self._clock.now()
        with self._store.write() as uow:
            current = uow.catalog.bundle(bundle) if bundle is not None else None
            if bundle is not None and current is None:
                return NotAllowed(f"The bundle {bundle} no longer exists.")
            draft = uow.drafts.create(user_id=by, mode=Mode.BUNDLE_EDIT, at=now)
            if current is not None:
                self._copy_written(uow, draft.key, current)
                uow.drafts.update(
                    draft.key,
                    at=now,
                    bundle=current.name,
                    bundle_version=current.version,
                    justification=current.description,
                )
            draft = uow.drafts.get(draft.key) or draft
        return self._editor(draft)

    def _copy_written(self, uow: UnitOfWork, key: str, bundle: Bundle) -> None:
        """Put the bundle's objects as written into the draft, in as few statements as can be.

        Where an integration's entries are all plain names, they are exactly its expanded
        objects, so one INSERT ... SELECT copies them (thousands of rows in milliseconds);
        entries with patterns are added as written.
        """
        written = self._spec_objects(uow, bundle.name)
        if written is None:
            uow.drafts.add_from_bundle(key, bundle_key=bundle.key, integration=None)
            return
        by_integration: dict[str, list[AccessObject]] = {}
        for obj in written:
            by_integration.setdefault(obj.integration, []).append(obj)
        for integration, objects in by_integration.items():
            if any(is_pattern(o.resource) for o in objects):
                uow.drafts.add(key, objects)
            else:
                uow.drafts.add_from_bundle(key, bundle_key=bundle.key, integration=integration)

    @staticmethod
    def _spec_objects(uow: UnitOfWork, name: str) -> list[AccessObject] | None:
        """The bundle's objects as written, or ``None`` when it has no readable spec (then its
        expanded objects are what there is to edit)."""
        data = uow.catalog.bundle_spec(name)
        try:
            spec = BundleSpec.model_validate(data)
        except ValidationError:
            return None
        return [AccessObject(o.integration, o.resource, o.permission) for o in spec.objects]

    def _written(self, uow: UnitOfWork, bundle: Bundle) -> list[AccessObject]:
        return self._spec_objects(uow, bundle.name) or uow.catalog.bundle_objects(bundle.key)

    def _draft(self, key: str, by: UserId) -> Draft | None:
        with self._store.read() as uow:
            draft = uow.drafts.get(key)
        if draft is None or draft.user_id != by or draft.mode is not Mode.BUNDLE_EDIT:
            return None
        return draft

    def _editor(self, draft: Draft, notice: str | None = None) -> BundleEditor:
        existing = draft.bundle_version is not None and draft.bundle is not None
        with self._store.read() as uow:
            total = uow.drafts.count(draft.key)
            per_integration = uow.drafts.counts(draft.key)
            recent = tuple(uow.drafts.recent(draft.key, limit=RECENT))
        found = self._catalog.bundle(draft.bundle) if existing and draft.bundle else None
        flows = (
            tuple(r.flow.name for r in self._catalog.flows() if draft.bundle in r.flow.bundles)
            if existing
            else ()
        )
        integration = draft.integration if draft.integration in self._catalog.integrations else None
        return BundleEditor(
            draft_key=draft.key,
            name=draft.bundle if existing else None,
            description=draft.justification or "",
            source=found[0].source if found else None,
            flows=flows,
            integrations=tuple(sorted(self._catalog.integrations)),
            integration=integration,
            permissions=self._catalog.permissions_of(integration) if integration else (),
            total=total,
            per_integration=per_integration,
            recent=recent,
            notice=notice,
        )

    def _editing(self, key: str, by: UserId, what: str) -> Draft | NotAllowed:
        if not self._admins.is_admin(by):
            return self._refuse(by, what)
        draft = self._draft(key, by)
        return draft if draft is not None else NotAllowed(EXPIRED)

    def pick_integration(
        self, *, draft_key: str, by: UserId, integration: str
    ) -> BundleEditor | NotAllowed:
        draft = self._editing(draft_key, by, "edit a bundle")
        if isinstance(draft, NotAllowed):
            return draft
        if integration not in self._catalog.integrations:
            return self._editor(draft, notice=f"There is no integration {integration[:64]}.")
        with self._store.write() as uow:
            uow.drafts.update(draft.key, at=self._clock.now(), integration=integration)
            draft = uow.drafts.get(draft.key) or draft
        return self._editor(draft)

    def add_object(
        self, *, draft_key: str, by: UserId, resource: str | None, permission: str | None
    ) -> BundleEditor | NotAllowed:
        draft = self._editing(draft_key, by, "edit a bundle")
        if isinstance(draft, NotAllowed):
            return draft
        integration = draft.integration
        resource = (resource or "").strip()
        offered = self._catalog.permissions_of(integration) if integration else ()
        notice: str | None = None
        if integration is None or integration not in self._catalog.integrations:
            notice = "Choose an integration first."
        elif not resource:
            notice = "Pick a resource, or type a name or a pattern such as sales.*"
        elif len(resource) > MAX_RESOURCE:
            notice = f"A resource is at most {MAX_RESOURCE} characters."
        elif not permission or (offered and permission not in offered):
            notice = f"Choose one of the permissions {integration} offers."
        else:
            obj = AccessObject(integration, resource, permission)
            with self._store.write() as uow:
                if uow.drafts.contains(draft.key, obj):
                    notice = f"{obj} is already in the bundle."
                else:
                    uow.drafts.add(draft.key, [obj])
                    notice = self._pattern_note(uow, obj)
        return self._editor(draft, notice=notice)

    def _pattern_note(self, uow: UnitOfWork, obj: AccessObject) -> str | None:
        spec = self._catalog.integrations.get(obj.integration)
        if not is_pattern(obj.resource) or spec is None or spec.type not in LEAF_KINDS:
            return None
        names = [n for n, _ in uow.catalog.resources(obj.integration)]
        if not names:
            return None
        matches = sum(1 for n in names if fnmatchcase(n, obj.resource))
        return (
            f"{obj.resource} matches {matches:,} discovered resources of {obj.integration} "
            "now, and will match new ones as they are discovered."
        )

    def remove_objects(
        self, *, draft_key: str, by: UserId, integration: str | None
    ) -> BundleEditor | NotAllowed:
        """Remove every object of one integration (or all of them) from the bundle."""
        draft = self._editing(draft_key, by, "edit a bundle")
        if isinstance(draft, NotAllowed):
            return draft
        with self._store.write() as uow:
            uow.drafts.remove(draft.key, integration=integration)
            uow.drafts.update(draft.key, at=self._clock.now())
        return self._editor(draft)

    def suggest_resources(
        self, *, draft_key: str, by: UserId, query: str
    ) -> list[tuple[str, str | None]]:
        """What the admin typed first (a name or a pattern), then discovered resources."""
        draft = self._editing(draft_key, by, "search resources")
        if isinstance(draft, NotAllowed) or draft.integration is None:
            return []
        typed = query.strip()[:MAX_RESOURCE]
        if not typed:
            return []
        with self._store.read() as uow:
            if is_pattern(typed):
                names = [n for n, _ in uow.catalog.resources(draft.integration)]
                matches = [n for n in names if fnmatchcase(n, typed)]
                head = (typed, f"pattern · matches {len(matches):,} discovered now")
                return [head, *((m, None) for m in matches[: SUGGESTIONS - 1])]
            found = uow.catalog.search_resources(
                integration=draft.integration, query=typed, limit=SUGGESTIONS
            )
        options: list[tuple[str, str | None]] = [(n, None) for n in found]
        if typed not in found:
            options.insert(0, (typed, "as typed"))
        return options[:SUGGESTIONS]

    # -- review and save -----------------------------------------------------------------------

    def review(
        self, *, draft_key: str, by: UserId, name: str | None, description: str | None
    ) -> BundleReview | Invalid | NotAllowed:
        """Check the form and show what saving would change, before anything is saved."""
        draft = self._editing(draft_key, by, "review a bundle")
        if isinstance(draft, NotAllowed):
            return draft
        new = draft.bundle_version is None
        target = (name or "").strip() if new else (draft.bundle or "")
        description = (description or "").strip()[:MAX_DESCRIPTION]
        errors: dict[str, str] = {}
        with self._store.read() as uow:
            after = uow.drafts.items(draft.key)
            current = uow.catalog.bundle(target) if target else None
            before = self._written(uow, current) if current is not None and not new else []
        if new:
            try:
                _names.validate_python(target)
            except ValidationError:
                errors["name"] = (
                    "Use 1 to 63 letters, digits, dots, dashes or underscores, starting with "
                    "a letter or digit."
                )
            if current is not None:
                errors["name"] = f"A bundle named {target} exists already."
        elif current is None:
            errors["objects"] = f"{target} was deleted meanwhile; nothing can be saved."
        if not after:
            errors["objects"] = "Add at least one object."
        if errors:
            return Invalid(errors)
        with self._store.write() as uow:
            uow.drafts.update(
                draft.key, at=self._clock.now(), bundle=target, justification=description
            )
        added, removed = _diff(before, after)
        counts: dict[str, int] = {}
        for obj in after:
            counts[obj.integration] = counts.get(obj.integration, 0) + 1
        return BundleReview(
            draft_key=draft.key,
            name=target,
            new=new,
            source=None if new or current is None else current.source,
            before=len(before),
            after=len(after),
            per_integration=counts,
            added=tuple(added[:MAX_SAMPLES]),
            added_count=len(added),
            removed=tuple(removed[:MAX_SAMPLES]),
            removed_count=len(removed),
            description_changed=not new
            and current is not None
            and current.description != description,
            impact=self._impact(target),
        )

    def _impact(self, bundle: str) -> Impact:
        holding = [r.flow for r in self._catalog.flows() if bundle in r.flow.bundles]
        with self._store.read() as uow:
            pending = uow.requests.page(
                number=0, size=1, statuses=[Status.PENDING], bundle=bundle
            ).total
            active = uow.requests.page(
                number=0, size=1, statuses=list(ACTIVE_STATUSES), bundle=bundle
            ).total
        return Impact(
            flows=tuple(f.name for f in holding),
            inactive_flows=tuple(f.name for f in holding if not f.active),
            pending=pending,
            active=active,
        )

    def save(self, *, draft_key: str, by: UserId) -> Changed | Rejected | NotAllowed:
        """Save the reviewed bundle: every flow that holds it offers the new content at once.

        Pending requests made on the old content are checked again when someone decides them
        (the decision service compares bundle versions); active grants keep their terms.
        """
        draft = self._editing(draft_key, by, "save a bundle")
        if isinstance(draft, NotAllowed):
            return draft
        name = draft.bundle
        if name is None:
            return Rejected(EXPIRED)
        new = draft.bundle_version is None
        with self._store.read() as uow:
            after = uow.drafts.items(draft.key)
            current = uow.catalog.bundle(name)
            before = self._written(uow, current) if current is not None else []
        if new and current is not None:
            return Rejected(f"A bundle named {name} was created meanwhile; nothing was saved.")
        if not new and current is None:
            return Rejected(f"{name} was deleted meanwhile; nothing was saved.")
        if current is not None and current.version != draft.bundle_version:
            return Rejected(
                f"{name} was changed by someone else since you opened it; nothing was saved. "
                "Open it again to see their version."
            )
        if not after:
            return Rejected("A bundle needs at least one object; nothing was saved.")
        description = draft.justification or ""
        spec = BundleSpec(
            name=name,
            description=description,
            objects=[
                ObjectSpec(integration=o.integration, resource=o.resource, permission=o.permission)
                for o in after
            ],
        )
        # The catalog owns pattern expansion, so the save is its transaction; the audit event
        # follows at once in the next one.
        saved = self._catalog.save_bundle(spec, by=by)
        impact = self._impact(name)
        added, removed = _diff(before, after)
        summary = self._save_summary(
            name=name,
            new=new,
            was_file=current is not None and current.source is Source.FILE,
            written=len(after),
            objects=saved.object_count,
            added=len(added),
            removed=len(removed),
            impact=impact,
        )
        with self._store.write() as uow:
            self._record(
                uow,
                by=by,
                what="bundle.create" if new else "bundle.update",
                target=name,
                before=None
                if current is None
                else {"description": current.description, **_audit_objects(before)},
                after={"description": description, **_audit_objects(after)},
                summary=summary,
                added=[str(o) for o in added[:AUDIT_LIST_LIMIT]],
                added_count=len(added),
                removed=[str(o) for o in removed[:AUDIT_LIST_LIMIT]],
                removed_count=len(removed),
                flows=list(impact.flows),
                version=saved.version,
            )
        return Changed(summary=summary)

    @staticmethod
    def _save_summary(
        *,
        name: str,
        new: bool,
        was_file: bool,
        written: int,
        objects: int,
        added: int,
        removed: int,
        impact: Impact,
    ) -> str:
        verb = "created" if new else "changed"
        origin = " (defined in the policy file; Slack's version is now kept)" if was_file else ""
        text = f"{verb} bundle *{name}*{origin}: {written:,} objects"
        if objects != written:
            text += f" as written, {objects:,} once patterns are expanded"
        if not new:
            text += f" (+{added:,} −{removed:,})"
        if impact.flows:
            text += f". Flows offering it now: {_names_text(impact.flows)}"
        else:
            text += ". No flow offers it yet"
        if impact.pending:
            text += (
                f". {impact.pending:,} pending request(s) made on the old content are checked "
                "again at decision time"
            )
        return text + "."

    # -- delete ------------------------------------------------------------------------------

    def delete_plan(self, *, by: UserId, bundle: str) -> DeletePlan | NotAllowed:
        """What deleting ``bundle`` would do, for the confirmation."""
        if not self._admins.is_admin(by):
            return self._refuse(by, f"delete bundle {bundle}")
        with self._store.read() as uow:
            current = uow.catalog.bundle(bundle)
        if current is None:
            return NotAllowed(f"The bundle {bundle} no longer exists.")
        holding = [r.flow for r in self._catalog.flows() if bundle in r.flow.bundles]
        return DeletePlan(
            name=current.name,
            source=current.source,
            objects=current.object_count,
            impact=self._impact(bundle),
            deactivated=tuple(f.name for f in holding if _left_empty(f, bundle) and f.active),
        )

    def delete_bundle(self, *, by: UserId, bundle: str) -> Changed | Rejected | NotAllowed:
        """Delete a bundle and take it out of every flow, in one transaction with its audit."""
        if not self._admins.is_admin(by):
            return self._refuse(by, f"delete bundle {bundle}")
        impact = self._impact(bundle)
        now = self._clock.now()
        with self._store.write() as uow:
            current = uow.catalog.bundle(bundle)
            if current is None:
                return Rejected(f"The bundle {bundle} no longer exists.")
            written = self._written(uow, current)
            changed: list[str] = []
            deactivated: list[str] = []
            for record in uow.catalog.flows():
                flow = record.flow
                if bundle not in flow.bundles:
                    continue
                empty = _left_empty(flow, bundle)
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
            summary = f"deleted bundle *{bundle}*"
            if current.source is Source.FILE:
                summary += " (defined in the policy file: it stays deleted until the file changes)"
            summary += f"; removed from {_names_text(changed)}" if changed else "; no flow held it"
            if deactivated:
                summary += (
                    f"; deactivated, as they offer nothing else now: {_names_text(deactivated)}"
                )
            if impact.pending:
                summary += (
                    f"; {impact.pending:,} pending request(s) of it can no longer be approved"
                )
            summary += "."
            self._record(
                uow,
                by=by,
                what="bundle.delete",
                target=bundle,
                before={"description": current.description, **_audit_objects(written)},
                after=None,
                summary=summary,
                flows=changed,
                deactivated=deactivated,
            )
        self._catalog.invalidate()  # written past the catalog service: reload at once
        return Changed(summary=summary)

    # -- flows -------------------------------------------------------------------------------

    def flow_editor(self, *, by: UserId, flow: str) -> FlowEditor | NotAllowed:
        if not self._admins.is_admin(by):
            return self._refuse(by, f"open flow {flow}")
        editor = self._flow_editor(flow)
        return editor or NotAllowed(f"The access flow {flow} no longer exists.")

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
        if not self._admins.is_admin(by):
            self._refuse(by, f"search bundles for flow {flow}")
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
        if not self._admins.is_admin(by):
            return self._refuse(by, f"{verb} flow {flow}")

        def change(current: AccessFlow) -> tuple[AccessFlow, str] | str:
            if current.active is active:
                return f"{flow} is already {'active' if active else 'inactive'}."
            if active and not _offers_something(current):
                return f"{flow} offers nothing; add a bundle to it first."
            return current.model_copy(update={"active": active}), f"{verb}d access flow *{flow}*."

        return self._change_flow(by=by, flow=flow, what=f"flow.{verb}", change=change)

    def add_bundle_to_flow(
        self, *, by: UserId, flow: str, bundle: str
    ) -> FlowChanged | Rejected | NotAllowed:
        if not self._admins.is_admin(by):
            return self._refuse(by, f"add bundle {bundle} to flow {flow}")
        with self._store.read() as uow:
            exists = uow.catalog.bundle_header(bundle) is not None

        def change(current: AccessFlow) -> tuple[AccessFlow, str] | str:
            if not exists:
                return f"There is no bundle {bundle}."
            if bundle in current.bundles:
                return f"{flow} offers {bundle} already."
            updated = current.model_copy(update={"bundles": [*current.bundles, bundle]})
            return updated, f"added bundle *{bundle}* to access flow *{flow}*."

        return self._change_flow(by=by, flow=flow, what="flow.add_bundle", change=change)

    def remove_bundle_from_flow(
        self, *, by: UserId, flow: str, bundle: str
    ) -> FlowChanged | Rejected | NotAllowed:
        if not self._admins.is_admin(by):
            return self._refuse(by, f"remove bundle {bundle} from flow {flow}")

        def change(current: AccessFlow) -> tuple[AccessFlow, str] | str:
            if bundle not in current.bundles:
                return f"{flow} does not offer {bundle}."
            empty = _left_empty(current, bundle)
            updated = current.model_copy(
                update={
                    "bundles": [b for b in current.bundles if b != bundle],
                    "active": current.active and not empty,
                }
            )
            text = f"removed bundle *{bundle}* from access flow *{flow}*"
            if empty and current.active:
                text += f"; *{flow}* offers nothing else now, so it was deactivated"
            return updated, text + "."

        return self._change_flow(by=by, flow=flow, what="flow.remove_bundle", change=change)

    def _change_flow(
        self, *, by: UserId, flow: str, what: str, change: FlowChange
    ) -> FlowChanged | Rejected:
        """Read, change and save a flow in one transaction with its audit event, so two admins
        clicking at once cannot undo each other's change unseen."""
        now = self._clock.now()
        with self._store.write() as uow:
            record = next((r for r in uow.catalog.flows() if r.flow.name == flow), None)
            if record is None:
                return Rejected(f"The access flow {flow} no longer exists.")
            outcome = change(record.flow)
            changed = not isinstance(outcome, str)
            if isinstance(outcome, str):
                said = outcome
            else:
                updated, said = outcome
                uow.catalog.save_flow(flow=updated, source=Source.SLACK, at=now, by=by)
                self._record(
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
            return Rejected(f"The access flow {flow} no longer exists.")
        return FlowChanged(editor=editor, summary=said, changed=changed)


def _left_empty(flow: AccessFlow, bundle: str) -> bool:
    """Whether ``flow`` offers nothing once ``bundle`` is taken out of it."""
    return not flow.objects and all(b == bundle for b in flow.bundles)


def _diff(
    before: Sequence[AccessObject], after: Sequence[AccessObject]
) -> tuple[list[AccessObject], list[AccessObject]]:
    old, new = set(before), set(after)
    return sorted(new - old), sorted(old - new)
