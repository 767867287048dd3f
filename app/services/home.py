"""What a person's Home tab shows."""

from __future__ import annotations

from blocks.home import HomeModel
from domain.ids import UserId
from store.unit_of_work import Store


class HomeService:
    def __init__(self, *, store: Store) -> None:
        self._store = store

    def home_for(self, *, user: UserId) -> HomeModel:
        with self._store.read() as uow:
            ids = uow.requests.recent_for(user, limit=20)
            summaries = [s for s in (uow.requests.summary(i) for i in ids) if s is not None]
        return HomeModel(user=user, mine=tuple(summaries))
