"""The Home tab, ``/apono history`` and *Request again*: thin listeners over the home service."""

from __future__ import annotations

from typing import Any, Protocol

from pydantic import ValidationError
from slack_bolt import Ack, App
from slack_sdk import WebClient

from app.home.service import HomeService
from app.slack.commands import CommandRouter
from app.slack.payloads import Click, Command, HomeOpened, Submission
from blocks.favorites import (
    FAVORITE_NOT_FOUND,
    NAME_REQUIRED,
    favorite_refused_modal,
    rename_favorite_modal,
)
from blocks.home import (
    ANY,
    HomeState,
    RowAction,
    details_modal,
    hidden_request_modal,
    history_modal,
    home_view,
    row_outcome_modal,
)
from blocks.ids import ActionId, BlockId, CallbackId, matching
from blocks.payloads import FavoriteRef, PageButton, RequestButton
from domain.ids import RequestId, UserId


class RowAnswer(Protocol):
    """A row action another feature owns (revoke, cancel, extend): does it, returns what to
    show."""

    def __call__(self, *, request_id: RequestId, by: UserId) -> str: ...


class OpenAgain(Protocol):
    """*Request again*: the request form pre-filled from an earlier request (requesting)."""

    def __call__(
        self, client: WebClient, *, trigger_id: str | None, user: UserId, request_id: RequestId
    ) -> None: ...


class OpenFavorite(Protocol):
    """A favorite's *Request*: the request form pre-filled from it (requesting)."""

    def __call__(
        self, client: WebClient, *, trigger_id: str | None, user: UserId, favorite_id: int
    ) -> None: ...


