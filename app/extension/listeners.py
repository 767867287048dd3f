"""*Extend* (the active status message, the reminder before the end, Home's row menu),
``/apono extend ID [DURATION]`` and the approvers' *Approve extension* / *Deny extension*.

Asks and decisions are made durable before the ack (Slack never sends an acked click again);
each is a few short writes, well inside Slack's 3 s."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from app.core.outcomes import NotAllowed
from app.extension.service import (
    AskOutcome,
    Decided,
    DecidedBefore,
    DecideOutcome,
    ExtensionService,
)
from app.slack.commands import CommandRouter
from app.slack.payloads import Click, Command
from blocks.extension import (
    EXTEND_USAGE,
    extending,
    extension_approved,
    extension_asked,
    extension_decided,
    extension_denied,
)
from blocks.ids import ActionId
from blocks.payloads import ExtensionButton, RequestButton
from blocks.simple import INVALID_BUTTON, refused
from domain.durations import DurationError, parse_duration
from domain.ids import RequestId, UserId, parse_request_id


def describe_ask(outcome: AskOutcome) -> str:
    if isinstance(outcome, NotAllowed):
        return refused(outcome.reason)
    extension = outcome.extension
    if extension.automatic:
        return extending(extension.request_id, extension.new_end)
    return extension_asked(extension.request_id, extension.new_end)


def describe_decision(outcome: DecideOutcome) -> str:
    if isinstance(outcome, NotAllowed):
        return refused(outcome.reason)
    extension = outcome.extension
    if isinstance(outcome, DecidedBefore):
        return extension_decided(
            request_id=extension.request_id,
            status=extension.status.value,
            by=extension.decided_by,
        )
    assert isinstance(outcome, Decided)
    if outcome.approved:
        return extension_approved(extension.request_id)
    return extension_denied(extension.request_id)


class ExtensionListeners:
    def __init__(self, *, extensions: ExtensionService) -> None:
        self._extensions = extensions

    def register(self, app: App, *, commands: CommandRouter) -> None:
        app.action(ActionId.EXTEND)(self.on_extend_button)
        app.action(ActionId.EXTEND_APPROVE)(self.on_approve)
        app.action(ActionId.EXTEND_DENY)(self.on_deny)
        commands.add("extend", self.on_extend_command)

    def on_extend_button(self, ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        click = Click.from_body(body)
        button = RequestButton.parse(click.action.value)
        if button is None:
            text = refused(INVALID_BUTTON)
        else:
            text = describe_ask(
                self._extensions.ask(
                    request_id=RequestId(button.r),
                    by=click.user,
                    duration=None,
                    flow_claim=button.f,
                )
            )
        ack()
        client.chat_postEphemeral(channel=click.reply_channel, user=click.user, text=text)

    def on_extend_command(
        self, ack: Ack, body: dict[str, Any], client: WebClient, argument: str
    ) -> None:
        words = argument.split()
        request_id = parse_request_id(words[0]) if words else None
        duration: timedelta | None = None
        if request_id is None or len(words) > 2:
            ack(text=EXTEND_USAGE)
            return
        if len(words) == 2:
            try:
                duration = parse_duration(words[1])
            except DurationError as error:
                ack(text=f"{error}\n{EXTEND_USAGE}")
                return
        outcome = self._extensions.ask(
            request_id=request_id, by=Command.from_body(body).user, duration=duration
        )
        ack(text=describe_ask(outcome))

    def _decide(self, ack: Ack, body: dict[str, Any], client: WebClient, *, approve: bool) -> None:
        click = Click.from_body(body)
        button = ExtensionButton.parse(click.action.value)
        if button is None:
            text = refused(INVALID_BUTTON)
        else:
            text = describe_decision(
                self._extensions.decide(
                    request_id=RequestId(button.r),
                    extension_id=button.e,
                    flow_claim=button.f,
                    clicker=click.user,
                    approve=approve,
                )
            )
        ack()
        client.chat_postEphemeral(channel=click.reply_channel, user=click.user, text=text)

    def on_approve(self, ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        self._decide(ack, body, client, approve=True)

    def on_deny(self, ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        self._decide(ack, body, client, approve=False)

    def extend_for(self, *, request_id: RequestId, by: UserId) -> str:
        """Extend by the flow's step, and the sentence for the requester (Home's row menu)."""
        return describe_ask(self._extensions.ask(request_id=request_id, by=by, duration=None))
