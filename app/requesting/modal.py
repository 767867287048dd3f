"""The request modal's use cases: every click changes the server-side draft, then the modal is
rendered again from it. Nothing the modal sends is trusted: the draft must belong to the clicker,
bundles and objects must be offered to them by an active flow, and the object limit holds at
every step (and again at submission)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from contextlib import suppress
from dataclasses import dataclass, fields, replace
from datetime import timedelta
from typing import Final, Protocol

from app.core.approvers import ApproverResolver
from app.core.catalog import CatalogService
from app.requesting.eligibility import EligibilityService, UserAccess
from blocks.favorites import (
    FAVORITE_NOT_FOUND,
    STARTS_SHOWN,
    FavoriteLine,
    RecentStart,
    Starts,
    favorite_bundle_gone,
    favorite_flow_replaced,
    favorite_objects_missing,
)
from blocks.limits import MENU_OPTIONS, SUGGESTIONS
from blocks.request_modal import (
    BundleChoice,
    BundleDetail,
    FlowChoice,
    RequestModal,
    Selection,
)
from blocks.request_notices import (
    BUNDLE_NOT_OFFERED,
    CHOOSE_INTEGRATION_AND_RESOURCE,
    CHOOSE_OFFERED_PERMISSION,
    FORM_EXPIRED,
    NO_SINGLE_FLOW,
    NOT_YOUR_REQUEST,
    OBJECT_NOT_IN_BUNDLE,
    PICK_BUNDLE_FIRST,
    RESOURCE_NOT_OFFERED,
    approvers_in_words,
    flow_not_available,
    integration_scope,
    left_the_bundle,
    no_flow_offers_objects_in,
    no_longer_offered,
    not_in_bundle,
    objects_no_longer_offered,
    select_all_refused,
    too_many,
    unavailable_line,
    unavailable_lines,
    unavailable_selected,
    unavailable_several,
    whole_bundle_scope,
)
from domain.catalog import Bundle, CatalogObject, IntegrationShare
from domain.clock import Clock
from domain.drafts import Draft, Mode
from domain.durations import DurationError, parse_duration
from domain.eligibility import is_pattern, offers_object
from domain.errors import DomainError
from domain.ids import RequestId, UserId
from domain.objects import MAX_OBJECTS_PER_REQUEST, AccessObject
from domain.people import Person
from domain.policy import AccessFlow
from store.repositories.drafts import DraftChanges
from store.repositories.favorites import Favorite
from store.repositories.unchanged import UNCHANGED
from store.unit_of_work import Store, UnitOfWork

SUGGESTION_LIMIT: Final = SUGGESTIONS
"""At most as many suggestions as one typeahead answer may hold."""
RECENT: Final = 5


@dataclass(frozen=True, slots=True)
class Template:
    """What a form is pre-filled with: an earlier request, or a favorite (a copy of one)."""

    bundle: str | None
    flow: str
    duration: timedelta
    justification: str
    objects: tuple[AccessObject, ...]
    request_id: RequestId | None = None
    """The earlier request it comes from (*Request again*, a recent request)."""
    favorite: str | None = None
    """The favorite's name, when it comes from one: its notices say what changed since."""


class DraftNotFound(DomainError):
    """The modal refers to a draft that does not exist or belongs to someone else."""


class Availability(Protocol):
    """Which integrations may be offered now (their admin login passed its check)."""

    def problem(self, integration: str) -> str | None:
        """Why ``integration`` is not offered now, in one short line; ``None`` if it is."""
        ...


@dataclass(frozen=True, slots=True)
class FormInput:
    """What the person typed or chose in inputs that do not dispatch actions."""

    justification: str | None = None
    duration: str | None = None
    permission: str | None = None
    break_glass: bool = False
    """The requester chose to break the glass (README, "Break-glass")."""
    grantee: str | None = None
    """The teammate picked in "For" (README, "On behalf of a teammate"); ``None``: oneself."""


