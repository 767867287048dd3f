"""Bundles (with their expanded objects), flows and discovered resources."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, Final, cast

from sqlalchemy import Table, bindparam, delete, func, insert, select, text
from sqlalchemy.orm import Session

from domain.catalog import (
    Bundle,
    CatalogObject,
    FlowRecord,
    IntegrationShare,
    Source,
    content_digest,
)
from domain.objects import AccessObject
from domain.policy import AccessFlow
from store.models import BundleObjectRow, BundleRow, FlowRow, MetaRow, ResourceRow
from store.statements import Prepared

GENERATION_KEY = "catalog_generation"
_INSERT_BATCH = 5_000
TRIGRAM = 3


def _search_text(obj: AccessObject) -> str:
    return f"{obj.resource} {obj.permission}".lower()


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


_META: Final = cast(Table, MetaRow.__table__)
_GENERATION: Final = Prepared(select(_META.c.value).where(_META.c.key == GENERATION_KEY))
"""Built once: every decision and grant reads it, to see a catalog another instance changed."""
_BUNDLE_HEADER: Final = Prepared(
    select(BundleRow.id, BundleRow.version).where(BundleRow.name == bindparam("name"))
)


class CatalogRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    # -- generation: any instance can tell cheaply that the catalog changed ---------------------

    def generation(self) -> int:
        value = _GENERATION.scalar(self._session)
        return int(value) if value else 0

    def bump_generation(self) -> None:
        self._session.merge(MetaRow(key=GENERATION_KEY, value=str(self.generation() + 1)))

    # -- bundles ----------------------------------------------------------------------------------

    def _bundle(self, row: BundleRow, count: int) -> Bundle:
        return Bundle(
            key=row.id,
            name=row.name,
            description=row.description,
            version=row.version,
            source=Source(row.source),
            object_count=count,
        )

    def bundles(self) -> list[Bundle]:
        counts = dict(
            self._session.execute(
                select(BundleObjectRow.bundle_id, func.count()).group_by(BundleObjectRow.bundle_id)
            ).all()
        )
        rows = self._session.scalars(select(BundleRow).order_by(BundleRow.name))
        return [self._bundle(r, counts.get(r.id, 0)) for r in rows]

    def descriptions(self, names: Iterable[str] | None = None) -> dict[str, str]:
        """Name → description of these bundles, or of all (no counting, no specs)."""
        statement = select(BundleRow.name, BundleRow.description)
        if names is not None:
            statement = statement.where(BundleRow.name.in_(list(names)))
        rows = self._session.execute(statement)
        return dict(rows.all())

    def bundle(self, name: str) -> Bundle | None:
        row = self._session.scalar(select(BundleRow).where(BundleRow.name == name))
        if row is None:
            return None
        count = self._session.scalar(
            select(func.count()).where(BundleObjectRow.bundle_id == row.id)
        )
        return self._bundle(row, int(count or 0))

    def bundle_header(self, name: str) -> tuple[int, int] | None:
        """``(key, version)`` of a bundle: a cheap check that a cached count is still right."""
        row = _BUNDLE_HEADER.first(self._session, {"name": name})
        return (row[0], row[1]) if row else None

    def bundle_spec(self, name: str) -> dict[str, Any] | None:
        return self._session.scalar(select(BundleRow.spec).where(BundleRow.name == name))

    def shares(self, bundle_key: int) -> list[IntegrationShare]:
        rows = self._session.execute(
            select(BundleObjectRow.integration, BundleObjectRow.permission, func.count())
            .where(BundleObjectRow.bundle_id == bundle_key)
            .group_by(BundleObjectRow.integration, BundleObjectRow.permission)
        ).all()
        totals: dict[str, int] = {}
        permissions: dict[str, set[str]] = {}
        for integration, permission, count in rows:
            totals[integration] = totals.get(integration, 0) + count
            permissions.setdefault(integration, set()).add(permission)
        return [
            IntegrationShare(
                integration=i, count=totals[i], permissions=tuple(sorted(permissions[i]))
            )
            for i in sorted(totals)
        ]

    def search_bundle(
        self, *, bundle_key: int, query: str, limit: int, integration: str | None = None
    ) -> list[CatalogObject]:
        """Objects of a bundle whose resource or permission contains every word of ``query``.

        On SQLite, words of three characters or more go through the FTS5 trigram index (a
        substring search that does not scan the bundle); shorter words, and PostgreSQL (where
        a pg_trgm index serves the LIKE), use LIKE.
        """
        statement = select(
            BundleObjectRow.id,
            BundleObjectRow.integration,
            BundleObjectRow.resource,
            BundleObjectRow.permission,
        ).where(BundleObjectRow.bundle_id == bundle_key)
        if integration is not None:
            statement = statement.where(BundleObjectRow.integration == integration)
        words = query.lower().split()
        indexed = [w for w in words if len(w) >= TRIGRAM] if self._fts() else []
        if indexed:
            match = " AND ".join('"' + w.replace('"', '""') + '"' for w in indexed)
            statement = statement.where(
                BundleObjectRow.id.in_(
                    select(text("rowid"))
                    .select_from(text("bundle_objects_fts"))
                    .where(text("bundle_objects_fts MATCH :match"))
                )
            ).params(match=match)
        for word in (w for w in words if w not in indexed):
            statement = statement.where(
                BundleObjectRow.search.like(f"%{_escape_like(word)}%", escape="\\")
            )
        rows = self._session.execute(statement.order_by(BundleObjectRow.id).limit(limit))
        return [CatalogObject(key=r[0], object=AccessObject(r[1], r[2], r[3])) for r in rows]

    def _fts(self) -> bool:
        return self._session.get_bind().dialect.name == "sqlite"

    def bundle_object(self, *, bundle_key: int, object_key: int) -> AccessObject | None:
        row = self._session.execute(
            select(
                BundleObjectRow.integration, BundleObjectRow.resource, BundleObjectRow.permission
            ).where(BundleObjectRow.id == object_key, BundleObjectRow.bundle_id == bundle_key)
        ).first()
        return AccessObject(*row) if row else None

    def bundle_objects(self, bundle_key: int) -> list[AccessObject]:
        rows = self._session.execute(
            select(
                BundleObjectRow.integration, BundleObjectRow.resource, BundleObjectRow.permission
            )
            .where(BundleObjectRow.bundle_id == bundle_key)
            .order_by(BundleObjectRow.id)
        )
        return [AccessObject(*r) for r in rows]

    def contains_all(
        self, *, bundle_key: int, objects: Sequence[AccessObject]
    ) -> list[AccessObject]:
        """The objects (of ``objects``) that are *not* in the bundle."""
        wanted = set(objects)
        if not wanted:
            return []
        present: set[AccessObject] = set()
        integrations = {o.integration for o in wanted}
        for integration in integrations:
            rows = self._session.execute(
                select(BundleObjectRow.resource, BundleObjectRow.permission).where(
                    BundleObjectRow.bundle_id == bundle_key,
                    BundleObjectRow.integration == integration,
                )
            )
            present.update(AccessObject(integration, r, p) for r, p in rows)
        return sorted(wanted - present)

    def save_bundle(
        self,
        *,
        name: str,
        description: str,
        spec: dict[str, Any],
        objects: Sequence[AccessObject],
        source: Source,
        at: datetime,
        by: str | None,
    ) -> Bundle:
        """Create or replace a bundle; its version moves only when its objects change."""
        digest = content_digest(objects)
        row = self._session.scalar(select(BundleRow).where(BundleRow.name == name))
        if row is None:
            row = BundleRow(
                name=name,
                description=description,
                version=1,
                source=source.value,
                spec=spec,
                content_hash=digest,
                updated_at=at,
                updated_by=by,
            )
            self._session.add(row)
            self._session.flush()
            self._insert_objects(row.id, objects)
            self.bump_generation()
            return self._bundle(row, len(set(objects)))
        changed_content = row.content_hash != digest
        if changed_content or row.description != description or row.spec != spec:
            row.description, row.spec, row.source = description, spec, source.value
            row.updated_at, row.updated_by = at, by
            if changed_content:
                row.version += 1
                row.content_hash = digest
                self._session.execute(
                    delete(BundleObjectRow).where(BundleObjectRow.bundle_id == row.id)
                )
                self._insert_objects(row.id, objects)
            self.bump_generation()
        self._session.flush()
        return self._bundle(row, len(set(objects)))

    def _insert_objects(self, bundle_key: int, objects: Iterable[AccessObject]) -> None:
        unique = sorted(set(objects))
        for start in range(0, len(unique), _INSERT_BATCH):
            self._session.execute(
                insert(BundleObjectRow),
                [
                    {
                        "bundle_id": bundle_key,
                        "integration": o.integration,
                        "resource": o.resource,
                        "permission": o.permission,
                        "search": _search_text(o),
                    }
                    for o in unique[start : start + _INSERT_BATCH]
                ],
            )

    def delete_bundle(self, name: str) -> bool:
        result = self._session.execute(delete(BundleRow).where(BundleRow.name == name))
        if result.rowcount:  # type: ignore[attr-defined]
            self.bump_generation()
            return True
        return False

    # -- flows ------------------------------------------------------------------------------------

    def flows(self) -> list[FlowRecord]:
        rows = self._session.scalars(select(FlowRow).order_by(FlowRow.id))
        return [
            FlowRecord(
                flow=AccessFlow.model_validate(r.spec), version=r.version, source=Source(r.source)
            )
            for r in rows
        ]

    def save_flow(
        self, *, flow: AccessFlow, source: Source, at: datetime, by: str | None
    ) -> FlowRecord:
        spec = flow.model_dump(mode="json")
        row = self._session.scalar(select(FlowRow).where(FlowRow.name == flow.name))
        if row is None:
            row = FlowRow(
                name=flow.name,
                active=flow.active,
                version=1,
                source=source.value,
                spec=spec,
                updated_at=at,
                updated_by=by,
            )
            self._session.add(row)
            self.bump_generation()
        elif row.spec != spec or row.source != source.value:
            row.spec, row.active, row.source = spec, flow.active, source.value
            row.version += 1
            row.updated_at, row.updated_by = at, by
            self.bump_generation()
        self._session.flush()
        return FlowRecord(flow=flow, version=row.version, source=Source(row.source))

    def delete_flow(self, name: str) -> bool:
        result = self._session.execute(delete(FlowRow).where(FlowRow.name == name))
        if result.rowcount:  # type: ignore[attr-defined]
            self.bump_generation()
            return True
        return False

    # -- discovered resources -------------------------------------------------------------------

    def replace_resources(
        self, *, integration: str, resources: Sequence[tuple[str, str]], at: datetime
    ) -> None:
        """Make ``(name, kind)`` pairs the known resources of ``integration``."""
        self._session.execute(delete(ResourceRow).where(ResourceRow.integration == integration))
        unique = dict(resources)
        for start in range(0, len(unique), _INSERT_BATCH):
            chunk = list(unique.items())[start : start + _INSERT_BATCH]
            self._session.execute(
                insert(ResourceRow),
                [
                    {"integration": integration, "name": n, "kind": k, "discovered_at": at}
                    for n, k in chunk
                ],
            )

    def resources(self, integration: str) -> list[tuple[str, str]]:
        rows = self._session.execute(
            select(ResourceRow.name, ResourceRow.kind)
            .where(ResourceRow.integration == integration)
            .order_by(ResourceRow.name)
        )
        return [(n, k) for n, k in rows]

    def search_resources(self, *, integration: str, query: str, limit: int) -> list[str]:
        statement = select(ResourceRow.name).where(ResourceRow.integration == integration)
        for word in query.lower().split():
            statement = statement.where(
                func.lower(ResourceRow.name).like(f"%{_escape_like(word)}%", escape="\\")
            )
        return list(self._session.scalars(statement.order_by(ResourceRow.name).limit(limit)))

    def resource_count(self, integration: str) -> int:
        return int(
            self._session.scalar(select(func.count()).where(ResourceRow.integration == integration))
            or 0
        )
