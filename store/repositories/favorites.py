"""Favorites: requests a requester saved to start again in one click. Each keeps its own copy
of what was requested, so a favorite can say what changed since (the catalog moves on)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final, cast

from sqlalchemy import Row, Table, bindparam, delete, func, insert, select, update
from sqlalchemy.orm import Session

from domain.ids import RequestId, UserId
from domain.objects import AccessObject
from store.models import FavoriteObjectRow, FavoriteRow
from store.statements import Prepared

_BATCH = 1_000


@dataclass(frozen=True, slots=True)
class Favorite:
    id: int
    user_id: UserId
    name: str
    bundle: str | None
    flow: str
    duration: timedelta
    justification: str
    object_count: int
    source_request: RequestId | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class NewFavorite:
    """What one favorite holds, as it is written."""

    user_id: UserId
    name: str
    bundle: str | None
    flow: str
    duration: timedelta
    justification: str
    objects: Sequence[AccessObject]
    source_request: RequestId | None
    at: datetime


_FAVORITES: Final = cast(Table, FavoriteRow.__table__)
_OF_USER: Final = Prepared(
    select(_FAVORITES)
    .where(_FAVORITES.c.user_id == bindparam("user_id"))
    .order_by(_FAVORITES.c.created_at.desc(), _FAVORITES.c.id.desc())
    .limit(bindparam("limit"))
)
"""Built once: every request modal that opens empty lists them."""


def _to_domain(row: FavoriteRow | Row[Any]) -> Favorite:
    return Favorite(
        id=row.id,
        user_id=UserId(row.user_id),
        name=row.name,
        bundle=row.bundle,
        flow=row.flow,
        duration=timedelta(seconds=row.duration_seconds),
        justification=row.justification,
        object_count=row.object_count,
        source_request=RequestId(row.source_request) if row.source_request else None,
        created_at=row.created_at,
    )


class FavoriteRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, favorite: NewFavorite) -> Favorite:
        row = FavoriteRow(
            user_id=favorite.user_id,
            name=favorite.name,
            bundle=favorite.bundle,
            flow=favorite.flow,
            duration_seconds=int(favorite.duration.total_seconds()),
            justification=favorite.justification,
            object_count=len(favorite.objects),
            source_request=favorite.source_request,
            created_at=favorite.at,
        )
        self._session.add(row)
        self._session.flush()
        rows = [
            {
                "favorite_id": row.id,
                "integration": o.integration,
                "resource": o.resource,
                "permission": o.permission,
            }
            for o in favorite.objects
        ]
        for start in range(0, len(rows), _BATCH):
            self._session.execute(insert(FavoriteObjectRow), rows[start : start + _BATCH])
        return _to_domain(row)

    def get(self, favorite_id: int) -> Favorite | None:
        row = self._session.get(FavoriteRow, favorite_id)
        return _to_domain(row) if row else None

    def of(self, user_id: UserId, *, limit: int) -> list[Favorite]:
        """``user_id``'s favorites, newest first."""
        rows = _OF_USER.all(self._session, {"user_id": user_id, "limit": limit})
        return [_to_domain(r) for r in rows]

    def count(self, user_id: UserId) -> int:
        return int(
            self._session.scalar(
                select(func.count()).select_from(FavoriteRow).where(FavoriteRow.user_id == user_id)
            )
            or 0
        )

    def objects(self, favorite_id: int) -> list[AccessObject]:
        rows = self._session.execute(
            select(
                FavoriteObjectRow.integration,
                FavoriteObjectRow.resource,
                FavoriteObjectRow.permission,
            )
            .where(FavoriteObjectRow.favorite_id == favorite_id)
            .order_by(FavoriteObjectRow.id)
        )
        return [AccessObject(*r) for r in rows]

    def rename(self, *, favorite_id: int, user_id: UserId, name: str) -> bool:
        """Rename one of ``user_id``'s favorites; ``False`` if it is not theirs (or gone)."""
        result = self._session.execute(
            update(FavoriteRow)
            .where(FavoriteRow.id == favorite_id, FavoriteRow.user_id == user_id)
            .values(name=name)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    def delete(self, *, favorite_id: int, user_id: UserId) -> bool:
        """Delete one of ``user_id``'s favorites; ``False`` if it is not theirs (or gone)."""
        owned = select(FavoriteRow.id).where(
            FavoriteRow.id == favorite_id, FavoriteRow.user_id == user_id
        )
        if self._session.scalar(owned) is None:
            return False
        # Objects first: SQLite enforces ON DELETE CASCADE only with its foreign-key pragma.
        self._session.execute(
            delete(FavoriteObjectRow).where(FavoriteObjectRow.favorite_id == favorite_id)
        )
        self._session.execute(delete(FavoriteRow).where(FavoriteRow.id == favorite_id))
        return True
