"""Review and save a bundle from its editor draft; the save and its audit are one transaction.

Every flow that holds the bundle offers the new content at once. Pending requests made on the
old content are checked again when someone decides them (the decision service compares bundle
versions); active grants keep their terms.
"""

from __future__ import annotations

from pydantic import TypeAdapter, ValidationError

from app.admin.audit import (
    AUDIT_LIST_LIMIT,
    AdminAudit,
    audit_objects,
)
from app.admin.contents import diff, impact_in, impact_of, written
from app.admin.gate import AdminGate
from app.admin.outcomes import EXPIRED, Changed, Invalid, Rejected
from app.core.catalog import CatalogService
from app.core.outcomes import NotAllowed
from blocks.admin import (
    ADD_AN_OBJECT,
    BAD_NAME,
    EMPTY_NOT_SAVED,
    MAX_DESCRIPTION,
    MAX_SAMPLES,
    BundleReview,
    bundle_saved,
    changed_meanwhile_not_saved,
    created_meanwhile_not_saved,
    deleted_meanwhile,
    deleted_meanwhile_not_saved,
    name_taken,
)
from domain.catalog import Bundle, Source
from domain.clock import Clock
from domain.ids import UserId
from domain.policy import BundleSpec, Name, ObjectSpec
from store.repositories.drafts import DraftChanges
from store.unit_of_work import Store, UnitOfWork

_NAME = TypeAdapter(Name)


class BundleSaving:
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

    def review(
        self, *, draft_key: str, by: UserId, name: str | None, description: str | None
    ) -> BundleReview | Invalid | NotAllowed:
        """Check the form and show what saving would change, before anything is saved."""
        draft = self._gate.editing(draft_key, by, what="review a bundle")
        if isinstance(draft, NotAllowed):
            return draft
        new = draft.bundle_version is None
        target = (name or "").strip() if new else (draft.bundle or "")
        description = (description or "").strip()[:MAX_DESCRIPTION]
        errors: dict[str, str] = {}
        with self._store.read() as uow:
            after = uow.drafts.items(draft.key)
            current = uow.catalog.bundle(target) if target else None
            before = written(uow, current) if current is not None and not new else []
        if new:
            try:
                _NAME.validate_python(target)
            except ValidationError:
                errors["name"] = BAD_NAME
            if current is not None:
                errors["name"] = name_taken(target)
        elif current is None:
            errors["objects"] = deleted_meanwhile(target)
        if not after:
            errors["objects"] = ADD_AN_OBJECT
        if errors:
            return Invalid(errors)
        with self._store.write() as uow:
            uow.drafts.update(
                draft.key,
                at=self._clock.now(),
                changes=DraftChanges(bundle=target, justification=description),
            )
        added, removed = diff(before, after)
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
            impact=impact_of(store=self._store, catalog=self._catalog, bundle=target),
        )

    def save(self, *, draft_key: str, by: UserId) -> Changed | Rejected | NotAllowed:
        """Save the reviewed bundle, with its audit event and audit-channel line."""
        draft = self._gate.editing(draft_key, by, what="save a bundle")
        if isinstance(draft, NotAllowed):
            return draft
        name = draft.bundle
        if name is None:
            return Rejected(EXPIRED)
        new = draft.bundle_version is None
        with self._store.read() as uow:
            after = uow.drafts.items(draft.key)
            current = uow.catalog.bundle(name)
            before = written(uow, current) if current is not None else []
        if new and current is not None:
            return Rejected(created_meanwhile_not_saved(name))
        if not new and current is None:
            return Rejected(deleted_meanwhile_not_saved(name))
        if current is not None and current.version != draft.bundle_version:
            return Rejected(changed_meanwhile_not_saved(name))
        if not after:
            return Rejected(EMPTY_NOT_SAVED)
        description = draft.justification or ""
        spec = BundleSpec(
            name=name,
            description=description,
            objects=[
                ObjectSpec(integration=o.integration, resource=o.resource, permission=o.permission)
                for o in after
            ],
        )
        added, removed = diff(before, after)
        summary = ""

        def audit(uow: UnitOfWork, saved: Bundle) -> None:
            # The catalog owns pattern expansion, so the save is its transaction: the audit
            # event and the audit-channel line go in with it, or neither does.
            nonlocal summary
            impact = impact_in(uow, [r.flow for r in uow.catalog.flows()], name)
            summary = bundle_saved(
                name=name,
                new=new,
                was_file=current is not None and current.source is Source.FILE,
                written=len(after),
                objects=saved.object_count,
                added=len(added),
                removed=len(removed),
                impact=impact,
            )
            self._audit.record(
                uow,
                by=by,
                what="bundle.create" if new else "bundle.update",
                target=name,
                before=None
                if current is None
                else {"description": current.description, **audit_objects(before)},
                after={"description": description, **audit_objects(after)},
                summary=summary,
                added=[str(o) for o in added[:AUDIT_LIST_LIMIT]],
                added_count=len(added),
                removed=[str(o) for o in removed[:AUDIT_LIST_LIMIT]],
                removed_count=len(removed),
                flows=list(impact.flows),
                version=saved.version,
            )

        self._catalog.save_bundle(spec, by=by, also=audit)
        return Changed(summary=summary)
