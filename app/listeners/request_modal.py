"""Listeners of the request modal: ack at once, parse, call one service, render, one Slack call."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from app.listeners.state import block_for, form_input, metadata, selected_value
from app.services.request_modal import DraftNotFound, FormInput, RequestModalService
from app.services.submission import Refused, SubmissionService
from blocks.ids import ActionId, CallbackId, matching
from blocks.payloads import ObjectOption
from blocks.request_modal import (
    RequestModal,
    bundle_suggestions,
    object_suggestions,
    request_modal,
    request_submitted,
    resource_suggestions,
)
from blocks.simple import notice_modal
from domain.drafts import Mode
from domain.ids import UserId
from domain.lifecycle import Status

_log = logging.getLogger(__name__)

Change = Callable[[str, UserId, FormInput, dict[str, Any]], RequestModal]


def update_view(client: WebClient, view: dict[str, Any], payload: dict[str, Any]) -> None:
    """Update in place; if another update landed first, render ours anyway (it is newer data)."""
    try:
        client.views_update(view_id=view["id"], hash=view.get("hash"), view=payload)
    except SlackApiError as error:
        if error.response.get("error") != "hash_conflict":
            raise
        client.views_update(view_id=view["id"], view=payload)


class RequestModalListeners:
    def __init__(self, *, modal: RequestModalService, submission: SubmissionService) -> None:
        self._modal = modal
        self._submission = submission

    def register(self, app: App) -> None:
        changes: dict[ActionId, Change] = {
            ActionId.MODE_BUNDLE: lambda d, u, f, a: self._modal.switch_mode(
                draft_key=d, user=u, mode=Mode.BUNDLE, form=f
            ),
            ActionId.MODE_INTEGRATIONS: lambda d, u, f, a: self._modal.switch_mode(
                draft_key=d, user=u, mode=Mode.INTEGRATIONS, form=f
            ),
            ActionId.PICK_BUNDLE: lambda d, u, f, a: self._modal.pick_bundle(
                draft_key=d, user=u, bundle=_selected(a), form=f
            ),
            ActionId.PICK_FLOW: lambda d, u, f, a: self._modal.pick_flow(
                draft_key=d, user=u, flow=_selected(a), form=f
            ),
            ActionId.SELECT_ALL: lambda d, u, f, a: self._modal.select_all(
                draft_key=d, user=u, integration=None, form=f
            ),
            ActionId.SELECT_INTEGRATION: lambda d, u, f, a: self._modal.select_all(
                draft_key=d, user=u, integration=str(a.get("value", "")), form=f
            ),
            ActionId.CLEAR: lambda d, u, f, a: self._modal.clear(
                draft_key=d, user=u, integration=None, form=f
            ),
            ActionId.CLEAR_INTEGRATION: lambda d, u, f, a: self._modal.clear(
                draft_key=d, user=u, integration=str(a.get("value", "")), form=f
            ),
            ActionId.ADD_OBJECT: self._add_object,
            ActionId.PICK_INTEGRATION: lambda d, u, f, a: self._modal.pick_integration(
                draft_key=d, user=u, integration=_selected(a), form=f
            ),
            ActionId.PICK_RESOURCE: lambda d, u, f, a: self._modal.pick_resource(
                draft_key=d, user=u, resource=_selected(a), form=f
            ),
            ActionId.ADD_PLAIN: lambda d, u, f, a: self._modal.add_plain(
                draft_key=d, user=u, form=f
            ),
        }
        for action_id, change in changes.items():
            app.action(matching(action_id))(self._on_change(change))
        app.options(ActionId.ADD_OBJECT)(self._suggest_objects)
        app.options(ActionId.PICK_BUNDLE)(self._suggest_bundles)
        app.options(ActionId.PICK_RESOURCE)(self._suggest_resources)
        app.view(CallbackId.REQUEST)(self._submit)
        # Typing and choosing in plain inputs sends nothing; these are only ever dispatched by
        # Slack for inputs in `actions` blocks, so acking them is all there is to do.
        for passive in (ActionId.DURATION, ActionId.JUSTIFICATION, ActionId.PICK_PERMISSION):
            app.action(passive)(lambda ack: ack())

    def _add_object(
        self, draft: str, user: UserId, form: FormInput, action: dict[str, Any]
    ) -> RequestModal:
        option = ObjectOption.parse(_selected(action))
        if option is None:
            return self._modal.render(draft_key=draft, user=user)
        return self._modal.add_object(draft_key=draft, user=user, object_key=option.o, form=form)

    def _on_change(self, change: Change) -> Callable[..., None]:
        def listener(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
            ack()
            view = body.get("view") or {}
            meta = metadata(view)
            user = UserId(body["user"]["id"])
            if meta is None:
                return
            action = (body.get("actions") or [{}])[0]
            try:
                model = change(meta.d, user, form_input(view), action)
            except DraftNotFound as expired:
                update_view(client, view, notice_modal(title="Request access", text=str(expired)))
                return
            update_view(client, view, request_modal(model))

        return listener

    def _suggest_objects(self, ack: Ack, body: dict[str, Any]) -> None:
        meta = metadata(body.get("view") or {})
        if meta is None:
            ack(options=[])
            return
        try:
            found = self._modal.suggest_objects(
                draft_key=meta.d, user=UserId(body["user"]["id"]), query=str(body.get("value", ""))
            )
        except DraftNotFound:
            found = []
        ack(option_groups=object_suggestions(found)) if found else ack(options=[])

    def _suggest_bundles(self, ack: Ack, body: dict[str, Any]) -> None:
        bundles = self._modal.suggest_bundles(
            user=UserId(body["user"]["id"]), query=str(body.get("value", ""))
        )
        ack(options=bundle_suggestions(bundles))

    def _suggest_resources(self, ack: Ack, body: dict[str, Any]) -> None:
        meta = metadata(body.get("view") or {})
        if meta is None:
            ack(options=[])
            return
        try:
            found = self._modal.suggest_resources(
                draft_key=meta.d, user=UserId(body["user"]["id"]), query=str(body.get("value", ""))
            )
        except DraftNotFound:
            found = []
        ack(options=resource_suggestions(found))

    def _submit(self, ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        meta = metadata(view)
        user = UserId(body["user"]["id"])
        if meta is None:
            ack(response_action="errors", errors=_errors(view, {"objects": "Invalid form."}))
            return
        # The duration menu's block ID moves with the flow; read whichever is there.
        form = form_input(view)
        outcome = self._submission.submit(draft_key=meta.d, user=user, form=form)
        if isinstance(outcome, Refused):
            ack(
                response_action="errors",
                errors=_errors(view, {k.value: v for k, v in outcome.errors.items()}),
            )
            return
        summary = f"{outcome.object_count:,} objects" + (
            f" of bundle *{outcome.bundle}*" if outcome.bundle else ""
        )
        if outcome.status is Status.APPROVED:
            next_step = "Approved automatically; your access details arrive in a DM shortly."
        elif outcome.status is Status.FAILED:
            next_step = "It could not be sent for approval: nobody but you could approve it."
        else:
            approvers = ", ".join(f"<@{a}>" for a in outcome.approvers[:10])
            next_step = f"Waiting for approval by {approvers}. You'll get a DM at each change."
        ack(
            response_action="update",
            view=request_submitted(
                request_id=outcome.request_id, summary=summary, next_step=next_step
            ),
        )


def _selected(action: dict[str, Any]) -> str:
    option = action.get("selected_option")
    if isinstance(option, dict):
        return str(option.get("value", ""))
    return str(action.get("value", ""))


def _errors(view: dict[str, Any], errors: dict[str, str]) -> dict[str, str]:
    placed: dict[str, str] = {}
    for field, message in errors.items():
        block_id = block_for(view, field)
        if block_id is not None:
            placed[block_id] = (placed[block_id] + " " + message) if block_id in placed else message
    return placed


__all__ = ["RequestModalListeners", "selected_value", "update_view"]
