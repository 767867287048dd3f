"""Listeners of the request modal: ack at once, parse, call one service, render, one Slack call."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from app.requesting.favorites import FavoriteRefused, FavoritesService
from app.requesting.form import block_for, form_input
from app.requesting.modal import DraftNotFound, FormInput, RequestModalService
from app.requesting.submission import Refused, SubmissionService
from app.slack.commands import BARE, CommandRouter
from app.slack.payloads import Action, Click, Command, Submission, Suggestion, ViewPayload
from app.slack.views import metadata, update_view
from blocks.favorites import favorite_refused_modal, favorite_saved_modal, save_favorite_modal
from blocks.home import request_again_refused
from blocks.ids import ActionId, CallbackId, matching
from blocks.payloads import FavoriteRef, ObjectOption, RequestButton, SaveFavoriteMetadata
from blocks.request_modal import (
    RequestModal,
    bundle_suggestions,
    form_expired,
    object_suggestions,
    request_modal,
    request_submitted,
    resource_suggestions,
)
from blocks.simple import INVALID_FORM
from domain.drafts import Mode
from domain.ids import RequestId, UserId

_log = logging.getLogger(__name__)

Change = Callable[[str, UserId, FormInput, Action], RequestModal]
HomeRefresher = Callable[[WebClient, UserId], None]


class RequestModalListeners:
    def __init__(
        self,
        *,
        modal: RequestModalService,
        submission: SubmissionService,
        favorites: FavoritesService,
    ) -> None:
        self._modal = modal
        self._submission = submission
        self._favorites = favorites
        self._refresh_home: HomeRefresher | None = None

    def register(
        self, app: App, *, commands: CommandRouter, refresh_home: HomeRefresher | None = None
    ) -> None:
        self._refresh_home = refresh_home
        commands.add(BARE, self.on_request_command)
        commands.add("request", self.on_request_command)
        app.action(ActionId.OPEN_REQUEST)(self.on_open_request)
        app.action(ActionId.REQUEST_AGAIN)(self.on_request_again)
        app.action(ActionId.SAVE_FAVORITE)(self.on_save_favorite)
        app.view(CallbackId.FAVORITE_SAVE)(self._save_favorite)
        changes: dict[ActionId, Change] = {
            ActionId.MODE_BUNDLE: lambda d, u, f, a: self._modal.switch_mode(
                draft_key=d, user=u, mode=Mode.BUNDLE, form=f
            ),
            ActionId.MODE_INTEGRATIONS: lambda d, u, f, a: self._modal.switch_mode(
                draft_key=d, user=u, mode=Mode.INTEGRATIONS, form=f
            ),
            ActionId.PICK_BUNDLE: lambda d, u, f, a: self._modal.pick_bundle(
                draft_key=d, user=u, bundle=a.choice, form=f
            ),
            ActionId.PICK_FLOW: lambda d, u, f, a: self._modal.pick_flow(
                draft_key=d, user=u, flow=a.choice, form=f
            ),
            ActionId.SELECT_ALL: lambda d, u, f, a: self._modal.select_all(
                draft_key=d, user=u, integration=None, form=f
            ),
            ActionId.SELECT_INTEGRATION: lambda d, u, f, a: self._modal.select_all(
                draft_key=d, user=u, integration=a.value or "", form=f
            ),
            ActionId.CLEAR: lambda d, u, f, a: self._modal.clear(
                draft_key=d, user=u, integration=None, form=f
            ),
            ActionId.CLEAR_INTEGRATION: lambda d, u, f, a: self._modal.clear(
                draft_key=d, user=u, integration=a.value or "", form=f
            ),
            ActionId.ADD_OBJECT: self._add_object,
            ActionId.PICK_INTEGRATION: lambda d, u, f, a: self._modal.pick_integration(
                draft_key=d, user=u, integration=a.choice, form=f
            ),
            ActionId.PICK_RESOURCE: lambda d, u, f, a: self._modal.pick_resource(
                draft_key=d, user=u, resource=a.choice, form=f
            ),
            ActionId.ADD_PLAIN: lambda d, u, f, a: self._modal.add_plain(
                draft_key=d, user=u, form=f
            ),
            ActionId.START_RECENT: self._start_from_request,
            ActionId.START_FAVORITE: self._start_from_favorite,
        }
        for action_id, change in changes.items():
            app.action(matching(action_id))(self._on_change(change))
        app.options(ActionId.ADD_OBJECT)(self._suggest_objects)
        app.options(ActionId.PICK_BUNDLE)(self._suggest_bundles)
        app.options(ActionId.PICK_RESOURCE)(self._suggest_resources)
        app.view(CallbackId.REQUEST)(self._submit)
        # Typing and choosing in plain inputs sends nothing; these are only ever dispatched by
        # Slack for inputs in `actions` blocks, so acking them is all there is to do.
        for passive in (
            ActionId.DURATION,
            ActionId.JUSTIFICATION,
            ActionId.PICK_PERMISSION,
            ActionId.BREAK_GLASS,
            ActionId.FAVORITE_NAME,
        ):
            app.action(passive)(lambda ack: ack())

    # -- opening the form: /apono, *Request access* and *Request again* on Home ------------------

    def on_request_command(
        self, ack: Ack, body: dict[str, Any], client: WebClient, argument: str
    ) -> None:
        ack()
        command = Command.from_body(body)
        self._open(client, trigger_id=command.trigger_id, user=command.user)

    def on_open_request(self, ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        click = Click.from_body(body)
        self._open(client, trigger_id=click.trigger_id, user=click.user)

    def on_request_again(self, ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        click = Click.from_body(body)
        button = RequestButton.parse(click.action.value)
        if button is not None:
            self.open_again(
                client, trigger_id=click.trigger_id, user=click.user, request_id=RequestId(button.r)
            )

    def _open(self, client: WebClient, *, trigger_id: str | None, user: UserId) -> None:
        # The trigger is valid for 3 s and only once: open first, then nothing slow.
        client.views_open(trigger_id=trigger_id, view=request_modal(self._modal.open(user=user)))

    def open_again(
        self, client: WebClient, *, trigger_id: str | None, user: UserId, request_id: RequestId
    ) -> None:
        """The form pre-filled from an earlier request (Home's row menu uses this too)."""
        try:
            view = request_modal(self._modal.open_again(user=user, request_id=request_id))
        except DraftNotFound as refusal:
            view = request_again_refused(str(refusal))
        client.views_open(trigger_id=trigger_id, view=view)

    def open_favorite(
        self, client: WebClient, *, trigger_id: str | None, user: UserId, favorite_id: int
    ) -> None:
        """The form pre-filled from a favorite (Home's *Request* button)."""
        try:
            view = request_modal(self._modal.open_favorite(user=user, favorite_id=favorite_id))
        except DraftNotFound as refusal:
            view = request_again_refused(str(refusal))
        client.views_open(trigger_id=trigger_id, view=view)

    # -- favorites --------------------------------------------------------------------------------

    def on_save_favorite(self, ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        click = Click.from_body(body)
        button = RequestButton.parse(click.action.value)
        if button is not None:
            self.save_favorite(
                client, trigger_id=click.trigger_id, user=click.user, request_id=RequestId(button.r)
            )

    def save_favorite(
        self, client: WebClient, *, trigger_id: str | None, user: UserId, request_id: RequestId
    ) -> None:
        """*Save as favorite*: the naming modal (Home's details and row menu use this too)."""
        try:
            naming = self._favorites.naming(user=user, request_id=request_id)
            view = save_favorite_modal(
                request_id=naming.request_id, name=naming.name, object_count=naming.object_count
            )
        except FavoriteRefused as refusal:
            view = favorite_refused_modal(str(refusal))
        client.views_open(trigger_id=trigger_id, view=view)

    def _save_favorite(self, ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        submitted = Submission.from_body(body)
        meta = SaveFavoriteMetadata.parse(submitted.view.private_metadata)
        if meta is None:
            ack(response_action="update", view=favorite_refused_modal(INVALID_FORM))
            return
        try:
            saved = self._favorites.save(
                user=submitted.user,
                request_id=RequestId(meta.r),
                name=submitted.view.text(ActionId.FAVORITE_NAME),
            )
        except FavoriteRefused as refusal:
            ack(response_action="update", view=favorite_refused_modal(str(refusal)))
            return
        ack(response_action="update", view=favorite_saved_modal(name=saved.name, count=saved.count))
        if self._refresh_home is not None:
            self._refresh_home(client, submitted.user)

    # -- changing the form ------------------------------------------------------------------------

    def _start_from_request(
        self, draft: str, user: UserId, form: FormInput, action: Action
    ) -> RequestModal:
        button = RequestButton.parse(action.value)
        if button is None:
            return self._modal.render(draft_key=draft, user=user)
        return self._modal.start_from_request(
            draft_key=draft, user=user, request_id=RequestId(button.r)
        )

    def _start_from_favorite(
        self, draft: str, user: UserId, form: FormInput, action: Action
    ) -> RequestModal:
        ref = FavoriteRef.parse(action.value)
        if ref is None:
            return self._modal.render(draft_key=draft, user=user)
        return self._modal.start_from_favorite(draft_key=draft, user=user, favorite_id=ref.v)

    def _add_object(
        self, draft: str, user: UserId, form: FormInput, action: Action
    ) -> RequestModal:
        option = ObjectOption.parse(action.choice)
        if option is None:
            return self._modal.render(draft_key=draft, user=user)
        return self._modal.add_object(draft_key=draft, user=user, object_key=option.o, form=form)

    def _on_change(self, change: Change) -> Callable[..., None]:
        def listener(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
            ack()
            click = Click.from_body(body)
            view = click.view
            meta = metadata(view)
            if view is None or meta is None:
                return
            try:
                model = change(meta.d, click.user, form_input(view), click.action)
            except DraftNotFound as expired:
                update_view(client, view, form_expired(str(expired)))
                return
            update_view(client, view, request_modal(model))

        return listener

    def _suggest_objects(self, ack: Ack, body: dict[str, Any]) -> None:
        typed = Suggestion.from_body(body)
        meta = metadata(typed.view)
        if meta is None:
            ack(options=[])
            return
        try:
            found = self._modal.suggest_objects(
                draft_key=meta.d, user=typed.user, query=typed.query
            )
        except DraftNotFound:
            found = []
        ack(option_groups=object_suggestions(found)) if found else ack(options=[])

    def _suggest_bundles(self, ack: Ack, body: dict[str, Any]) -> None:
        typed = Suggestion.from_body(body)
        bundles = self._modal.suggest_bundles(user=typed.user, query=typed.query)
        ack(options=bundle_suggestions(bundles))

    def _suggest_resources(self, ack: Ack, body: dict[str, Any]) -> None:
        typed = Suggestion.from_body(body)
        meta = metadata(typed.view)
        if meta is None:
            ack(options=[])
            return
        try:
            found = self._modal.suggest_resources(
                draft_key=meta.d, user=typed.user, query=typed.query
            )
        except DraftNotFound:
            found = []
        ack(options=resource_suggestions(found))

    def _submit(self, ack: Ack, body: dict[str, Any]) -> None:
        submitted = Submission.from_body(body)
        view = submitted.view
        meta = metadata(view)
        if meta is None:
            ack(response_action="errors", errors=_errors(view, {"objects": INVALID_FORM}))
            return
        # The duration menu's block ID moves with the flow; read whichever is there.
        form = form_input(view)
        outcome = self._submission.submit(draft_key=meta.d, user=submitted.user, form=form)
        if isinstance(outcome, Refused):
            ack(
                response_action="errors",
                errors=_errors(view, {k.value: v for k, v in outcome.errors.items()}),
            )
            return
        ack(
            response_action="update",
            view=request_submitted(
                request_id=outcome.request_id,
                object_count=outcome.object_count,
                bundle=outcome.bundle,
                status=outcome.status,
                approvers=outcome.approvers,
                break_glass=outcome.break_glass,
                grantee=outcome.grantee,
            ),
        )


def _errors(view: ViewPayload, errors: dict[str, str]) -> dict[str, str]:
    placed: dict[str, str] = {}
    for field, message in errors.items():
        block_id = block_for(view, field)
        if block_id is not None:
            placed[block_id] = (placed[block_id] + " " + message) if block_id in placed else message
    return placed


__all__ = ["RequestModalListeners"]
