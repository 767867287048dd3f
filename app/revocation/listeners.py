"""Revoke from Slack: the button on an active request's status message and ``/apono revoke ID``."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from app.core.outcomes import AlreadyDecided, NotAllowed, Outcome
from app.revocation.revoke import RevocationService
from app.slack.commands import CommandRouter
from app.slack.payloads import Click, Command
from blocks.decisions import REVOKE_USAGE, nothing_to_revoke, revoking
from blocks.ids import ActionId
from blocks.payloads import RequestButton
from blocks.simple import INVALID_BUTTON, refused
from domain.ids import RequestId, UserId, parse_request_id


def describe(outcome: Outcome, request_id: str) -> str:
    """What the person who asked for a revoke is told (the sentences are in ``blocks/``)."""
    if isinstance(outcome, NotAllowed):
        return refused(outcome.reason)
    if isinstance(outcome, AlreadyDecided):
        return nothing_to_revoke(outcome.summary)
    return revoking(request_id)


class RevokeListeners:
    def __init__(self, *, revocation: RevocationService) -> None:
        self._revocation = revocation

    def register(self, app: App, *, commands: CommandRouter) -> None:
        app.action(ActionId.REVOKE)(self.on_revoke_button)
        commands.add("revoke", self.on_revoke_command)

    def on_revoke_button(self, ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        # Recorded before the ack: Slack never sends an acked click again, so a crash right
        # after acking must not lose it (the revoke ask is one short UPDATE).
        click = Click.from_body(body)
        button = RequestButton.parse(click.action.value)
        user = click.user
        if button is None:
            outcome: Outcome = NotAllowed(INVALID_BUTTON)
            request_id = "?"
        else:
            request_id = button.r
            outcome = self._revocation.revoke(
                request_id=RequestId(button.r), flow_claim=button.f, by=user
            )
        ack()
        client.chat_postEphemeral(
            channel=click.reply_channel, user=user, text=describe(outcome, request_id)
        )

    def on_revoke_command(
        self, ack: Ack, body: dict[str, Any], client: WebClient, argument: str
    ) -> None:
        request_id = parse_request_id(argument) if argument else None
        if request_id is None:
            ack(text=REVOKE_USAGE)
            return
        outcome = self._revocation.revoke(
            request_id=request_id, flow_claim=None, by=Command.from_body(body).user
        )
        ack(text=describe(outcome, request_id))

    def revoke_for(self, *, request_id: RequestId, by: UserId) -> str:
        """Revoke, and the sentence for whoever asked (Home's row menu shows it in a modal)."""
        return describe(
            self._revocation.revoke(request_id=request_id, flow_claim=None, by=by), request_id
        )