class HomeListeners:
    def __init__(
        self,
        *,
        home: HomeService,
        revoke: RowAnswer,
        cancel: RowAnswer,
        open_again: OpenAgain,
        save_favorite: OpenAgain,
        open_favorite: OpenFavorite,
        extend: RowAnswer | None = None,
    ) -> None:
        self._home = home
        self._rows: dict[str, RowAnswer] = {"revoke": revoke, "cancel": cancel}
        if extend is not None:
            self._rows["extend"] = extend
        self._open_again = open_again
        self._save_favorite = save_favorite
        self._open_favorite = open_favorite

    def register(self, app: App, *, commands: CommandRouter) -> None:
        app.event("app_home_opened")(self.on_home_opened)
        app.action(matching(ActionId.HOME_PAGE))(self.on_page)
        app.action(ActionId.HOME_FILTER_STATUS)(self.on_filter)
        app.action(ActionId.HOME_FILTER_BUNDLE)(self.on_filter)
        app.action(ActionId.HOME_FILTER_REQUESTER)(self.on_filter)
        app.action(matching(ActionId.HOME_ROW))(self.on_row)
        app.action(matching(ActionId.HOME_DETAIL))(self.on_detail)
        app.action(matching(ActionId.HISTORY_PAGE))(self.on_history_page)
        app.action(matching(ActionId.HOME_FAVORITE_OPEN))(self.on_favorite_open)
        app.action(matching(ActionId.HOME_FAVORITE_RENAME))(self.on_favorite_rename)
        app.action(matching(ActionId.HOME_FAVORITE_DELETE))(self.on_favorite_delete)
        app.view(CallbackId.FAVORITE_RENAME)(self.on_favorite_renamed)
        commands.add("history", self.on_history)

    # -- the Home tab ---------------------------------------------------------------------------

    def publish(self, client: WebClient, user: UserId, state: HomeState | None = None) -> None:
        client.views_publish(
            user_id=user, view=home_view(self._home.home_for(user=user, state=state))
        )

    def on_home_opened(self, event: dict[str, Any], client: WebClient) -> None:
        opened = HomeOpened.from_event(event)
        if opened.tab == "home":
            self.publish(client, opened.user)

    def _state(self, click: Click) -> HomeState:
        return HomeState.decode(click.view.private_metadata if click.view else None)

    def on_page(self, ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        click = Click.from_body(body)
        page = PageButton.parse(click.action.value)
        state = self._state(click)
        if page is not None and page.f in ("mine", "activity"):
            state = state.model_copy(update={page.f: page.p})
        self.publish(client, click.user, state)

    def on_filter(self, ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        click = Click.from_body(body)
        action = click.action
        field = {
            ActionId.HOME_FILTER_STATUS: "status",
            ActionId.HOME_FILTER_BUNDLE: "bundle",
            ActionId.HOME_FILTER_REQUESTER: "requester",
        }[ActionId(action.action_id)]
        value = action.selected_user if field == "requester" else action.selected
        try:
            state = self._state(click).model_copy(
                update={field: None if value in (None, ANY) else value, "activity": 0}
            )
            state = HomeState.model_validate(state.model_dump())
        except ValidationError:
            state = HomeState()
        self.publish(client, click.user, state)

    def on_row(self, ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        click = Click.from_body(body)
        user = click.user
        try:
            row = RowAction.model_validate_json(click.action.selected or "")
        except ValidationError:
            ack()
            return
        request_id = RequestId(row.r)
        if row.a == "details":
            ack()
            self._open_details(client, click, request_id)
            return
        if row.a == "again":
            ack()
            self._open_again(client, trigger_id=click.trigger_id, user=user, request_id=request_id)
            return
        if row.a == "favorite":
            ack()
            self._save_favorite(
                client, trigger_id=click.trigger_id, user=user, request_id=request_id
            )
            return
        answer = self._rows.get(row.a)
        if answer is None:
            ack()
            return
        # A revoke, a cancel or an extension is recorded before the ack (Slack never resends an
        # acked click).
        text = answer(request_id=request_id, by=user)
        ack()
        client.views_open(trigger_id=click.trigger_id, view=row_outcome_modal(text))
        self.publish(client, user, self._state(click))

    def on_detail(self, ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        click = Click.from_body(body)
        button = RequestButton.parse(click.action.value)
        if button is not None:
            self._open_details(client, click, RequestId(button.r))

    def _open_details(self, client: WebClient, click: Click, request_id: RequestId) -> None:
        found = self._home.details(request_id=request_id, viewer=click.user)
        view = (
            details_modal(
                summary=found.summary,
                history=found.history,
                approvers=tuple(a.id for a in found.approvers),
                removal_problem=found.removal_problem,
                progress=found.progress,
                own=found.summary.requester == click.user,
            )
            if found
            else hidden_request_modal()
        )
        client.views_open(trigger_id=click.trigger_id, view=view)

    # -- favorites -------------------------------------------------------------------------------

    def on_favorite_open(self, ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        click = Click.from_body(body)
        ref = FavoriteRef.parse(click.action.value)
        if ref is not None:
            self._open_favorite(
                client, trigger_id=click.trigger_id, user=click.user, favorite_id=ref.v
            )

    def on_favorite_rename(self, ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        click = Click.from_body(body)
        ref = FavoriteRef.parse(click.action.value)
        found = self._home.favorite(user=click.user, favorite_id=ref.v) if ref else None
        view = (
            rename_favorite_modal(favorite=found)
            if found is not None
            else favorite_refused_modal(FAVORITE_NOT_FOUND)
        )
        client.views_open(trigger_id=click.trigger_id, view=view)

    def on_favorite_renamed(self, ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        submitted = Submission.from_body(body)
        ref = FavoriteRef.parse(submitted.view.private_metadata)
        name = submitted.view.text(ActionId.FAVORITE_NAME)
        if ref is None or not (name or "").strip():
            ack(response_action="errors", errors={BlockId.FAVORITE_NAME.value: NAME_REQUIRED})
            return
        self._home.rename_favorite(user=submitted.user, favorite_id=ref.v, name=name)
        ack()
        self.publish(client, submitted.user)

    def on_favorite_delete(self, ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        click = Click.from_body(body)
        ref = FavoriteRef.parse(click.action.value)
        if ref is not None:
            self._home.delete_favorite(user=click.user, favorite_id=ref.v)
        self.publish(client, click.user, self._state(click))

    # -- history -----------------------------------------------------------------------------------

    def on_history(self, ack: Ack, body: dict[str, Any], client: WebClient, argument: str) -> None:
        ack()
        command = Command.from_body(body)
        page = self._home.history(user=command.user, page=0)
        client.views_open(trigger_id=command.trigger_id, view=history_modal(page))

    def on_history_page(self, ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        click = Click.from_body(body)
        page_button = PageButton.parse(click.action.value)
        if click.view is None or page_button is None:
            return
        page = self._home.history(user=click.user, page=page_button.p)
        client.views_update(view_id=click.view.id, hash=click.view.hash, view=history_modal(page))
