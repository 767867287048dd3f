"""``/apono``: open the request modal at once, or route a sub-command."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from app.services.request_modal import RequestModalService
from app.slack.payloads import Command
from blocks.help import HELP, unknown_command
from blocks.request_modal import request_modal
from domain.ids import UserId

_log = logging.getLogger(__name__)

SubCommand = Callable[[Ack, dict[str, Any], WebClient, str], None]


class CommandListeners:
    def __init__(self, *, modal: RequestModalService) -> None:
        self._modal = modal
        self._subcommands: dict[str, SubCommand] = {}

    def add(self, verb: str, handler: SubCommand) -> None:
        """Other features (revoke, history, report) plug their verbs in here."""
        self._subcommands[verb] = handler

    def register(self, app: App) -> None:
        app.command("/apono")(self.on_apono)

    def on_apono(self, ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        command = Command.from_body(body)
        verb, _, rest = command.text.strip().partition(" ")
        verb = verb.lower()
        if verb in ("", "request"):
            ack()
            self.open_modal(client=client, user=command.user, trigger=command.trigger_id or "")
        elif verb == "help":
            ack(text=HELP)
        elif verb in self._subcommands:
            self._subcommands[verb](ack, body, client, rest.strip())
        else:
            ack(text=unknown_command(verb))

    def open_modal(self, *, client: WebClient, user: UserId, trigger: str) -> None:
        # The trigger is valid for 3 s and only once: open first, then nothing slow.
        model = self._modal.open(user=user)
        client.views_open(trigger_id=trigger, view=request_modal(model))
