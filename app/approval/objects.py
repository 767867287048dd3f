"""The full object list of a request, a page at a time, for those who may see it."""

from __future__ import annotations

from app.core.admins import Admins
from domain.ids import RequestId, UserId
from domain.objects import AccessObject
from domain.summary import RequestSummary
from store.unit_of_work import Store


class ObjectListService:
    def __init__(self, *, store: Store, admins: Admins) -> None:
        self._store = store
        self._admins = admins

    def page(
        self, *, request_id: RequestId, viewer: UserId, page: int, size: int
    ) -> tuple[RequestSummary, list[AccessObject], int] | None:
        with self._store.read() as uow:
            summary = uow.requests.summary(request_id)
            if summary is None:
                return None
            asked = {a.id for a in uow.requests.approvers(request_id)}
            allowed = viewer == summary.requester or viewer in asked
            if not allowed and not self._admins.is_admin(viewer):
                return None
            objects = uow.requests.objects(request_id)
        total = len(objects)
        start = max(0, min(page, max(0, (total - 1) // size))) * size
        return summary, objects[start : start + size], total