def flow_choice(flow: AccessFlow, *, people: Mapping[str, Person] | None = None) -> FlowChoice:
    """``people``: the directory's person for each user the flow names as an approver."""
    return FlowChoice(
        name=flow.name,
        automatic=flow.automatic,
        approvers=approvers_in_words(flow, people=people),
        approvers_plain=approvers_in_words(flow, people=people, plain=True),
        max_duration=flow.duration.max,
        durations=tuple(flow.duration.offered()),
        default_duration=flow.duration.default,
        justification_required=flow.justification == "required",
        break_glass_max=flow.break_glass.max_duration if flow.break_glass else None,
        break_glass_daily=flow.break_glass.daily_limit if flow.break_glass else 0,
        justification_hint=flow.justification_hint,
        on_behalf=flow.on_behalf,
    )


def favorite_line_of(favorite: Favorite) -> FavoriteLine:
    return FavoriteLine(
        id=favorite.id,
        name=favorite.name,
        bundle=favorite.bundle,
        object_count=favorite.object_count,
        flow=favorite.flow,
        duration=favorite.duration,
    )


class RequestModalService:
    def __init__(
        self,
        *,
        store: Store,
        catalog: CatalogService,
        eligibility: EligibilityService,
        clock: Clock,
        limit: int = MAX_OBJECTS_PER_REQUEST,
        health: Availability | None = None,
        approvers: ApproverResolver | None = None,
    ) -> None:
        self._approvers = approvers
        """Finds the people a flow names, so the modal names them as the confirmation does."""
        self._store = store
        self._catalog = catalog
        self._eligibility = eligibility
        self._clock = clock
        self.limit = limit
        self._health = health
        self._unsized_for: tuple[object, tuple[BundleChoice, ...]] | None = None

    def _people(self, flow: AccessFlow) -> dict[str, Person]:
        if self._approvers is None or flow.approvers == "automatic":
            return {}
        users = dict.fromkeys(u for step in flow.steps for u in step.users)
        found = {entry: self._approvers.person_for(entry) for entry in users}
        return {entry: person for entry, person in found.items() if person is not None}

    def _unavailable(self, integrations: Iterable[str]) -> dict[str, str]:
        """Of ``integrations``, those not offered now, and why (in one short line)."""
        if self._health is None:
            return {}
        found = {name: self._health.problem(name) for name in sorted(set(integrations))}
        return {name: why for name, why in found.items() if why is not None}

    def _problem(self, integration: str) -> str | None:
        return self._health.problem(integration) if self._health is not None else None

    def unavailable(self, counts: Mapping[str, int]) -> str | None:
        """Why a selection (``counts``: its objects per integration) may not be submitted now,
        or ``None``: it holds objects of an integration whose admin login has not passed its
        check. (Every other rule is the submission's.)"""
        blocked = self._unavailable(name for name, count in counts.items() if count)
        if not blocked:
            return None
        if len(blocked) == 1:
            ((name, why),) = blocked.items()
            return unavailable_selected(integration=name, why=why, selected=counts[name])
        return unavailable_several(blocked)

    # -- opening and rendering ------------------------------------------------------------------

    def open(self, *, user: UserId, mode: Mode | None = None) -> RequestModal:
        access = self._eligibility.access_for(user)
        if mode is None:
            mode = (
                Mode.BUNDLE if access.bundles() and not access.object_flows() else Mode.INTEGRATIONS
            )
        with self._store.write() as uow:
            draft = uow.drafts.create(user_id=user, mode=mode, at=self._clock.now())
            return self._model(uow, draft, access, Selection(), [])

    def open_again(self, *, user: UserId, request_id: RequestId) -> RequestModal:
        """The modal pre-filled from an earlier request of ``user``: same bundle (or objects),
        flow, duration and justification. What is no longer offered is left out, and said."""
        return self._open_from(user, self._from_request(user, request_id))

    def open_favorite(self, *, user: UserId, favorite_id: int) -> RequestModal:
        """The modal pre-filled from one of ``user``'s favorites (Home's *Request* button)."""
        return self._open_from(user, self._from_favorite(user, favorite_id))

    def start_from_request(
        self, *, draft_key: str, user: UserId, request_id: RequestId
    ) -> RequestModal:
        """A recent request clicked at the top of an open form: the form is filled from it."""
        return self._fill_existing(draft_key, user, self._from_request(user, request_id))

    def start_from_favorite(
        self, *, draft_key: str, user: UserId, favorite_id: int
    ) -> RequestModal:
        """A favorite clicked at the top of an open form: the form is filled from it."""
        return self._fill_existing(draft_key, user, self._from_favorite(user, favorite_id))

    def _from_request(self, user: UserId, request_id: RequestId) -> Template:
        with self._store.read() as uow:
            earlier = uow.requests.get(request_id)
            objects = uow.requests.objects(request_id) if earlier else []
        if earlier is None or earlier.requester != user:
            raise DraftNotFound(NOT_YOUR_REQUEST)
        return Template(
            bundle=earlier.bundle,
            flow=earlier.flow,
            duration=earlier.duration,
            justification=earlier.justification,
            objects=tuple(objects),
            request_id=earlier.id,
        )

    def _from_favorite(self, user: UserId, favorite_id: int) -> Template:
        with self._store.read() as uow:
            favorite = uow.favorites.get(favorite_id)
            objects = uow.favorites.objects(favorite_id) if favorite else []
        if favorite is None or favorite.user_id != user:
            raise DraftNotFound(FAVORITE_NOT_FOUND)
        return Template(
            bundle=favorite.bundle,
            flow=favorite.flow,
            duration=favorite.duration,
            justification=favorite.justification,
            objects=tuple(objects),
            favorite=favorite.name,
        )

    def _open_from(self, user: UserId, template: Template) -> RequestModal:
        mode = Mode.BUNDLE if template.bundle else Mode.INTEGRATIONS
        with self._store.write() as uow:
            draft = uow.drafts.create(user_id=user, mode=mode, at=self._clock.now())
            self._fill(uow, draft.key, user, template)
        return self._prefilled(draft.key, user)

    def _fill_existing(self, draft_key: str, user: UserId, template: Template) -> RequestModal:
        draft = self._draft(draft_key, user)
        with self._store.write() as uow:
            uow.drafts.remove(draft.key)
            self._fill(uow, draft.key, user, template)
        return self._prefilled(draft.key, user)

    def _prefilled(self, draft_key: str, user: UserId) -> RequestModal:
        """A form just filled from a request or a favorite: the justification is focused when
        its flow requires one and none came with it (README, "Favorites")."""
        model = self.render(draft_key=draft_key, user=user)
        if model.flow is not None and model.flow.justification_required and not model.justification:
            model = replace(model, focus_justification=True)
        return model

    def _fill(self, uow: UnitOfWork, key: str, user: UserId, template: Template) -> None:
        """Write ``template`` into the (empty) draft ``key``: what is still offered, and a notice
        saying what is not."""
        access = self._eligibility.access_for(user)
        objects = list(template.objects)
        notice: str | None = None
        changes = DraftChanges(
            mode=Mode.BUNDLE if template.bundle else Mode.INTEGRATIONS,
            bundle=None,
            bundle_version=None,
            flow=None,
            flow_version=None,
            integration=None,
            resource=None,
            duration=template.duration,
            justification=template.justification,
        )
        if template.bundle is not None:
            flows = access.flows_for_bundle(template.bundle)
            bundle = uow.catalog.bundle(template.bundle) if flows else None
            if bundle is None:
                notice = (
                    favorite_bundle_gone(name=template.favorite, bundle=template.bundle)
                    if template.favorite is not None
                    else no_longer_offered(template.bundle)
                )
            else:
                still = set(uow.catalog.bundle_objects(bundle.key))
                blocked = self._unavailable(o.integration for o in objects)
                kept = [o for o in objects if o in still and o.integration not in blocked]
                uow.drafts.add(key, kept)
                flow = next((r for r in flows if r.flow.name == template.flow), flows[0])
                if blocked:
                    notice = unavailable_lines(blocked)
                elif template.favorite is not None and len(kept) < len(objects):
                    notice = favorite_objects_missing(
                        name=template.favorite,
                        missing=[o for o in objects if o not in still],
                        total=len(objects),
                    )
                elif len(kept) < len(objects):
                    notice = left_the_bundle(
                        missing=len(objects) - len(kept),
                        request_id=template.request_id or "",
                        bundle=bundle.name,
                    )
                elif template.favorite is not None and flow.flow.name != template.flow:
                    notice = favorite_flow_replaced(
                        name=template.favorite, flow=template.flow, instead=flow.flow.name
                    )
                changes = replace(
                    changes,
                    bundle=bundle.name,
                    bundle_version=bundle.version,
                    flow=flow.flow.name,
                    flow_version=flow.version,
                )
        else:
            blocked = self._unavailable(o.integration for o in objects)
            offered = [
                o for o in objects if o.integration not in blocked and access.flows_for_objects([o])
            ]
            uow.drafts.add(key, offered)
            flows = access.flows_for_objects(offered) if offered else []
            if blocked:
                notice = unavailable_lines(blocked)
            elif template.favorite is not None and len(offered) < len(objects):
                notice = favorite_objects_missing(
                    name=template.favorite,
                    missing=[o for o in objects if o not in offered],
                    total=len(objects),
                )
            elif len(offered) < len(objects):
                notice = objects_no_longer_offered(len(objects) - len(offered))
            elif (
                template.favorite is not None
                and flows
                and all(r.flow.name != template.flow for r in flows)
            ):
                notice = favorite_flow_replaced(
                    name=template.favorite, flow=template.flow, instead=flows[0].flow.name
                )
            changes = replace(changes, flow=template.flow)
        uow.drafts.update(key, at=self._clock.now(), changes=replace(changes, notice=notice))

    def render(self, *, draft_key: str, user: UserId) -> RequestModal:
        """Read the draft and its selection in one transaction, then build the view model."""
        with self._store.read() as uow:
            return self._render_in(uow, draft_key, user)

    def _render_in(
        self,
        uow: UnitOfWork,
        draft_key: str,
        user: UserId,
        *,
        emptied: bool = False,
        draft: Draft | None = None,
    ) -> RequestModal:
        """The model from inside a transaction: a click's change and its view in one go.

        ``emptied``: the selection was just removed in this transaction (nothing to count);
        ``draft``: the draft as this transaction just wrote it (owned by ``user``)."""
        draft = draft or self._owned(uow, draft_key, user)
        counts = {} if emptied else uow.drafts.counts(draft.key)
        selection = Selection(
            total=sum(counts.values()),
            per_integration=counts,
            recent=tuple(uow.drafts.recent(draft.key, limit=RECENT)) if counts else (),
        )
        items = uow.drafts.items(draft.key) if draft.mode is Mode.INTEGRATIONS else []
        return self._model(uow, draft, self._eligibility.access_for(user), selection, items)

    @staticmethod
    def _owned(uow: UnitOfWork, key: str, user: UserId) -> Draft:
        draft = uow.drafts.get(key)
        if draft is None or draft.user_id != user:
            raise DraftNotFound(FORM_EXPIRED)
        return draft

    def _draft(self, key: str, user: UserId) -> Draft:
        with self._store.read() as uow:
            draft = uow.drafts.get(key)
        if draft is None or draft.user_id != user:
            raise DraftNotFound(FORM_EXPIRED)
        return draft

    @staticmethod
    def _starts(uow: UnitOfWork, draft: Draft, selection: Selection) -> Starts:
        """Recent requests and favorites to start from, offered while the form is empty."""
        if selection.total or draft.bundle is not None or draft.integration is not None:
            return Starts()
        user = UserId(draft.user_id)
        recent = uow.requests.latest_made_by(user, limit=STARTS_SHOWN)
        favorites = uow.favorites.of(user, limit=STARTS_SHOWN)
        return Starts(
            recent=tuple(RecentStart(r.id, r.bundle, r.object_count) for r in recent),
            favorites=tuple(favorite_line_of(f) for f in favorites),
        )

    def _sized(self, names: Iterable[str]) -> tuple[BundleChoice, ...]:
        """Bundle choices with description and size (counted once per catalog change)."""
        descriptions = self._catalog.descriptions()
        choices = []
        for name in names:
            found = self._catalog.bundle(name)
            size = found[0].object_count if found is not None else None
            choices.append(BundleChoice(name, descriptions.get(name, ""), size))
        return tuple(choices)

    def _unsized(self, offered: Mapping[str, object]) -> tuple[BundleChoice, ...]:
        """Bundles listed by name only (a typeahead serves them), built once per person's
        offer: ``offered`` is the same object until the catalog or the person's groups change
        (app/requesting/eligibility.py)."""
        cached = self._unsized_for
        if cached is not None and cached[0] is offered:
            return cached[1]
        choices = tuple(BundleChoice(n, "") for n in offered)
        self._unsized_for = (offered, choices)
        return choices

    def _model(
        self,
        uow: UnitOfWork,
        draft: Draft,
        access: UserAccess,
        selection: Selection,
        items: list[AccessObject],
    ) -> RequestModal:
        flows = self._offered_flows(draft, access, items)
        flow = next((f for f in flows if f.name == draft.flow), flows[0] if flows else None)
        choices = tuple(flow_choice(f, people=self._people(f)) for f in flows)
        chosen_flow = flow_choice(flow, people=self._people(flow)) if flow else None
        remembered = (
            uow.requests.last_duration(requester=UserId(draft.user_id), flow=flow.name)
            if flow is not None and draft.duration is None
            else None
        )
        starts = self._starts(uow, draft, selection)
        if draft.mode is Mode.BUNDLE:
            offered = access.bundles()
            detail = None
            if draft.bundle in offered:
                found = self._catalog.bundle(draft.bundle)
                if found is not None:
                    bundle, shares = found
                    detail = BundleDetail(
                        name=bundle.name,
                        description=bundle.description,
                        total=bundle.object_count,
                        shares=shares,
                        unavailable=self._unavailable(s.integration for s in shares),
                    )
            # Every offered bundle; the builder decides between a menu and a typeahead (which
            # lists no options here, so nothing is counted for it).
            bundles = (
                self._sized(list(offered))
                if len(offered) <= MENU_OPTIONS
                else self._unsized(offered)
            )
            return RequestModal(
                draft_key=draft.key,
                mode=Mode.BUNDLE,
                limit=self.limit,
                bundles=bundles,
                bundle=detail,
                selection=selection,
                flows=choices,
                flow=chosen_flow,
                duration=draft.duration,
                justification=draft.justification,
                notice=draft.notice,
                starts=starts,
                remembered_duration=remembered,
            )
        offered_by_flows = {o.integration for r in access.object_flows() for o in r.flow.objects}
        blocked = self._unavailable(offered_by_flows)
        integrations = sorted(offered_by_flows - blocked.keys())
        chosen = draft.integration if draft.integration in integrations else None
        permissions: tuple[str, ...] = ()
        if chosen and draft.resource:
            permissions = self._permissions_for(access, chosen, draft.resource)
        return RequestModal(
            draft_key=draft.key,
            mode=Mode.INTEGRATIONS,
            limit=self.limit,
            integrations=tuple(integrations),
            integration=chosen,
            resource=draft.resource if chosen else None,
            permissions=permissions,
            unavailable=tuple(blocked.items()),
            selection=selection,
            flows=choices,
            flow=chosen_flow,
            duration=draft.duration,
            justification=draft.justification,
            notice=draft.notice,
            starts=starts,
            remembered_duration=remembered,
        )

    def _offered_flows(
        self, draft: Draft, access: UserAccess, items: list[AccessObject]
    ) -> list[AccessFlow]:
        if draft.mode is Mode.BUNDLE:
            if draft.bundle is None:
                return []
            return [r.flow for r in access.flows_for_bundle(draft.bundle)]
        if not items:
            return []
        return [r.flow for r in access.flows_for_objects(items)]

    # -- changes --------------------------------------------------------------------------------

    def _save(self, key: str, user: UserId, changes: DraftChanges) -> RequestModal:
        """Apply the changes and render the result, in one write transaction."""
        with self._store.write() as uow:
            uow.drafts.update(key, at=self._clock.now(), changes=changes)
            return self._render_in(uow, key, user)

    def _remember(self, draft: Draft, form: FormInput) -> DraftChanges:
        """What the form's inputs say (a duration that does not parse is left as it was), and
        the last notice cleared."""
        changes = DraftChanges(notice=None)
        if form.justification is not None:
            changes = replace(changes, justification=form.justification)
        if form.duration:
            with suppress(DurationError):
                changes = replace(changes, duration=parse_duration(form.duration))
        return changes

    def switch_mode(
        self, *, draft_key: str, user: UserId, mode: Mode, form: FormInput
    ) -> RequestModal:
        draft = self._draft(draft_key, user)
        if draft.mode is not mode:
            # A request is either a bundle or single objects: the other mode starts empty.
            with self._store.write() as uow:
                uow.drafts.remove(draft.key)
                uow.drafts.update(
                    draft.key,
                    at=self._clock.now(),
                    changes=replace(
                        self._remember(draft, form),
                        mode=mode,
                        bundle=None,
                        bundle_version=None,
                        flow=None,
                        integration=None,
                        resource=None,
                    ),
                )
        return self.render(draft_key=draft_key, user=user)

    def pick_bundle(
        self, *, draft_key: str, user: UserId, bundle: str, form: FormInput
    ) -> RequestModal:
        access = self._eligibility.access_for(user)
        flows = access.flows_for_bundle(bundle)
        found = self._catalog.bundle(bundle) if flows else None
        # The draft is read, changed and rendered in one transaction: a pick is one round of
        # statements, not three.
        with self._store.write() as uow:
            draft = uow.drafts.get(draft_key)
            if draft is None or draft.user_id != user:
                raise DraftNotFound(FORM_EXPIRED)
            if found is None:
                changes = DraftChanges(notice=BUNDLE_NOT_OFFERED)
                uow.drafts.update(draft.key, at=self._clock.now(), changes=changes)
                return self._render_in(uow, draft.key, user)
            header, _ = found
            emptied = draft.bundle != bundle
            if emptied:
                uow.drafts.remove(draft.key)
            changes = replace(
                self._remember(draft, form),
                bundle=bundle,
                bundle_version=header.version,
                flow=flows[0].flow.name,
                flow_version=flows[0].version,
            )
            uow.drafts.update(draft.key, at=self._clock.now(), changes=changes)
            return self._render_in(
                uow, draft.key, user, emptied=emptied, draft=_applied(draft, changes)
            )

    def pick_flow(
        self, *, draft_key: str, user: UserId, flow: str, form: FormInput
    ) -> RequestModal:
        draft = self._draft(draft_key, user)
        record = self._eligibility.access_for(user).flow(flow)
        changes = self._remember(draft, form)
        if record is None:
            changes = replace(changes, notice=flow_not_available(flow))
        else:
            changes = replace(
                changes, flow=record.flow.name, flow_version=record.version, duration=None
            )
        return self._save(draft.key, user, changes)

    def select_all(
        self, *, draft_key: str, user: UserId, integration: str | None, form: FormInput
    ) -> RequestModal:
        draft = self._draft(draft_key, user)
        changes = self._remember(draft, form)
        found = self._current_bundle(draft, user)
        if found is None:
            changes = replace(changes, notice=PICK_BUNDLE_FIRST)
            return self._save(draft.key, user, changes)
        bundle, shares = found
        blocked = self._unavailable(s.integration for s in shares)
        with self._store.write() as uow:
            current = uow.drafts.counts(draft.key)
            if integration is None:
                open_shares = [s for s in shares if s.integration not in blocked]
                # What stays selected of unavailable integrations, plus all of the others.
                prospective = sum(current.get(i, 0) for i in blocked) + sum(
                    s.count for s in open_shares
                )
                scope = whole_bundle_scope(prospective)
            else:
                share = next((s for s in shares if s.integration == integration), None)
                if share is None or integration in blocked:
                    changes = replace(
                        changes,
                        notice=(
                            not_in_bundle(integration)
                            if share is None
                            else unavailable_line(integration=integration, why=blocked[integration])
                        ),
                    )
                    uow.drafts.update(draft.key, at=self._clock.now(), changes=changes)
                    return self._render_in(uow, draft_key, user)
                open_shares = [share]
                prospective = sum(current.values()) - current.get(integration, 0) + share.count
                scope = integration_scope(integration=integration, count=share.count)
            if prospective > self.limit:
                changes = replace(
                    changes,
                    notice=select_all_refused(scope=scope, limit=self.limit),
                )
            elif integration is None and not blocked:
                uow.drafts.add_from_bundle(draft.key, bundle_key=bundle.key, integration=None)
            else:
                for each in open_shares:
                    uow.drafts.add_from_bundle(
                        draft.key, bundle_key=bundle.key, integration=each.integration
                    )
            uow.drafts.update(draft.key, at=self._clock.now(), changes=changes)
            # The view from the same transaction: the click's change and its view in one go.
            return self._render_in(uow, draft_key, user)

    def _current_bundle(
        self, draft: Draft, user: UserId
    ) -> tuple[Bundle, tuple[IntegrationShare, ...]] | None:
        if draft.mode is not Mode.BUNDLE or draft.bundle is None:
            return None
        if not self._eligibility.access_for(user).flows_for_bundle(draft.bundle):
            return None
        return self._catalog.bundle(draft.bundle)

    def add_object(
        self, *, draft_key: str, user: UserId, object_key: int, form: FormInput
    ) -> RequestModal:
        draft = self._draft(draft_key, user)
        changes = self._remember(draft, form)
        found = self._current_bundle(draft, user)
        with self._store.write() as uow:
            obj = (
                uow.catalog.bundle_object(bundle_key=found[0].key, object_key=object_key)
                if found is not None
                else None
            )
            why = self._problem(obj.integration) if obj is not None else None
            if obj is None:
                changes = replace(changes, notice=OBJECT_NOT_IN_BUNDLE)
            elif why is not None:
                changes = replace(
                    changes, notice=unavailable_line(integration=obj.integration, why=why)
                )
            elif not uow.drafts.contains(draft.key, obj):
                count = uow.drafts.count(draft.key)
                if count + 1 > self.limit:
                    changes = replace(changes, notice=too_many(count=count + 1, limit=self.limit))
                else:
                    uow.drafts.add(draft.key, [obj])
            uow.drafts.update(draft.key, at=self._clock.now(), changes=changes)
        return self.render(draft_key=draft_key, user=user)

    def clear(
        self, *, draft_key: str, user: UserId, integration: str | None, form: FormInput
    ) -> RequestModal:
        draft = self._draft(draft_key, user)
        with self._store.write() as uow:
            uow.drafts.remove(draft.key, integration=integration)
            uow.drafts.update(draft.key, at=self._clock.now(), changes=self._remember(draft, form))
        return self.render(draft_key=draft_key, user=user)

    # -- integrations mode --------------------------------------------------------------------

    def pick_integration(
        self, *, draft_key: str, user: UserId, integration: str, form: FormInput
    ) -> RequestModal:
        draft = self._draft(draft_key, user)
        changes = self._remember(draft, form)
        access = self._eligibility.access_for(user)
        why = self._problem(integration)
        if not any(
            o.integration == integration for r in access.object_flows() for o in r.flow.objects
        ):
            changes = replace(changes, notice=no_flow_offers_objects_in(integration))
        elif why is not None:
            changes = replace(
                changes,
                integration=None,
                resource=None,
                notice=unavailable_line(integration=integration, why=why),
            )
        else:
            changes = replace(changes, integration=integration, resource=None)
        return self._save(draft.key, user, changes)

    def pick_resource(
        self, *, draft_key: str, user: UserId, resource: str, form: FormInput
    ) -> RequestModal:
        draft = self._draft(draft_key, user)
        changes = self._remember(draft, form)
        access = self._eligibility.access_for(user)
        why = self._problem(draft.integration) if draft.integration else None
        if draft.integration and why is not None:
            changes = replace(
                changes, notice=unavailable_line(integration=draft.integration, why=why)
            )
        elif draft.integration and self._permissions_for(access, draft.integration, resource):
            changes = replace(changes, resource=resource)
        else:
            changes = replace(changes, notice=RESOURCE_NOT_OFFERED)
        return self._save(draft.key, user, changes)

    def add_plain(self, *, draft_key: str, user: UserId, form: FormInput) -> RequestModal:
        draft = self._draft(draft_key, user)
        changes = self._remember(draft, form)
        access = self._eligibility.access_for(user)
        permission = form.permission
        why = self._problem(draft.integration) if draft.integration else None
        if draft.integration is None or draft.resource is None:
            changes = replace(changes, notice=CHOOSE_INTEGRATION_AND_RESOURCE)
        elif why is not None:
            changes = replace(
                changes, notice=unavailable_line(integration=draft.integration, why=why)
            )
        elif permission is None or permission not in self._permissions_for(
            access, draft.integration, draft.resource
        ):
            changes = replace(changes, notice=CHOOSE_OFFERED_PERMISSION)
        else:
            obj = AccessObject(draft.integration, draft.resource, permission)
            with self._store.read() as uow:
                count = uow.drafts.count(draft.key)
                present = uow.drafts.contains(draft.key, obj)
                items = uow.drafts.items(draft.key)
            if not present and count + 1 > self.limit:
                changes = replace(changes, notice=too_many(count=count + 1, limit=self.limit))
            elif not present and not access.flows_for_objects([*items, obj]):
                changes = replace(changes, notice=NO_SINGLE_FLOW)
            elif not present:
                with self._store.write() as uow:
                    uow.drafts.add(draft.key, [obj])
                changes = replace(changes, resource=None)
        return self._save(draft.key, user, changes)

    def _permissions_for(
        self, access: UserAccess, integration: str, resource: str
    ) -> tuple[str, ...]:
        offered = {
            spec.permission
            for record in access.object_flows()
            for spec in record.flow.objects
            if offers_object(record.flow, AccessObject(integration, resource, spec.permission))
        }
        return tuple(sorted(offered))

    # -- typeahead ------------------------------------------------------------------------------

    def suggest_objects(self, *, draft_key: str, user: UserId, query: str) -> list[CatalogObject]:
        draft = self._draft(draft_key, user)
        found = self._current_bundle(draft, user)
        if found is None:
            return []
        bundle, shares = found
        blocked = self._unavailable(s.integration for s in shares)
        with self._store.read() as uow:
            if not blocked:
                return uow.catalog.search_bundle(
                    bundle_key=bundle.key, query=query[:100], limit=SUGGESTION_LIMIT
                )
            # Objects of unavailable integrations are not offered: search the others only.
            suggestions: list[CatalogObject] = []
            for share in shares:
                if share.integration in blocked or len(suggestions) >= SUGGESTION_LIMIT:
                    continue
                suggestions += uow.catalog.search_bundle(
                    bundle_key=bundle.key,
                    query=query[:100],
                    limit=SUGGESTION_LIMIT - len(suggestions),
                    integration=share.integration,
                )
            return suggestions

    def suggest_bundles(self, *, user: UserId, query: str) -> list[BundleChoice]:
        offered = list(self._eligibility.access_for(user).bundles())
        words = query.lower().split()
        matching = [n for n in offered if all(w in n.lower() for w in words)]
        return list(self._sized(matching[:SUGGESTION_LIMIT]))

    def suggest_resources(self, *, draft_key: str, user: UserId, query: str) -> list[str]:
        draft = self._draft(draft_key, user)
        if draft.integration is None or self._problem(draft.integration) is not None:
            return []
        access = self._eligibility.access_for(user)
        specs = [
            o
            for r in access.object_flows()
            for o in r.flow.objects
            if o.integration == draft.integration
        ]
        words = query.lower().split()
        literal = [s.resource for s in specs if all(w in s.resource.lower() for w in words)]
        with self._store.read() as uow:
            found = uow.catalog.search_resources(
                integration=draft.integration, query=query[:100], limit=SUGGESTION_LIMIT * 5
            )
        candidates = list(dict.fromkeys([*literal, *found]))
        offered = [
            name
            for name in candidates
            if any(
                offers_object(r.flow, AccessObject(draft.integration, name, s.permission))
                for r in access.object_flows()
                for s in r.flow.objects
            )
        ]
        # Patterns first: "everything in sales" is the common ask.
        offered.sort(key=lambda n: (not is_pattern(n), n))
        return offered[:SUGGESTION_LIMIT]


def _applied(draft: Draft, changes: DraftChanges) -> Draft:
    """``draft`` as ``changes`` leave it (what reading it again in the same transaction gives;
    a zero duration is stored as none)."""
    given = {
        f.name: getattr(changes, f.name)
        for f in fields(DraftChanges)
        if getattr(changes, f.name) is not UNCHANGED
    }
    if "duration" in given:
        given["duration"] = given["duration"] or None
    if "mode" in given:
        given["mode"] = Mode(given["mode"])
    return replace(draft, **given)
