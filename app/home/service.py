"""What a person's Home tab and history show: pages of requests, never all of them."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Protocol

from app.core.admins import Admins
from app.integrations.health import IntegrationHealth
from blocks.admin import AdminHome, HealthLine
from blocks.favorites import MAX_FAVORITES, MAX_NAME, FavoriteLine
from blocks.home import HomeModel, HomeState
from domain.approval_steps import ApprovalProgress
from domain.ids import RequestId, UserId
from domain.lifecycle import Status, StatusChange
from domain.summary import Page, RequestSummary
from store.repositories.favorites import Favorite
from store.repositories.requests import AskedApprover
from store.unit_of_work import Store

PAGE_SIZE = 10
WAITING_SIZE = 5


@dataclass(frozen=True, slots=True)
class Details:
    summary: RequestSummary
    history: tuple[StatusChange, ...]
    approvers: tuple[AskedApprover, ...]
    removal_problem: str | None = None
    """Why its access could not be removed yet, while that lasts."""
    progress: ApprovalProgress | None = None
    """Each approval step and its approvals (README, "Approval steps")."""


class AdminSection(Protocol):
    """The admin console's part of an admin's Home tab (the admin feature provides it)."""

    def home_for(self, *, viewer: UserId) -> AdminHome | None: ...


class HomeService:
    def __init__(
        self,
        *,
        store: Store,
        admins: Admins,
        admin_console: AdminSection | None = None,
        health: IntegrationHealth | None = None,
    ) -> None:
        self._store = store
        self._admins = admins
        self._admin_console = admin_console
        self._health = health

    def home_for(self, *, user: UserId, state: HomeState | None = None) -> HomeModel:
        state = state or HomeState()
        admin = self._admins.is_admin(user)
        with self._store.read() as uow:
            # Requests made for them by a teammate are theirs too (README, "On behalf of a
            # teammate").
            mine = uow.requests.involving_page(user=user, number=state.mine, size=PAGE_SIZE)
            # Most people have nothing waiting: one count says so.
            waiting = (
                uow.requests.page(number=0, size=WAITING_SIZE, waiting_for=user)
                if uow.requests.waiting_count(user=user)
                else Page(rows=(), number=0, size=WAITING_SIZE, total=0)
            )
            activity = (
                uow.requests.page(
                    number=state.activity,
                    size=PAGE_SIZE,
                    requester=UserId(state.requester) if state.requester else None,
                    statuses=[Status(state.status)] if state.status else (),
                    bundle=state.bundle,
                )
                if admin
                else None
            )
            bundles = tuple(sorted(uow.requests.bundles_requested())) if admin else ()
            favorites = tuple(_line(f) for f in uow.favorites.of(user, limit=MAX_FAVORITES))
        console = (
            self._admin_console.home_for(viewer=user)
            if admin and self._admin_console is not None
            else None
        )
        if console is not None and self._health is not None:
            console = replace(console, health=self._health_lines())
        return HomeModel(
            user=user,
            state=state,
            mine=mine,
            waiting=waiting,
            activity=activity,
            bundles=bundles,
            admin=console,
            favorites=favorites,
        )

    # -- favorites: listed, renamed, deleted (saving them is the requesting feature's) ------------

    def favorite(self, *, user: UserId, favorite_id: int) -> FavoriteLine | None:
        """One of ``user``'s favorites; ``None`` if it is gone or someone else's."""
        with self._store.read() as uow:
            found = uow.favorites.get(favorite_id)
        return _line(found) if found is not None and found.user_id == user else None

    def rename_favorite(self, *, user: UserId, favorite_id: int, name: str | None) -> bool:
        """Rename one of ``user``'s favorites; a blank name leaves it as it was."""
        chosen = " ".join((name or "").split())[:MAX_NAME]
        if not chosen:
            return False
        with self._store.write() as uow:
            return uow.favorites.rename(favorite_id=favorite_id, user_id=user, name=chosen)

    def delete_favorite(self, *, user: UserId, favorite_id: int) -> bool:
        with self._store.write() as uow:
            return uow.favorites.delete(favorite_id=favorite_id, user_id=user)

    def _health_lines(self) -> tuple[HealthLine, ...]:
        assert self._health is not None
        return tuple(
            HealthLine(
                name=s.name,
                type=s.type_name,
                problems=s.problems,
                checked_at=s.checked_at,
            )
            for s in self._health.statuses()
        )

    def history(self, *, user: UserId, page: int) -> Page:
        with self._store.read() as uow:
            return uow.requests.involving_page(user=user, number=max(page, 0), size=PAGE_SIZE)

    def details(self, *, request_id: RequestId, viewer: UserId) -> Details | None:
        """The whole breakdown, for the requester, the teammate it was asked for, an approver
        asked, or an admin."""
        with self._store.read() as uow:
            summary = uow.requests.summary(request_id)
            if summary is None:
                return None
            approvers = tuple(uow.requests.approvers(request_id))
            history = tuple(uow.requests.history(request_id))
            problem = uow.removals.get(request_id)
            progress = uow.requests.progress(request_id)
        allowed = viewer in {summary.requester, summary.holder} | {a.id for a in approvers}
        if not allowed and not self._admins.is_admin(viewer):
            return None
        return Details(
            summary=summary,
            history=history,
            approvers=approvers,
            removal_problem=problem.problem if problem else None,
            progress=progress,
        )


def _line(favorite: Favorite) -> FavoriteLine:
    return FavoriteLine(
        id=favorite.id,
        name=favorite.name,
        bundle=favorite.bundle,
        object_count=favorite.object_count,
        flow=favorite.flow,
        duration=favorite.duration,
    )
