"""Approve, Deny (with an optional reason), Cancel and the full object list.

A decision is made durable before its click is acked: Slack never sends an acked click again,
so an instance that dies between an ack and the decision would lose it. The compare-and-swap
takes milliseconds, well inside Slack's 3 s; the answer to the clicker comes after the ack."""

from __future__ import annotations

import logging
from collections.abc import Callable
from math import ceil
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from app.listeners.state import text_value
from app.services.decisions import DecisionService
from app.services.objects import ObjectListService
from app.services.outcomes import AlreadyDecided, Done, NotAllowed, Outcome
from blocks.decisions import OBJECTS_PER_PAGE, already_decided, deny_modal, object_list_modal
from blocks.ids import ActionId, CallbackId, matching
from blocks.payloads import PageButton, RequestButton
from domain.ids import RequestId, UserId

_log = logging.getLogger(__name__)


def _button(body: dict[str, Any]) -> RequestButton | None:
    action = (body.get("actions") or [{}])[0]
    return RequestButton.parse(action.get("value"))


def _where(body: dict[str, Any]) -> str:
    channel = body.get("channel") or {}
    return str(channel.get("id") or body["user"]["id"])


HomeRefresher = Callable[[WebClient, UserId], None]


def _from_home(body: dict[str, Any]) -> bool:
    return (body.get("view") or {}).get("type") == "home"


class DecisionListeners:
    def __init__(
        self,
        *,
        decisions: DecisionService,
        objects: ObjectListService,
        refresh_home: HomeRefresher | None = None,
    ) -> None:
        self._decisions = decisions
        self._objects = objects
        self._refresh_home = refresh_home

    def register(self, app: App) -> None:
        # Matching, because Home lists several requests, each with its own buttons.
        app.action(matching(ActionId.APPROVE))(self.on_approve)
        app.action(matching(ActionId.DENY))(self.on_deny)
        app.view(CallbackId.DENY_REASON)(self.on_deny_reason)
        app.action(ActionId.CANCEL)(self.on_cancel)
        app.action(ActionId.SHOW_OBJECTS)(self.on_show_objects)
        app.action(matching(ActionId.OBJECTS_PAGE))(self.on_objects_page)

    def _tell(self, client: WebClient, body: dict[str, Any], outcome: Outcome, done: str) -> None:
        """Only the clicker sees this; the messages everyone sees come from the outbox."""
        if isinstance(outcome, NotAllowed):
            text = f"⛔ {outcome.reason}"
        elif isinstance(outcome, AlreadyDecided):
            text = already_decided(outcome.summary)
        else:
            text = done
        client.chat_postEphemeral(channel=_where(body), user=body["user"]["id"], text=text)

    def on_approve(self, ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        button = _button(body)
        clicker = UserId(body["user"]["id"])
        if button is None:
            outcome: Outcome = self._decisions.refuse_malformed(clicker=clicker)
        else:
            outcome = self._decisions.decide(
                request_id=RequestId(button.r), flow_claim=button.f, clicker=clicker, approve=True
            )
        ack()
        self._tell(client, body, outcome, f"✅ You approved {button.r if button else ''}.")
        if self._refresh_home is not None and _from_home(body):
            self._refresh_home(client, clicker)

    def on_deny(self, ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        button = _button(body)
        clicker = UserId(body["user"]["id"])
        if button is None:
            self._tell(client, body, self._decisions.refuse_malformed(clicker=clicker), "")
            return
        allowed = self._decisions.check_approver(
            request_id=RequestId(button.r), flow_claim=button.f, clicker=clicker
        )
        if not isinstance(allowed, Done):
            self._tell(client, body, allowed, "")
            return
        client.views_open(
            trigger_id=body["trigger_id"],
            view=deny_modal(request_id=button.r, flow=allowed.summary.flow),
        )

    def on_deny_reason(
        self, ack: Ack, body: dict[str, Any], view: dict[str, Any], client: WebClient
    ) -> None:
        meta = RequestButton.parse(view.get("private_metadata"))
        clicker = UserId(body["user"]["id"])
        if meta is None:
            ack()
            return
        outcome = self._decisions.decide(
            request_id=RequestId(meta.r),
            flow_claim=meta.f,
            clicker=clicker,
            approve=False,
            reason=text_value(view, ActionId.DENY_REASON),
        )
        ack()
        if not isinstance(outcome, Done):
            text = (
                f"⛔ {outcome.reason}"
                if isinstance(outcome, NotAllowed)
                else already_decided(outcome.summary)
            )
            client.chat_postEphemeral(channel=clicker, user=clicker, text=text)

    def on_cancel(self, ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        button = _button(body)
        clicker = UserId(body["user"]["id"])
        if button is None:
            outcome: Outcome = self._decisions.refuse_malformed(clicker=clicker)
            ack()
            self._tell(client, body, outcome, "")
            return
        outcome = self._decisions.cancel(
            request_id=RequestId(button.r), flow_claim=button.f, clicker=clicker
        )
        ack()
        self._tell(client, body, outcome, f"↩️ You canceled {button.r}.")

    def on_show_objects(self, ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        button = _button(body)
        if button is None:
            return
        view = self._page(RequestId(button.r), UserId(body["user"]["id"]), 0)
        if view is not None:
            client.views_open(trigger_id=body["trigger_id"], view=view)

    def on_objects_page(self, ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        action = (body.get("actions") or [{}])[0]
        page = PageButton.parse(action.get("value"))
        if page is None or page.r is None:
            return
        view = self._page(RequestId(page.r), UserId(body["user"]["id"]), page.p)
        if view is not None:
            client.views_update(
                view_id=body["view"]["id"], hash=body["view"].get("hash"), view=view
            )

    def _page(self, request_id: RequestId, viewer: UserId, page: int) -> dict[str, Any] | None:
        found = self._objects.page(
            request_id=request_id, viewer=viewer, page=page, size=OBJECTS_PER_PAGE
        )
        if found is None:
            return None
        summary, objects, total = found
        pages = max(1, ceil(total / OBJECTS_PER_PAGE))
        return object_list_modal(
            summary=summary, objects=objects, page=min(page, pages - 1), pages=pages
        )
