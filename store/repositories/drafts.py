"""The request modal's server-side selection: ``private_metadata`` only carries the draft key."""

from __future__ import annotations

import functools
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final, cast

from sqlalchemy import (
    String,
    Table,
    and_,
    bindparam,
    delete,
    exists,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from domain.drafts import Draft, Mode
from domain.objects import AccessObject
from store.models import BundleObjectRow, DraftItemRow, DraftRow
from store.repositories.unchanged import UNCHANGED, Unchanged
from store.statements import Prepared, new_values

_BATCH = 5_000


@dataclass(frozen=True, slots=True)
class DraftChanges:
    """What one write changes in a draft. A field not given is left as it is; ``None`` is a
    value (it clears the field)."""

    mode: Mode | Unchanged = UNCHANGED
    bundle: str | Unchanged | None = UNCHANGED
    bundle_version: int | Unchanged | None = UNCHANGED
    flow: str | Unchanged | None = UNCHANGED
    flow_version: int | Unchanged | None = UNCHANGED
    integration: str | Unchanged | None = UNCHANGED
    resource: str | Unchanged | None = UNCHANGED
    duration: timedelta | Unchanged | None = UNCHANGED
    justification: str | Unchanged | None = UNCHANGED
    notice: str | Unchanged | None = UNCHANGED


NO_CHANGES: Final = DraftChanges()


def _value(mode: Mode | Unchanged) -> str | Unchanged:
    return mode if isinstance(mode, Unchanged) else mode.value


def _seconds(duration: timedelta | Unchanged | None) -> int | Unchanged | None:
    if isinstance(duration, Unchanged):
        return duration
    return int(duration.total_seconds()) if duration else None


_DRAFTS: Final = cast(Table, DraftRow.__table__)
_DRAFT_ITEMS: Final = cast(Table, DraftItemRow.__table__)
_DRAFT: Final = Prepared(select(_DRAFTS).where(_DRAFTS.c.key == bindparam("key")))
# Built once: each click of the request modal runs a few of them.
_CREATE: Final = Prepared(insert(_DRAFTS))
_ITEM: Final = _DRAFT_ITEMS.c
_OF_DRAFT: Final = _ITEM.draft_key == bindparam("key")
_COUNTS: Final = Prepared(
    select(_ITEM.integration, func.count()).where(_OF_DRAFT).group_by(_ITEM.integration)
)
_ITEMS: Final = Prepared(
    select(_ITEM.integration, _ITEM.resource, _ITEM.permission).where(_OF_DRAFT).order_by(_ITEM.id)
)
_REMOVE: Final = delete(_DRAFT_ITEMS).where(_OF_DRAFT)
_REMOVE_ALL: Final = Prepared(_REMOVE)
_REMOVE_PART: Final = Prepared(_REMOVE.where(_ITEM.integration == bindparam("integration")))
_BUNDLE_OBJECT: Final = cast(Table, BundleObjectRow.__table__).c
_OF_BUNDLE: Final = _BUNDLE_OBJECT.bundle_id == bindparam("bundle_key")
_SAME_OBJECT: Final = and_(
    _ITEM.integration == _BUNDLE_OBJECT.integration,
    _ITEM.resource == _BUNDLE_OBJECT.resource,
    _ITEM.permission == _BUNDLE_OBJECT.permission,
)
_NOT_SELECTED: Final = select(
    bindparam("key", type_=String()),
    _BUNDLE_OBJECT.integration,
    _BUNDLE_OBJECT.resource,
    _BUNDLE_OBJECT.permission,
).where(_OF_BUNDLE, ~exists().where(_OF_DRAFT, _SAME_OBJECT))
_ADD_BUNDLE: Final = Prepared(
    insert(_DRAFT_ITEMS).from_select(
        ["draft_key", "integration", "resource", "permission"], _NOT_SELECTED
    )
)
_ADD_BUNDLE_PART: Final = Prepared(
    insert(_DRAFT_ITEMS).from_select(
        ["draft_key", "integration", "resource", "permission"],
        _NOT_SELECTED.where(_BUNDLE_OBJECT.integration == bindparam("integration")),
    )
)
_OUTSIDE: Final = (_OF_DRAFT, ~exists().where(_OF_BUNDLE, _SAME_OBJECT))
"""A draft's selected objects that the bundle does not hold (an anti-join on its unique index)."""
_OUTSIDE_COUNT: Final = Prepared(select(func.count()).select_from(_DRAFT_ITEMS).where(*_OUTSIDE))
_OUTSIDE_SAMPLE: Final = Prepared(
    select(_ITEM.integration, _ITEM.resource, _ITEM.permission)
    .where(*_OUTSIDE)
    .order_by(_ITEM.id)
    .limit(bindparam("limit"))
)


def _given(changes: DraftChanges) -> dict[Any, object]:
    """The fields given, as column values keyed by the model's attributes."""
    pairs: tuple[tuple[Any, object], ...] = (
        (DraftRow.mode, _value(changes.mode)),
        (DraftRow.bundle, changes.bundle),
        (DraftRow.bundle_version, changes.bundle_version),
        (DraftRow.flow, changes.flow),
        (DraftRow.flow_version, changes.flow_version),
        (DraftRow.integration, changes.integration),
        (DraftRow.resource, changes.resource),
        (DraftRow.duration_seconds, _seconds(changes.duration)),
        (DraftRow.justification, changes.justification),
        (DraftRow.notice, changes.notice),
    )
    return {column: value for column, value in pairs if value is not UNCHANGED}


def _to_domain(row: DraftRow) -> Draft:
    return Draft(
        key=row.key,
        user_id=row.user_id,
        mode=Mode(row.mode),
        bundle=row.bundle,
        bundle_version=row.bundle_version,
        flow=row.flow,
        flow_version=row.flow_version,
        integration=row.integration,
        resource=row.resource,
        duration=timedelta(seconds=row.duration_seconds) if row.duration_seconds else None,
        justification=row.justification,
        notice=row.notice,
    )


_NEW: Final = "new_"


@functools.cache
def _update_statement(columns: frozenset[str]) -> Prepared:
    """:meth:`DraftRepository.update`, built once per set of columns written (a modal's few
    kinds of click)."""
    return Prepared(
        update(_DRAFTS)
        .where(_DRAFTS.c.key == bindparam("the_key"))
        .values(new_values(_DRAFTS, sorted(columns), prefix=_NEW))
    )


_RECENT: Final = Prepared(
    select(DraftItemRow.integration, DraftItemRow.resource, DraftItemRow.permission)
    .where(DraftItemRow.draft_key == bindparam("key"))
    .order_by(DraftItemRow.id.desc())
    .limit(bindparam("limit"))
)
"""The last objects picked: read on every render of the request modal."""


class DraftRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def create(self, *, user_id: str, mode: Mode, at: datetime) -> Draft:
        draft = Draft(key=secrets.token_urlsafe(16), user_id=user_id, mode=mode)
        _CREATE.run(
            self._session,
            {
                "key": draft.key,
                "user_id": user_id,
                "mode": mode.value,
                "created_at": at,
                "updated_at": at,
            },
        )
        return draft

    def get(self, key: str) -> Draft | None:
        # A plain row read: ``session.get`` would keep the row among the session's objects,
        # which the table-level UPDATE of :meth:`update` then leaves as they were.
        row = _DRAFT.first(self._session, {"key": key})
        # The row's columns carry the model's attribute names, which is all _to_domain reads.
        return _to_domain(cast(Any, row)) if row is not None else None

    def update(self, key: str, *, at: datetime, changes: DraftChanges = NO_CHANGES) -> None:
        """Write ``changes`` and mark the draft as used at ``at``."""
        values = {DraftRow.updated_at.key: at, **{c.key: v for c, v in _given(changes).items()}}
        # On the table, not the model: the ORM's UPDATE would first look for the draft among
        # the session's objects to patch it, and every modal click writes its draft.
        _update_statement(frozenset(values)).run(
            self._session, {"the_key": key, **{_NEW + name: v for name, v in values.items()}}
        )

    # -- the selection --------------------------------------------------------------------------

    def count(self, key: str) -> int:
        return int(
            self._session.scalar(select(func.count()).where(DraftItemRow.draft_key == key)) or 0
        )

    def counts(self, key: str) -> dict[str, int]:
        return dict(_COUNTS.all(self._session, {"key": key}))

    def items(self, key: str) -> list[AccessObject]:
        return [AccessObject(*r) for r in _ITEMS.all(self._session, {"key": key})]

    def recent(self, key: str, *, limit: int) -> list[AccessObject]:
        rows = _RECENT.all(self._session, {"key": key, "limit": limit})
        return [AccessObject(*r) for r in rows]

    def contains(self, key: str, obj: AccessObject) -> bool:
        return (
            self._session.scalar(
                select(DraftItemRow.id).where(
                    DraftItemRow.draft_key == key,
                    DraftItemRow.integration == obj.integration,
                    DraftItemRow.resource == obj.resource,
                    DraftItemRow.permission == obj.permission,
                )
            )
            is not None
        )

    def add(self, key: str, objects: Iterable[AccessObject]) -> None:
        """Add objects, ignoring those already selected (one statement, any number)."""
        rows = [
            {"draft_key": key, "integration": o.integration, "resource": o.resource,
             "permission": o.permission}
            for o in dict.fromkeys(objects)
        ]  # fmt: skip
        if not rows:
            return
        dialect = self._session.get_bind().dialect.name
        statement = (postgresql_insert if dialect == "postgresql" else sqlite_insert)(DraftItemRow)
        for start in range(0, len(rows), _BATCH):
            self._session.execute(statement.on_conflict_do_nothing(), rows[start : start + _BATCH])

    def add_from_bundle(self, key: str, *, bundle_key: int, integration: str | None) -> None:
        """Select every object of a bundle (or of one of its integrations) in one statement."""
        params = {"key": key, "bundle_key": bundle_key}
        if integration is None:
            _ADD_BUNDLE.run(self._session, params)
        else:
            _ADD_BUNDLE_PART.run(self._session, {**params, "integration": integration})

    def missing_from_bundle(
        self, key: str, *, bundle_key: int, limit: int
    ) -> tuple[int, list[AccessObject]]:
        """How many selected objects the bundle does not hold, and a few of them (one anti-join
        on the bundle's unique index, however big the bundle)."""
        params = {"key": key, "bundle_key": bundle_key}
        count = int(_OUTSIDE_COUNT.scalar(self._session, params) or 0)
        if not count:
            return 0, []  # the usual answer: no second query for an empty sample
        sample = _OUTSIDE_SAMPLE.all(self._session, {**params, "limit": limit})
        return count, [AccessObject(*r) for r in sample]

    def remove(self, key: str, *, integration: str | None = None) -> None:
        if integration is None:
            _REMOVE_ALL.run(self._session, {"key": key})
        else:
            _REMOVE_PART.run(self._session, {"key": key, "integration": integration})

    def find(self, key: str, *, words: Sequence[str], limit: int) -> list[tuple[int, AccessObject]]:
        """Selected objects whose ``integration:resource:permission`` holds every word (in any
        case), latest first, with their item IDs (what a typeahead option can carry)."""
        text = func.lower(
            DraftItemRow.integration + ":" + DraftItemRow.resource + ":" + DraftItemRow.permission
        )
        rows = self._session.execute(
            select(
                DraftItemRow.id,
                DraftItemRow.integration,
                DraftItemRow.resource,
                DraftItemRow.permission,
            )
            .where(
                DraftItemRow.draft_key == key,
                *(text.contains(w.lower(), autoescape=True) for w in words),
            )
            .order_by(DraftItemRow.id.desc())
            .limit(limit)
        )
        return [(item, AccessObject(i, r, p)) for item, i, r, p in rows]

    def remove_item(self, key: str, *, item: int) -> AccessObject | None:
        """Remove one selected object by its item ID; what it was, or ``None`` if not there."""
        mine = (DraftItemRow.draft_key == key, DraftItemRow.id == item)
        columns = (DraftItemRow.integration, DraftItemRow.resource, DraftItemRow.permission)
        found = self._session.execute(select(*columns).where(*mine)).first()
        if found is None:
            return None
        self._session.execute(delete(DraftItemRow).where(*mine))
        return AccessObject(*found)

    def purge(self, *, before: datetime) -> int:
        result = self._session.execute(delete(DraftRow).where(DraftRow.updated_at < before))
        return int(result.rowcount)  # type: ignore[attr-defined]
