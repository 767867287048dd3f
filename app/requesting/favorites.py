"""*Save as favorite*: a request of one's own, kept under a name to start again in one click.

A favorite copies the request's bundle, objects, flow, duration and justification; opening it
(app/requesting/modal.py, ``open_favorite``) pre-fills the modal with what is still offered and
says what is not. Listing, renaming and deleting them is Home's (app/home/service.py)."""

from __future__ import annotations

from dataclasses import dataclass

from blocks.favorites import (
    MAX_FAVORITES,
    MAX_NAME,
    REQUEST_NOT_YOURS,
    default_name,
    too_many_favorites,
)
from domain.clock import Clock
from domain.errors import DomainError
from domain.ids import RequestId, UserId
from store.repositories.favorites import NewFavorite
from store.unit_of_work import Store


class FavoriteRefused(DomainError):
    """The favorite cannot be saved; the message says why and is safe to show."""


@dataclass(frozen=True, slots=True)
class Naming:
    """What the naming modal shows: the suggested name and the request's size."""

    request_id: RequestId
    name: str
    object_count: int


@dataclass(frozen=True, slots=True)
class Saved:
    name: str
    count: int
    """How many favorites the person keeps now."""


class FavoritesService:
    def __init__(self, *, store: Store, clock: Clock, limit: int = MAX_FAVORITES) -> None:
        self._store = store
        self._clock = clock
        self._limit = limit

    def naming(self, *, user: UserId, request_id: RequestId) -> Naming:
        """The name suggested for a favorite of ``request_id`` (after its bundle)."""
        with self._store.read() as uow:
            request = uow.requests.get(request_id)
            if request is None or request.requester != user:
                raise FavoriteRefused(REQUEST_NOT_YOURS)
            if uow.favorites.count(user) >= self._limit:
                raise FavoriteRefused(too_many_favorites(self._limit))
            count = len(uow.requests.objects(request_id))
        return Naming(
            request_id=request_id,
            name=default_name(bundle=request.bundle, object_count=count, flow=request.flow),
            object_count=count,
        )

    def save(self, *, user: UserId, request_id: RequestId, name: str | None) -> Saved:
        """Keep ``request_id`` as a favorite of ``user``, named ``name`` (blank: after its
        bundle). Only the requester may, and only up to the limit."""
        with self._store.write() as uow:
            request = uow.requests.get(request_id)
            if request is None or request.requester != user:
                raise FavoriteRefused(REQUEST_NOT_YOURS)
            count = uow.favorites.count(user)
            if count >= self._limit:
                raise FavoriteRefused(too_many_favorites(self._limit))
            objects = uow.requests.objects(request_id)
            chosen = " ".join((name or "").split())[:MAX_NAME] or default_name(
                bundle=request.bundle, object_count=len(objects), flow=request.flow
            )
            uow.favorites.add(
                NewFavorite(
                    user_id=user,
                    name=chosen,
                    bundle=request.bundle,
                    flow=request.flow,
                    duration=request.duration,
                    justification=request.justification,
                    objects=objects,
                    source_request=request.id,
                    at=self._clock.now(),
                )
            )
        return Saved(name=chosen, count=count + 1)
