"""The Home tab, ``/apono history`` and *Request again*: thin listeners over the home service."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from slack_bolt import Ack, App
from slack_sdk import WebClient

from app.listeners.commands import CommandListeners
from app.listeners.revoke import describe
from app.services.decisions import DecisionService
from app.services.home import HomeService
from app.services.outcomes import NotAllowed
from app.services.request_modal import DraftNotFound, RequestModalService
from app.services.revocation import RevocationService
from blocks.home import ANY, HomeState, RowAction, details_modal, history_modal, home_view
from blocks.ids import ActionId, matching
from blocks.payloads import PageButton, RequestButton
from blocks.request_modal import request_modal
from blocks.simple import notice_modal
from domain.ids import RequestId, UserId


def _action(body: dict[str, Any]) -> dict[str, Any]:
    actions = body.get("actions") or [{}]
    return actions[0] if isinstance(actions[0], dict) else {}


class HomeListeners:
    def __init__(
        self,
        *,
        home: HomeService,
        modal: RequestModalService,
        decisions: DecisionService,
        revocation: RevocationService,
    ) -> None:
        self._home = home
        self._modal = modal
        self._decisions = decisions
        self._revocation = revocation

    def register(self, app: App, *, commands: CommandListeners) -> None:
        app.event("app_home_opened")(self.on_home_opened)
        app.action(matching(ActionId.HOME_PAGE))(self.on_page)
        app.action(ActionId.HOME_FILTER_STATUS)(self.on_filter)
        app.action(ActionId.HOME_FILTER_BUNDLE)(self.on_filter)
        app.action(ActionId.HOME_FILTER_REQUESTER)(self.on_filter)
        app.action(matching(ActionId.HOME_ROW))(self.on_row)
        app.action(matching(ActionId.HOME_DETAIL))(self.on_detail)
        app.action(ActionId.OPEN_REQUEST)(self.on_open_request)
        app.action(ActionId.REQUEST_AGAIN)(self.on_request_again)
        app.action(matching(ActionId.HISTORY_PAGE))(self.on_history_page)
        commands.add("history", self.on_history)

    # -- the Home tab ---------------------------------------------------------------------------

    def publish(self, client: WebClient, user: UserId, state: HomeState | None = None) -> None:
        client.views_publish(
            user_id=user, view=home_view(self._home.home_for(user=user, state=state))
        )

    def on_home_opened(self, event: dict[str, Any], client: WebClient) -> None:
        if event.get("tab", "home") == "home":
            self.publish(client, UserId(event["user"]))

    def _state(self, body: dict[str, Any]) -> HomeState:
        return HomeState.decode((body.get("view") or {}).get("private_metadata"))

    def on_page(self, ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        page = PageButton.parse(_action(body).get("value"))
        state = self._state(body)
        if page is not None and page.f in ("mine", "activity"):
            state = state.model_copy(update={page.f: page.p})
        self.publish(client, UserId(body["user"]["id"]), state)

    def on_filter(self, ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        action = _action(body)
        field = {
            ActionId.HOME_FILTER_STATUS: "status",
            ActionId.HOME_FILTER_BUNDLE: "bundle",
            ActionId.HOME_FILTER_REQUESTER: "requester",
        }[ActionId(action["action_id"])]
        if field == "requester":
            value = action.get("selected_user")
        else:
            value = (action.get("selected_option") or {}).get("value")
        try:
            state = self._state(body).model_copy(
                update={field: None if value in (None, ANY) else value, "activity": 0}
            )
            state = HomeState.model_validate(state.model_dump())
        except ValidationError:
            state = HomeState()
        self.publish(client, UserId(body["user"]["id"]), state)

    def on_row(self, ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        user = UserId(body["user"]["id"])
        try:
            row = RowAction.model_validate_json(
                (_action(body).get("selected_option") or {}).get("value", "")
            )
        except ValidationError:
            ack()
            return
        request_id = RequestId(row.r)
        if row.a == "details":
            ack()
            self._open_details(client, body, request_id)
            return
        if row.a == "again":
            ack()
            self._open_again(client, body, request_id)
            return
        # A revoke or a cancel is recorded before the ack (Slack never resends an acked click).
        if row.a == "revoke":
            text = describe(
                self._revocation.revoke(request_id=request_id, flow_claim=None, by=user), row.r
            )
        else:
            outcome = self._decisions.cancel(request_id=request_id, flow_claim=None, clicker=user)
            text = (
                f"⛔ {outcome.reason}"
                if isinstance(outcome, NotAllowed)
                else f"↩️ {row.r} canceled."
            )
        ack()
        client.views_open(
            trigger_id=body["trigger_id"], view=notice_modal(title="Your request", text=text)
        )
        self.publish(client, user, self._state(body))

    def on_detail(self, ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        button = RequestButton.parse(_action(body).get("value"))
        if button is not None:
            self._open_details(client, body, RequestId(button.r))

    def _open_details(self, client: WebClient, body: dict[str, Any], request_id: RequestId) -> None:
        found = self._home.details(request_id=request_id, viewer=UserId(body["user"]["id"]))
        view = (
            details_modal(
                summary=found.summary,
                history=found.history,
                approvers=tuple(a.id for a in found.approvers),
                removal_problem=found.removal_problem,
            )
            if found
            else notice_modal(title="Request", text="You cannot see that request.")
        )
        client.views_open(trigger_id=body["trigger_id"], view=view)

    # -- requesting ------------------------------------------------------------------------------

    def on_open_request(self, ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        model = self._modal.open(user=UserId(body["user"]["id"]))
        client.views_open(trigger_id=body["trigger_id"], view=request_modal(model))

    def on_request_again(self, ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        button = RequestButton.parse(_action(body).get("value"))
        if button is not None:
            self._open_again(client, body, RequestId(button.r))

    def _open_again(self, client: WebClient, body: dict[str, Any], request_id: RequestId) -> None:
        user = UserId(body["user"]["id"])
        try:
            view = request_modal(self._modal.open_again(user=user, request_id=request_id))
        except DraftNotFound as refused:
            view = notice_modal(title="Request again", text=str(refused))
        client.views_open(trigger_id=body["trigger_id"], view=view)

    # -- history -----------------------------------------------------------------------------------

    def on_history(self, ack: Ack, body: dict[str, Any], client: WebClient, argument: str) -> None:
        ack()
        page = self._home.history(user=UserId(body["user_id"]), page=0)
        client.views_open(trigger_id=body["trigger_id"], view=history_modal(page))

    def on_history_page(self, ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        page_button = PageButton.parse(_action(body).get("value"))
        if page_button is None:
            return
        page = self._home.history(user=UserId(body["user"]["id"]), page=page_button.p)
        view = body.get("view") or {}
        client.views_update(view_id=view["id"], hash=view.get("hash"), view=history_modal(page))
