"""A bundle's contents as written and what a change does to them.

"As written" means patterns unexpanded: ``sales.*`` stays one object, so a pattern keeps
matching tables discovered later.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from pydantic import ValidationError

from app.core.catalog import CatalogService
from blocks.admin import Impact
from domain.catalog import Bundle
from domain.lifecycle import Status
from domain.objects import AccessObject
from domain.policy import AccessFlow, BundleSpec
from store.unit_of_work import Store, UnitOfWork

ACTIVE_STATUSES: Final = (Status.APPROVED, Status.GRANTING, Status.ACTIVE)


def spec_objects(uow: UnitOfWork, name: str) -> list[AccessObject] | None:
    """The bundle's objects as written, or ``None`` when it has no readable spec (then its
    expanded objects are what there is to edit)."""
    data = uow.catalog.bundle_spec(name)
    try:
        spec = BundleSpec.model_validate(data)
    except ValidationError:
        return None
    return [AccessObject(o.integration, o.resource, o.permission) for o in spec.objects]


def written(uow: UnitOfWork, bundle: Bundle) -> list[AccessObject]:
    return spec_objects(uow, bundle.name) or uow.catalog.bundle_objects(bundle.key)


def diff(
    before: Sequence[AccessObject], after: Sequence[AccessObject]
) -> tuple[list[AccessObject], list[AccessObject]]:
    old, new = set(before), set(after)
    return sorted(new - old), sorted(old - new)


def left_empty(flow: AccessFlow, bundle: str) -> bool:
    """Whether ``flow`` offers nothing once ``bundle`` is taken out of it."""
    return not flow.objects and all(b == bundle for b in flow.bundles)


def impact_in(uow: UnitOfWork, flows: Sequence[AccessFlow], bundle: str) -> Impact:
    """The flows holding ``bundle`` and the requests made of it that a change touches."""
    holding = [f for f in flows if bundle in f.bundles]
    pending = uow.requests.page(number=0, size=1, statuses=[Status.PENDING], bundle=bundle).total
    active = uow.requests.page(
        number=0, size=1, statuses=list(ACTIVE_STATUSES), bundle=bundle
    ).total
    return Impact(
        flows=tuple(f.name for f in holding),
        inactive_flows=tuple(f.name for f in holding if not f.active),
        pending=pending,
        active=active,
    )


def impact_of(*, store: Store, catalog: CatalogService, bundle: str) -> Impact:
    """:func:`impact_in`, read from the catalog's cached flows."""
    flows = [r.flow for r in catalog.flows()]
    with store.read() as uow:
        return impact_in(uow, flows, bundle)
