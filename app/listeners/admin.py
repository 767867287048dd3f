"""The admin console's listeners: ack, parse, one service call, render, one Slack call.

Whether the clicker is an admin is the service's question, asked on every call; a listener
only turns what Slack sent into typed values and shows the answer.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from app.listeners.request_modal import update_view
from app.listeners.state import input_block_ids, metadata, selected_value, text_value
from app.services.admin import AdminService, Changed, FlowChanged, Invalid, Rejected
from app.services.outcomes import NotAllowed
from blocks.admin import (
    AdminAction,
    AdminBlock,
    AdminCallback,
    AdminList,
    BundleChoice,
    BundleRef,
    FlowChoice,
    FlowRef,
    ListPage,
    admin_list_modal,
    bundle_editor,
    bundle_options,
    bundle_review,
    delete_confirmation,
    done_modal,
    flow_modal,
    removal_options,
    resource_options,
    row_key,
    row_matching,
)
from blocks.simple import notice_modal
from domain.ids import UserId

_log = logging.getLogger(__name__)

HomeRefresher = Callable[[WebClient, UserId], None]

# Where the editor's field errors are shown (errors attach to input blocks only).
_ERROR_BLOCKS = {"name": AdminBlock.NAME, "objects": AdminBlock.INTEGRATION}
_ITEM = re.compile(r"[0-9]{1,18}")
"""A draft item ID, as the remove-one typeahead's option values carry it."""


def _user(body: dict[str, Any]) -> UserId:
    return UserId(body["user"]["id"])


def _action(body: dict[str, Any]) -> dict[str, Any]:
    actions = body.get("actions") or [{}]
    return actions[0] if isinstance(actions[0], dict) else {}


def _choice(action: dict[str, Any]) -> str:
    """The picked option of a menu or select (or a button's value)."""
    option = action.get("selected_option")
    if isinstance(option, dict):
        return str(option.get("value", ""))
    return str(action.get("value", ""))


def _view(body: dict[str, Any]) -> dict[str, Any]:
    view = body.get("view")
    return view if isinstance(view, dict) else {}


def _in_modal(body: dict[str, Any]) -> bool:
    return _view(body).get("type") == "modal"


