"""Revoke from Slack: the button on an active request's status message and ``/apono revoke ID``."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from app.listeners.commands import CommandListeners
from app.services.outcomes import AlreadyDecided, NotAllowed, Outcome
from app.services.revocation import RevocationService
from blocks.ids import ActionId
from blocks.payloads import RequestButton
from domain.ids import RequestId, UserId, parse_request_id


def describe(outcome: Outcome, request_id: str) -> str:
    if isinstance(outcome, NotAllowed):
        return f"⛔ {outcome.reason}"
    if isinstance(outcome, AlreadyDecided):
        return (
            f"{outcome.summary.id} is {outcome.summary.status.label}; there is nothing to revoke."
        )
    return (
        f"🔒 Revoking {request_id}: every object is being removed; you'll get a message when done."
    )


class RevokeListeners:
    def __init__(self, *, revocation: RevocationService) -> None:
        self._revocation = revocation

    def register(self, app: App, *, commands: CommandListeners) -> None:
        app.action(ActionId.REVOKE)(self.on_revoke_button)
        commands.add("revoke", self.on_revoke_command)

    def on_revoke_button(self, ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        # Recorded before the ack: Slack never sends an acked click again, so a crash right
        # after acking must not lose it (the revoke ask is one short UPDATE).
        action = (body.get("actions") or [{}])[0]
        button = RequestButton.parse(action.get("value"))
        user = UserId(body["user"]["id"])
        if button is None:
            outcome: Outcome = NotAllowed("That button is not valid.")
            request_id = "?"
        else:
            request_id = button.r
            outcome = self._revocation.revoke(
                request_id=RequestId(button.r), flow_claim=button.f, by=user
            )
        ack()
        channel = (body.get("channel") or {}).get("id") or user
        client.chat_postEphemeral(channel=channel, user=user, text=describe(outcome, request_id))

    def on_revoke_command(
        self, ack: Ack, body: dict[str, Any], client: WebClient, argument: str
    ) -> None:
        request_id = parse_request_id(argument) if argument else None
        if request_id is None:
            ack(text="Usage: `/apono revoke AR-XXXXXX` (the request ID from its messages).")
            return
        outcome = self._revocation.revoke(
            request_id=request_id, flow_claim=None, by=UserId(body["user_id"])
        )
        ack(text=describe(outcome, request_id))
