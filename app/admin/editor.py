"""The bundle editor: a server-side draft of the bundle being edited.

The editor keeps the bundle in a request-modal draft of mode ``BUNDLE_EDIT`` (``private_metadata``
carries only its key). Its fields are read as follows:

- ``bundle``: the bundle's name (for a new bundle: set when the admin asks for the review);
- ``bundle_version``: the version it had when editing started; ``None`` for a new bundle;
- ``justification``: the description, as typed;
- ``integration``: the integration objects are being added from;
- the draft's items: the bundle's objects *as written*, patterns unexpanded (``sales.*`` stays
  one item, so a pattern keeps matching tables discovered later).
"""

from __future__ import annotations

from fnmatch import fnmatchcase
from typing import Final

from app.admin.contents import spec_objects
from app.admin.gate import AdminGate
from app.admin.outcomes import SUGGESTIONS
from app.core.catalog import LEAF_KINDS, CatalogService
from app.core.outcomes import NotAllowed
from blocks.admin import (
    AS_TYPED,
    CHOOSE_INTEGRATION,
    MAX_RESOURCE,
    NO_LONGER_IN_BUNDLE,
    PICK_RESOURCE,
    BundleEditor,
    already_in_bundle,
    bundle_gone,
    choose_offered_permission,
    no_integration,
    pattern_matches,
    pattern_suggestion,
    removed_from_bundle,
    resource_too_long,
)
from blocks.text import escape
from domain.catalog import Bundle
from domain.clock import Clock
from domain.drafts import Draft, Mode
from domain.eligibility import is_pattern
from domain.ids import UserId
from domain.objects import AccessObject
from store.repositories.drafts import DraftChanges
from store.unit_of_work import Store, UnitOfWork

RECENT: Final = 5


