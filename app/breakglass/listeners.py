"""*Acknowledge* on a break-glass alarm: parse, one service call, a private answer."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from app.breakglass.acknowledge import AcknowledgeService
from app.core.outcomes import AlreadyDecided, NotAllowed, Outcome
from app.slack.payloads import Click
from blocks.break_glass import acknowledged, already_acknowledged
from blocks.ids import ActionId
from blocks.payloads import RequestButton
from blocks.simple import INVALID_BUTTON, refused
from domain.ids import RequestId


def describe(outcome: Outcome, request_id: str) -> str:
    if isinstance(outcome, NotAllowed):
        return refused(outcome.reason)
    if isinstance(outcome, AlreadyDecided):
        summary = outcome.summary
        return already_acknowledged(
            request_id=summary.id, by=summary.acknowledged_by, at=summary.acknowledged_at
        )
    return acknowledged(request_id)


class AcknowledgeListeners:
    def __init__(self, *, acknowledging: AcknowledgeService) -> None:
        self._acknowledging = acknowledging

    def register(self, app: App) -> None:
        app.action(ActionId.ACKNOWLEDGE)(self.on_acknowledge)

    def on_acknowledge(self, ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        # Recorded before the ack, like a revoke: Slack never sends an acked click again.
        click = Click.from_body(body)
        button = RequestButton.parse(click.action.value)
        if button is None:
            outcome: Outcome = NotAllowed(INVALID_BUTTON)
            request_id = "?"
        else:
            request_id = button.r
            outcome = self._acknowledging.acknowledge(
                request_id=RequestId(button.r), flow_claim=button.f, by=click.user
            )
        ack()
        client.chat_postEphemeral(
            channel=click.reply_channel, user=click.user, text=describe(outcome, request_id)
        )
