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

from app.admin import AdminConsole, Changed, FlowChanged, Invalid, Rejected
from app.core.outcomes import NotAllowed
from app.slack.payloads import Click, Submission, Suggestion, ViewPayload
from app.slack.views import metadata, update_view
from blocks.admin import (
    ADMIN_TITLE,
    DELETE_TITLE,
    MAX_DESCRIPTION,
    SAVE_TITLE,
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
    admin_notice,
    bundle_editor,
    bundle_options,
    bundle_review,
    changed_modal,
    delete_confirmation,
    done_modal,
    flow_modal,
    refused_modal,
    removal_options,
    resource_options,
    row_key,
    row_matching,
)
from blocks.admin.notices import description_too_long
from blocks.simple import INVALID_FORM, refused
from domain.ids import UserId

_log = logging.getLogger(__name__)

HomeRefresher = Callable[[WebClient, UserId], None]

# Where the editor's field errors are shown (errors attach to input blocks only).
_ERROR_BLOCKS = {
    "name": AdminBlock.NAME,
    "description": AdminBlock.DESCRIPTION,
    "objects": AdminBlock.INTEGRATION,
}
_ITEM = re.compile(r"[0-9]{1,18}")
"""A draft item ID, as the remove-one typeahead's option values carry it."""


class AdminListeners:
    def __init__(self, *, admin: AdminConsole, refresh_home: HomeRefresher | None = None) -> None:
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

    def _show(self, client: WebClient, click: Click, view: dict[str, Any]) -> None:
        """Open from Home; from a modal, stack on top of it (Slack allows three deep)."""
        if click.in_modal:
            client.views_push(trigger_id=click.trigger_id, view=view)
        else:
            client.views_open(trigger_id=click.trigger_id, view=view)

    def _tell(self, client: WebClient, click: Click, text: str) -> None:
        """A refusal or a reason, to the clicker only: in the modal they act in, or privately."""
        if click.view is not None and click.in_modal:
            update_view(client, click.view, admin_notice(text))
            return
        client.chat_postEphemeral(channel=click.reply_channel, user=click.user, text=text)

    def _refresh(self, client: WebClient, user: UserId) -> None:
        if self._refresh_home is not None:
            self._refresh_home(client, user)

    # -- Home and the lists -----------------------------------------------------------------------

    def on_new_bundle(self, ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        click = Click.from_body(body)
        editor = self._admin.editing.start_editing(by=click.user, bundle=None)
        if isinstance(editor, NotAllowed):
            self._tell(client, click, refused(editor.reason))
            return
        self._show(client, click, bundle_editor(editor))

    def on_bundle_menu(self, ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        click = Click.from_body(body)
        bundle = row_key(click.action.action_id) or ""
        if click.action.choice == BundleChoice.DELETE:
            plan = self._admin.deletion.delete_plan(by=click.user, bundle=bundle)
            if isinstance(plan, NotAllowed):
                self._tell(client, click, refused(plan.reason))
                return
            self._show(client, click, delete_confirmation(plan))
            return
        editor = self._admin.editing.start_editing(by=click.user, bundle=bundle)
        if isinstance(editor, NotAllowed):
            self._tell(client, click, refused(editor.reason))
            return
        self._show(client, click, bundle_editor(editor))

    def _list(self, user: UserId, page: ListPage) -> AdminList | NotAllowed:
        if page.k == "bundles":
            return self._admin.views.bundle_list(by=user, page=page.p)
        return self._admin.views.flow_list(by=user, page=page.p)

    def on_list(self, ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        click = Click.from_body(body)
        page = ListPage.parse(click.action.choice) or ListPage(k="bundles")
        found = self._list(click.user, page)
        if isinstance(found, NotAllowed):
            self._tell(client, click, refused(found.reason))
            return
        self._show(client, click, admin_list_modal(found))

    def on_list_page(self, ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        click = Click.from_body(body)
        page = ListPage.parse(click.action.choice)
        if click.view is None or page is None:
            return
        found = self._list(click.user, page)
        if isinstance(found, NotAllowed):
            self._tell(client, click, refused(found.reason))
            return
        update_view(client, click.view, admin_list_modal(found))

    def on_flow_menu(self, ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        click = Click.from_body(body)
        flow = row_key(click.action.action_id) or ""
        user = click.user
        choice = click.action.choice
        if choice == FlowChoice.BUNDLES:
            editor = self._admin.flows.flow_editor(by=user, flow=flow)
            if isinstance(editor, NotAllowed):
                self._tell(client, click, refused(editor.reason))
                return
            self._show(client, click, flow_modal(editor))
            return
        outcome = self._admin.flows.set_flow_active(
            by=user, flow=flow, active=choice == FlowChoice.ACTIVATE
        )
        self._after_flow_change(client, click, outcome, in_flow_modal=False)

    # -- the bundle editor ------------------------------------------------------------------------

    def _editor_change(
        self, click: Click, client: WebClient, change: Callable[[str, UserId], Any]
    ) -> None:
        view = click.view
        meta = metadata(view)
        if view is None or meta is None:
            return
        editor = change(meta.d, click.user)
        if isinstance(editor, NotAllowed):
            update_view(client, view, admin_notice(editor.reason))
            return
        update_view(client, view, bundle_editor(editor))

    def on_pick_integration(self, ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        click = Click.from_body(body)
        integration = click.action.choice
        self._editor_change(
            click,
            client,
            lambda d, u: self._admin.editing.pick_integration(
                draft_key=d, by=u, integration=integration
            ),
        )

    def on_add(self, ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        click = Click.from_body(body)
        view = click.view or ViewPayload()
        typed = (view.text(AdminAction.EDIT_PATTERN) or "").strip()
        resource = typed or view.selected(AdminAction.EDIT_RESOURCE)
        permission = view.selected(AdminAction.EDIT_PERMISSION)
        self._editor_change(
            click,
            client,
            lambda d, u: self._admin.editing.add_object(
                draft_key=d, by=u, resource=resource, permission=permission
            ),
        )

    def on_remove(self, ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        click = Click.from_body(body)
        action = click.action
        integration = None if action.action_id == AdminAction.EDIT_CLEAR else action.choice or None
        self._editor_change(
            click,
            client,
            lambda d, u: self._admin.editing.remove_objects(
                draft_key=d, by=u, integration=integration
            ),
        )

    def on_remove_one(self, ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        click = Click.from_body(body)
        item = click.action.choice
        if not _ITEM.fullmatch(item):
            return
        self._editor_change(
            click,
            client,
            lambda d, u: self._admin.editing.remove_object(draft_key=d, by=u, item=int(item)),
        )

    def on_suggest_removals(self, ack: Ack, body: dict[str, Any]) -> None:
        typed = Suggestion.from_body(body)
        meta = metadata(typed.view)
        if meta is None:
            ack(options=[])
            return
        found = self._admin.editing.suggest_removals(
            draft_key=meta.d, by=typed.user, query=typed.query
        )
        ack(options=removal_options(found))

    def on_suggest_resources(self, ack: Ack, body: dict[str, Any]) -> None:
        typed = Suggestion.from_body(body)
        meta = metadata(typed.view)
        if meta is None:
            ack(options=[])
            return
        found = self._admin.editing.suggest_resources(
            draft_key=meta.d, by=typed.user, query=typed.query
        )
        ack(options=resource_options(found))

    def on_review(self, ack: Ack, body: dict[str, Any]) -> None:
        submitted = Submission.from_body(body)
        view = submitted.view
        meta = metadata(view)
        if meta is None:
            ack(response_action="update", view=admin_notice(INVALID_FORM))
            return
        description = view.text(AdminAction.EDIT_DESCRIPTION)
        if description is not None and len(description.strip()) > MAX_DESCRIPTION:
            # Refused, not cut: what is saved is what the admin reviewed.
            too_long = {"description": description_too_long(MAX_DESCRIPTION)}
            ack(response_action="errors", errors=_errors(view, too_long))
            return
        outcome = self._admin.saving.review(
            draft_key=meta.d,
            by=submitted.user,
            name=view.text(AdminAction.EDIT_NAME),
            description=description,
        )
        if isinstance(outcome, NotAllowed):
            ack(response_action="update", view=done_modal(title=ADMIN_TITLE, text=outcome.reason))
        elif isinstance(outcome, Invalid):
            ack(response_action="errors", errors=_errors(view, outcome.errors))
        else:
            ack(response_action="push", view=bundle_review(outcome))

    def on_save(self, ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        submitted = Submission.from_body(body)
        meta = metadata(submitted.view)
        user = submitted.user
        outcome = (
            self._admin.saving.save(draft_key=meta.d, by=user)
            if meta is not None
            else Rejected(INVALID_FORM)
        )
        ack(response_action="update", view=_result_modal(outcome, title=SAVE_TITLE))
        if isinstance(outcome, Changed):
            self._refresh(client, user)

    def on_delete(self, ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        submitted = Submission.from_body(body)
        ref = BundleRef.parse(submitted.view.private_metadata)
        user = submitted.user
        outcome = (
            self._admin.deletion.delete_bundle(by=user, bundle=ref.b)
            if ref is not None
            else Rejected(INVALID_FORM)
        )
        ack(response_action="update", view=_result_modal(outcome, title=DELETE_TITLE))
        if isinstance(outcome, Changed):
            self._refresh(client, user)

    # -- a flow's bundles and active flag ---------------------------------------------------------

    def on_flow_toggle(self, ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        click = Click.from_body(body)
        ref = FlowRef.parse(click.action.choice)
        if ref is None or ref.on is None:
            return
        outcome = self._admin.flows.set_flow_active(by=click.user, flow=ref.f, active=ref.on)
        self._after_flow_change(client, click, outcome, in_flow_modal=True)

    def on_flow_add(self, ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        click = Click.from_body(body)
        ref = FlowRef.parse(click.view.private_metadata if click.view else None)
        if ref is None:
            return
        outcome = self._admin.flows.add_bundle_to_flow(
            by=click.user, flow=ref.f, bundle=click.action.choice
        )
        self._after_flow_change(client, click, outcome, in_flow_modal=True)

    def on_flow_remove(self, ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        click = Click.from_body(body)
        ref = FlowRef.parse(click.action.choice)
        if ref is None or ref.b is None:
            return
        outcome = self._admin.flows.remove_bundle_from_flow(by=click.user, flow=ref.f, bundle=ref.b)
        self._after_flow_change(client, click, outcome, in_flow_modal=True)

    def on_suggest_bundles(self, ack: Ack, body: dict[str, Any]) -> None:
        typed = Suggestion.from_body(body)
        ref = FlowRef.parse(typed.view.private_metadata if typed.view else None)
        if ref is None:
            ack(options=[])
            return
        names = self._admin.flows.suggest_bundles(by=typed.user, flow=ref.f, query=typed.query)
        ack(options=bundle_options(names))

    def _after_flow_change(
        self,
        client: WebClient,
        click: Click,
        outcome: FlowChanged | Rejected | NotAllowed,
        *,
        in_flow_modal: bool,
    ) -> None:
        user = click.user
        if isinstance(outcome, NotAllowed):
            self._tell(client, click, refused(outcome.reason))
            return
        if isinstance(outcome, Rejected):
            self._tell(client, click, outcome.reason)
            return
        view = click.view
        if in_flow_modal and view is not None and view.in_modal:
            update_view(client, view, flow_modal(outcome.editor))
        elif view is not None and view.in_modal:
            # A row of the flow list: show the list again, on the page it was on.
            page = ListPage.parse(view.private_metadata) or ListPage(k="flows")
            found = self._admin.views.flow_list(by=user, page=page.p)
            if not isinstance(found, NotAllowed):
                update_view(client, view, admin_list_modal(found))
        elif not outcome.changed:
            self._tell(client, click, outcome.summary)
        if outcome.changed:
            self._refresh(client, user)


def _result_modal(outcome: Changed | Rejected | NotAllowed, *, title: str) -> dict[str, Any]:
    if isinstance(outcome, Changed):
        return changed_modal(title=title, summary=outcome.summary)
    return refused_modal(
        title=title, reason=outcome.reason, forbidden=isinstance(outcome, NotAllowed)
    )


def _errors(view: ViewPayload, errors: dict[str, str]) -> dict[str, str]:
    inputs = view.input_block_ids
    placed: dict[str, str] = {}
    for field, message in errors.items():
        block = _ERROR_BLOCKS.get(field, AdminBlock.INTEGRATION).value
        if block not in inputs:
            block = inputs[0] if inputs else block
        placed[block] = f"{placed[block]} {message}" if block in placed else message
    return placed