class BundleEditing:
    def __init__(
        self, *, store: Store, catalog: CatalogService, gate: AdminGate, clock: Clock
    ) -> None:
        self._store = store
        self._catalog = catalog
        self._gate = gate
        self._clock = clock

    def start_editing(self, *, by: UserId, bundle: str | None) -> BundleEditor | NotAllowed:
        """A fresh editor for ``bundle``, or for a new bundle when ``None``."""
        if not self._gate.allows(by):
            return self._gate.refuse(by, what=f"edit bundle {bundle or '(new)'}")
        now = self._clock.now()
        with self._store.write() as uow:
            current = uow.catalog.bundle(bundle) if bundle is not None else None
            if bundle is not None and current is None:
                return NotAllowed(bundle_gone(bundle))
            draft = uow.drafts.create(user_id=by, mode=Mode.BUNDLE_EDIT, at=now)
            if current is not None:
                self._copy_written(uow, draft.key, current)
                uow.drafts.update(
                    draft.key,
                    at=now,
                    changes=DraftChanges(
                        bundle=current.name,
                        bundle_version=current.version,
                        justification=current.description,
                    ),
                )
            draft = uow.drafts.get(draft.key) or draft
        return self._editor(draft)

    @staticmethod
    def _copy_written(uow: UnitOfWork, key: str, bundle: Bundle) -> None:
        """Put the bundle's objects as written into the draft, in as few statements as can be.

        Where an integration's entries are all plain names, they are exactly its expanded
        objects, so one INSERT ... SELECT copies them (thousands of rows in milliseconds);
        entries with patterns are added as written.
        """
        written = spec_objects(uow, bundle.name)
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

    def pick_integration(
        self, *, draft_key: str, by: UserId, integration: str
    ) -> BundleEditor | NotAllowed:
        draft = self._gate.editing(draft_key, by, what="edit a bundle")
        if isinstance(draft, NotAllowed):
            return draft
        if integration not in self._catalog.integrations:
            return self._editor(draft, notice=no_integration(integration[:64]))
        with self._store.write() as uow:
            uow.drafts.update(
                draft.key, at=self._clock.now(), changes=DraftChanges(integration=integration)
            )
            draft = uow.drafts.get(draft.key) or draft
        return self._editor(draft)

    def add_object(
        self, *, draft_key: str, by: UserId, resource: str | None, permission: str | None
    ) -> BundleEditor | NotAllowed:
        draft = self._gate.editing(draft_key, by, what="edit a bundle")
        if isinstance(draft, NotAllowed):
            return draft
        integration = draft.integration
        resource = (resource or "").strip()
        offered = self._catalog.permissions_of(integration) if integration else ()
        notice: str | None = None
        if integration is None or integration not in self._catalog.integrations:
            notice = CHOOSE_INTEGRATION
        elif not resource:
            notice = PICK_RESOURCE
        elif len(resource) > MAX_RESOURCE:
            notice = resource_too_long(MAX_RESOURCE)
        elif not permission or (offered and permission not in offered):
            notice = choose_offered_permission(integration)
        else:
            obj = AccessObject(integration, resource, permission)
            with self._store.write() as uow:
                if uow.drafts.contains(draft.key, obj):
                    notice = already_in_bundle(str(obj))
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
        return pattern_matches(pattern=obj.resource, matches=matches, integration=obj.integration)

    def remove_objects(
        self, *, draft_key: str, by: UserId, integration: str | None
    ) -> BundleEditor | NotAllowed:
        """Remove every object of one integration (or all of them) from the bundle."""
        draft = self._gate.editing(draft_key, by, what="edit a bundle")
        if isinstance(draft, NotAllowed):
            return draft
        with self._store.write() as uow:
            uow.drafts.remove(draft.key, integration=integration)
            uow.drafts.update(draft.key, at=self._clock.now())
        return self._editor(draft)

    def remove_object(self, *, draft_key: str, by: UserId, item: int) -> BundleEditor | NotAllowed:
        """Remove one object, named by its draft item ID (as :meth:`suggest_removals` offers)."""
        draft = self._gate.editing(draft_key, by, what="edit a bundle")
        if isinstance(draft, NotAllowed):
            return draft
        with self._store.write() as uow:
            removed = uow.drafts.remove_item(draft.key, item=item)
            uow.drafts.update(draft.key, at=self._clock.now())
        said = removed_from_bundle(escape(str(removed))) if removed else NO_LONGER_IN_BUNDLE
        return self._editor(draft, notice=said)

    def suggest_removals(
        self, *, draft_key: str, by: UserId, query: str
    ) -> list[tuple[int, AccessObject]]:
        """The bundle's objects matching every word typed, latest first."""
        draft = self._gate.editing(draft_key, by, what="search a bundle")
        if isinstance(draft, NotAllowed):
            return []
        with self._store.read() as uow:
            return uow.drafts.find(draft.key, words=query.split(), limit=SUGGESTIONS)

    def suggest_resources(
        self, *, draft_key: str, by: UserId, query: str
    ) -> list[tuple[str, str | None]]:
        """What the admin typed first (a name or a pattern), then discovered resources."""
        draft = self._gate.editing(draft_key, by, what="search resources")
        if isinstance(draft, NotAllowed) or draft.integration is None:
            return []
        typed = query.strip()[:MAX_RESOURCE]
        if not typed:
            return []
        with self._store.read() as uow:
            if is_pattern(typed):
                names = [n for n, _ in uow.catalog.resources(draft.integration)]
                matches = [n for n in names if fnmatchcase(n, typed)]
                head = (typed, pattern_suggestion(len(matches)))
                return [head, *((m, None) for m in matches[: SUGGESTIONS - 1])]
            found = uow.catalog.search_resources(
                integration=draft.integration, query=typed, limit=SUGGESTIONS
            )
        options: list[tuple[str, str | None]] = [(n, None) for n in found]
        if typed not in found:
            options.insert(0, (typed, AS_TYPED))
        return options[:SUGGESTIONS]
