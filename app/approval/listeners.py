"""Approve (optionally with a comment), Deny (with an optional reason), Cancel and the full
object list.

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

from app.approval.decisions import DecisionService
from app.approval.objects import ObjectListService
from app.core.outcomes import AlreadyDecided, Done, NotAllowed, Outcome
from app.slack.payloads import Click, Submission
from blocks.decisions import (
    OBJECTS_PER_PAGE,
    already_decided,
    approval_counted,
    approve_modal,
    approved,
    canceled,
    deny_modal,
    object_list_modal,
)
from blocks.home import row_canceled
from blocks.ids import ActionId, CallbackId, matching
from blocks.payloads import PageButton, RequestButton
from blocks.simple import refused
from domain.ids import RequestId, UserId

_log = logging.getLogger(__name__)


def _button(click: Click) -> RequestButton | None:
    return RequestButton.parse(click.action.value)


def _answer(outcome: Outcome, done: str) -> str:
    """What the clicker is told: the refusal, who decided first, or ``done``."""
    if isinstance(outcome, NotAllowed):
        return refused(outcome.reason)
    if isinstance(outcome, AlreadyDecided):
        return already_decided(outcome.summary)
    return done


def _approved(outcome: Outcome, request_id: str) -> str:
    """What an approver is told: approved, or the count when the request waits for more."""
    if isinstance(outcome, Done) and outcome.progress is not None:
        step = outcome.progress.step(outcome.progress.current)
        counted = next((s for s in reversed(outcome.progress.steps) if s.count and s.started), step)
        if counted is not None:
            return approval_counted(
                request_id=request_id,
                count=counted.count,
                needed=counted.needed,
                step=counted.index,
                steps=outcome.progress.total,
            )
    return approved(request_id)


HomeRefresher = Callable[[WebClient, UserId], None]


class DecisionListeners:
    def __init__(
        self,
        *,
        decisions: DecisionService,
        objects: ObjectListService,
    ) -> None:
        self._decisions = decisions
        self._objects = objects
        self._refresh_home: HomeRefresher | None = None

    def register(self, app: App, *, refresh_home: HomeRefresher | None = None) -> None:
        self._refresh_home = refresh_home
        # Matching, because Home lists several requests, each with its own buttons.
        app.action(matching(ActionId.APPROVE))(self.on_approve)
        app.action(matching(ActionId.DENY))(self.on_deny)
        app.view(CallbackId.DENY_REASON)(self.on_deny_reason)
        app.action(matching(ActionId.APPROVE_WITH_COMMENT))(self.on_approve_with_comment)
        app.view(CallbackId.APPROVE_REASON)(self.on_approve_reason)
        app.action(ActionId.CANCEL)(self.on_cancel)
        app.action(ActionId.SHOW_OBJECTS)(self.on_show_objects)
        app.action(matching(ActionId.OBJECTS_PAGE))(self.on_objects_page)

    def _tell(self, client: WebClient, click: Click, outcome: Outcome, done: str) -> None:
        """Only the clicker sees this; the messages everyone sees come from the outbox."""
        client.chat_postEphemeral(
            channel=click.reply_channel, user=click.user, text=_answer(outcome, done)
        )

    def on_approve(self, ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        click = Click.from_body(body)
        button = _button(click)
        clicker = click.user
        if button is None:
            outcome: Outcome = self._decisions.refuse_malformed(clicker=clicker)
        else:
            outcome = self._decisions.decide(
                request_id=RequestId(button.r), flow_claim=button.f, clicker=clicker, approve=True
            )
        ack()
        self._tell(client, click, outcome, _approved(outcome, button.r if button else ""))
        if self._refresh_home is not None and click.from_home:
            self._refresh_home(client, clicker)

    def on_approve_with_comment(self, ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        self._open_reason_modal(ack, body, client, approve=True)

    def on_approve_reason(self, ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        decided = self._decide_with_reason(ack, body, approve=True, field=ActionId.APPROVE_REASON)
        if decided is not None:
            clicker, request_id, outcome = decided
            client.chat_postEphemeral(
                channel=clicker, user=clicker, text=_answer(outcome, _approved(outcome, request_id))
            )

    def _decide_with_reason(
        self, ack: Ack, body: dict[str, Any], *, approve: bool, field: ActionId
    ) -> tuple[UserId, str, Outcome] | None:
        """The approve or deny modal's submission decided, then acked; ``None`` for a modal
        whose metadata is not the bot's (acked, nothing decided)."""
        submitted = Submission.from_body(body)
        meta = RequestButton.parse(submitted.view.private_metadata)
        if meta is None:
            ack()
            return None
        outcome = self._decisions.decide(
            request_id=RequestId(meta.r),
            flow_claim=meta.f,
            clicker=submitted.user,
            approve=approve,
            reason=submitted.view.text(field),
        )
        ack()
        return submitted.user, meta.r, outcome

    def on_deny(self, ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        self._open_reason_modal(ack, body, client, approve=False)

    def _open_reason_modal(
        self, ack: Ack, body: dict[str, Any], client: WebClient, *, approve: bool
    ) -> None:
        ack()
        click = Click.from_body(body)
        button = _button(click)
        clicker = click.user
        if button is None:
            self._tell(client, click, self._decisions.refuse_malformed(clicker=clicker), "")
            return
        allowed = self._decisions.check_approver(
            request_id=RequestId(button.r), flow_claim=button.f, clicker=clicker
        )
        if not isinstance(allowed, Done):
            self._tell(client, click, allowed, "")
            return
        modal = approve_modal if approve else deny_modal
        client.views_open(
            trigger_id=click.trigger_id,
            view=modal(request_id=button.r, flow=allowed.summary.flow),
        )

    def on_deny_reason(self, ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        decided = self._decide_with_reason(ack, body, approve=False, field=ActionId.DENY_REASON)
        if decided is not None and not isinstance(decided[2], Done):
            clicker, _, outcome = decided
            client.chat_postEphemeral(channel=clicker, user=clicker, text=_answer(outcome, ""))

    def on_cancel(self, ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        click = Click.from_body(body)
        button = _button(click)
        clicker = click.user
        if button is None:
            outcome: Outcome = self._decisions.refuse_malformed(clicker=clicker)
            ack()
            self._tell(client, click, outcome, "")
            return
        outcome = self._decisions.cancel(
            request_id=RequestId(button.r), flow_claim=button.f, clicker=clicker
        )
        ack()
        self._tell(client, click, outcome, canceled(button.r))

    def cancel_for(self, *, request_id: RequestId, by: UserId) -> str:
        """Cancel, and the sentence for the requester (Home's row menu shows it in a modal)."""
        outcome = self._decisions.cancel(request_id=request_id, flow_claim=None, clicker=by)
        return _answer(outcome, row_canceled(request_id))

    def on_show_objects(self, ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        click = Click.from_body(body)
        button = _button(click)
        if button is None:
            return
        view = self._page(RequestId(button.r), click.user, 0)
        if view is not None:
            client.views_open(trigger_id=click.trigger_id, view=view)

    def on_objects_page(self, ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        click = Click.from_body(body)
        page = PageButton.parse(click.action.value)
        if click.view is None or page is None or page.r is None:
            return
        view = self._page(RequestId(page.r), click.user, page.p)
        if view is not None:
            client.views_update(view_id=click.view.id, hash=click.view.hash, view=view)

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