class AdminListeners:
    def __init__(self, *, admin: AdminService, refresh_home: HomeRefresher | None = None) -> None:
        self._admin = admin
        self._refresh_home = refresh_home

    def register(self, app: App) -> None:
        app.action(AdminAction.NEW_BUNDLE)(self.on_new_bundle)
        app.action(row_matching(AdminAction.BUNDLE_MENU))(self.on_bundle_menu)
        app.action(AdminAction.ALL_BUNDLES)(self.on_list)
        app.action(AdminAction.ALL_FLOWS)(self.on_list)
        app.action(row_matching(AdminAction.LIST_PAGE))(self.on_list_page)
        app.action(row_matching(AdminAction.FLOW_MENU))(self.on_flow_menu)
        app.action(AdminAction.EDIT_INTEGRATION)(self.on_pick_integration)
        app.action(AdminAction.EDIT_ADD)(self.on_add)
        app.action(row_matching(AdminAction.EDIT_REMOVE))(self.on_remove)
        app.action(AdminAction.EDIT_CLEAR)(self.on_remove)
        app.action(AdminAction.EDIT_REMOVE_ONE)(self.on_remove_one)
        app.options(AdminAction.EDIT_REMOVE_ONE)(self.on_suggest_removals)
        app.options(AdminAction.EDIT_RESOURCE)(self.on_suggest_resources)
        app.view(AdminCallback.EDITOR)(self.on_review)
        app.view(AdminCallback.REVIEW)(self.on_save)
        app.view(AdminCallback.DELETE)(self.on_delete)
        app.action(AdminAction.FLOW_TOGGLE)(self.on_flow_toggle)
        app.action(AdminAction.FLOW_ADD_BUNDLE)(self.on_flow_add)
        app.options(AdminAction.FLOW_ADD_BUNDLE)(self.on_suggest_bundles)
        app.action(row_matching(AdminAction.FLOW_REMOVE_BUNDLE))(self.on_flow_remove)
        # Inputs that do not dispatch actions: Slack sends nothing, but ack if it ever does.
        for passive in (
            AdminAction.EDIT_NAME,
            AdminAction.EDIT_DESCRIPTION,
            AdminAction.EDIT_RESOURCE,
            AdminAction.EDIT_PATTERN,
            AdminAction.EDIT_PERMISSION,
        ):
            app.action(passive)(lambda ack: ack())

    # -- showing things ---------------------------------------------------------------------------

    def _show(self, client: WebClient, body: dict[str, Any], view: dict[str, Any]) -> None:
        """Open from Home; from a modal, stack on top of it (Slack allows three deep)."""
        if _in_modal(body):
            client.views_push(trigger_id=body["trigger_id"], view=view)
        else:
            client.views_open(trigger_id=body["trigger_id"], view=view)

    def _tell(self, client: WebClient, body: dict[str, Any], text: str) -> None:
        """A refusal or a reason, to the clicker only: in the modal they act in, or privately."""
        if _in_modal(body):
            update_view(client, _view(body), notice_modal(title="Admin", text=text))
            return
        channel = (body.get("channel") or {}).get("id") or body["user"]["id"]
        client.chat_postEphemeral(channel=channel, user=body["user"]["id"], text=text)

    def _refresh(self, client: WebClient, user: UserId) -> None:
        if self._refresh_home is not None:
            self._refresh_home(client, user)

    # -- Home and the lists -----------------------------------------------------------------------

    def on_new_bundle(self, ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        editor = self._admin.start_editing(by=_user(body), bundle=None)
        if isinstance(editor, NotAllowed):
            self._tell(client, body, f"⛔ {editor.reason}")
            return
        self._show(client, body, bundle_editor(editor))

    def on_bundle_menu(self, ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        action = _action(body)
        bundle = row_key(str(action.get("action_id", ""))) or ""
        if _choice(action) == BundleChoice.DELETE:
            plan = self._admin.delete_plan(by=_user(body), bundle=bundle)
            if isinstance(plan, NotAllowed):
                self._tell(client, body, f"⛔ {plan.reason}")
                return
            self._show(client, body, delete_confirmation(plan))
            return
        editor = self._admin.start_editing(by=_user(body), bundle=bundle)
        if isinstance(editor, NotAllowed):
            self._tell(client, body, f"⛔ {editor.reason}")
            return
        self._show(client, body, bundle_editor(editor))

    def _list(self, user: UserId, page: ListPage) -> AdminList | NotAllowed:
        if page.k == "bundles":
            return self._admin.bundle_list(by=user, page=page.p)
        return self._admin.flow_list(by=user, page=page.p)

    def on_list(self, ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        page = ListPage.parse(_choice(_action(body))) or ListPage(k="bundles")
        found = self._list(_user(body), page)
        if isinstance(found, NotAllowed):
            self._tell(client, body, f"⛔ {found.reason}")
            return
        self._show(client, body, admin_list_modal(found))

    def on_list_page(self, ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        page = ListPage.parse(_choice(_action(body)))
        if page is None:
            return
        found = self._list(_user(body), page)
        if isinstance(found, NotAllowed):
            self._tell(client, body, f"⛔ {found.reason}")
            return
        update_view(client, _view(body), admin_list_modal(found))

    def on_flow_menu(self, ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        action = _action(body)
        flow = row_key(str(action.get("action_id", ""))) or ""
        user = _user(body)
        choice = _choice(action)
        if choice == FlowChoice.BUNDLES:
            editor = self._admin.flow_editor(by=user, flow=flow)
            if isinstance(editor, NotAllowed):
                self._tell(client, body, f"⛔ {editor.reason}")
                return
            self._show(client, body, flow_modal(editor))
            return
        outcome = self._admin.set_flow_active(
            by=user, flow=flow, active=choice == FlowChoice.ACTIVATE
        )
        self._after_flow_change(client, body, outcome, in_flow_modal=False)

    # -- the bundle editor ------------------------------------------------------------------------

    def _editor_change(
        self, body: dict[str, Any], client: WebClient, change: Callable[[str, UserId], Any]
    ) -> None:
        meta = metadata(_view(body))
        if meta is None:
            return
        editor = change(meta.d, _user(body))
        if isinstance(editor, NotAllowed):
            update_view(client, _view(body), notice_modal(title="Admin", text=editor.reason))
            return
        update_view(client, _view(body), bundle_editor(editor))

    def on_pick_integration(self, ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        integration = _choice(_action(body))
        self._editor_change(
            body,
            client,
            lambda d, u: self._admin.pick_integration(draft_key=d, by=u, integration=integration),
        )

    def on_add(self, ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        view = _view(body)
        typed = (text_value(view, AdminAction.EDIT_PATTERN) or "").strip()
        resource = typed or selected_value(view, AdminAction.EDIT_RESOURCE)
        permission = selected_value(view, AdminAction.EDIT_PERMISSION)
        self._editor_change(
            body,
            client,
            lambda d, u: self._admin.add_object(
                draft_key=d, by=u, resource=resource, permission=permission
            ),
        )

    def on_remove(self, ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        action = _action(body)
        integration = (
            None if action.get("action_id") == AdminAction.EDIT_CLEAR else _choice(action) or None
        )
        self._editor_change(
            body,
            client,
            lambda d, u: self._admin.remove_objects(draft_key=d, by=u, integration=integration),
        )

    def on_remove_one(self, ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        item = _choice(_action(body))
        if not _ITEM.fullmatch(item):
            return
        self._editor_change(
            body,
            client,
            lambda d, u: self._admin.remove_object(draft_key=d, by=u, item=int(item)),
        )

    def on_suggest_removals(self, ack: Ack, body: dict[str, Any]) -> None:
        meta = metadata(_view(body))
        if meta is None:
            ack(options=[])
            return
        found = self._admin.suggest_removals(
            draft_key=meta.d, by=_user(body), query=str(body.get("value", ""))
        )
        ack(options=removal_options(found))

    def on_suggest_resources(self, ack: Ack, body: dict[str, Any]) -> None:
        meta = metadata(_view(body))
        if meta is None:
            ack(options=[])
            return
        found = self._admin.suggest_resources(
            draft_key=meta.d, by=_user(body), query=str(body.get("value", ""))
        )
        ack(options=resource_options(found))

    def on_review(self, ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        meta = metadata(view)
        if meta is None:
            ack(response_action="update", view=notice_modal(title="Admin", text="Invalid form."))
            return
        outcome = self._admin.review(
            draft_key=meta.d,
            by=_user(body),
            name=text_value(view, AdminAction.EDIT_NAME),
            description=text_value(view, AdminAction.EDIT_DESCRIPTION),
        )
        if isinstance(outcome, NotAllowed):
            ack(response_action="update", view=done_modal(title="Admin", text=outcome.reason))
        elif isinstance(outcome, Invalid):
            ack(response_action="errors", errors=_errors(view, outcome.errors))
        else:
            ack(response_action="push", view=bundle_review(outcome))

    def on_save(
        self, ack: Ack, body: dict[str, Any], view: dict[str, Any], client: WebClient
    ) -> None:
        meta = metadata(view)
        user = _user(body)
        outcome = (
            self._admin.save(draft_key=meta.d, by=user)
            if meta is not None
            else Rejected("Invalid form.")
        )
        ack(response_action="update", view=_result_modal(outcome, title="Bundle"))
        if isinstance(outcome, Changed):
            self._refresh(client, user)

    def on_delete(
        self, ack: Ack, body: dict[str, Any], view: dict[str, Any], client: WebClient
    ) -> None:
        ref = BundleRef.parse(view.get("private_metadata"))
        user = _user(body)
        outcome = (
            self._admin.delete_bundle(by=user, bundle=ref.b)
            if ref is not None
            else Rejected("Invalid form.")
        )
        ack(response_action="update", view=_result_modal(outcome, title="Delete bundle"))
        if isinstance(outcome, Changed):
            self._refresh(client, user)

    # -- a flow's bundles and active flag ---------------------------------------------------------

    def on_flow_toggle(self, ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        ref = FlowRef.parse(_choice(_action(body)))
        if ref is None or ref.on is None:
            return
        outcome = self._admin.set_flow_active(by=_user(body), flow=ref.f, active=ref.on)
        self._after_flow_change(client, body, outcome, in_flow_modal=True)

    def on_flow_add(self, ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        ref = FlowRef.parse(_view(body).get("private_metadata"))
        if ref is None:
            return
        outcome = self._admin.add_bundle_to_flow(
            by=_user(body), flow=ref.f, bundle=_choice(_action(body))
        )
        self._after_flow_change(client, body, outcome, in_flow_modal=True)

    def on_flow_remove(self, ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        ref = FlowRef.parse(_choice(_action(body)))
        if ref is None or ref.b is None:
            return
        outcome = self._admin.remove_bundle_from_flow(by=_user(body), flow=ref.f, bundle=ref.b)
        self._after_flow_change(client, body, outcome, in_flow_modal=True)

    def on_suggest_bundles(self, ack: Ack, body: dict[str, Any]) -> None:
        ref = FlowRef.parse(_view(body).get("private_metadata"))
        if ref is None:
            ack(options=[])
            return
        names = self._admin.suggest_bundles(
            by=_user(body), flow=ref.f, query=str(body.get("value", ""))
        )
        ack(options=bundle_options(names))

    def _after_flow_change(
        self,
        client: WebClient,
        body: dict[str, Any],
        outcome: FlowChanged | Rejected | NotAllowed,
        *,
        in_flow_modal: bool,
    ) -> None:
        user = _user(body)
        if isinstance(outcome, NotAllowed):
            self._tell(client, body, f"⛔ {outcome.reason}")
            return
        if isinstance(outcome, Rejected):
            self._tell(client, body, outcome.reason)
            return
        if in_flow_modal and _in_modal(body):
            update_view(client, _view(body), flow_modal(outcome.editor))
        elif _in_modal(body):
            # A row of the flow list: show the list again, on the page it was on.
            page = ListPage.parse(_view(body).get("private_metadata")) or ListPage(k="flows")
            found = self._admin.flow_list(by=user, page=page.p)
            if not isinstance(found, NotAllowed):
                update_view(client, _view(body), admin_list_modal(found))
        elif not outcome.changed:
            self._tell(client, body, outcome.summary)
        if outcome.changed:
            self._refresh(client, user)


def _result_modal(outcome: Changed | Rejected | NotAllowed, *, title: str) -> dict[str, Any]:
    if isinstance(outcome, Changed):
        return done_modal(title=title, text=f"✅ You {outcome.summary}")
    prefix = "⛔" if isinstance(outcome, NotAllowed) else "⚠️"
    return done_modal(title=title, text=f"{prefix} {outcome.reason}")


def _errors(view: dict[str, Any], errors: dict[str, str]) -> dict[str, str]:
    inputs = input_block_ids(view)
    placed: dict[str, str] = {}
    for field, message in errors.items():
        block = _ERROR_BLOCKS.get(field, AdminBlock.INTEGRATION).value
        if block not in inputs:
            block = inputs[0] if inputs else block
        placed[block] = f"{placed[block]} {message}" if block in placed else message
    return placed
