"""``/apono``: one slash command, routed by its first word to the feature that owns the verb.

Features plug their verbs in at wiring time (requesting owns the bare command and ``request``,
revocation ``revoke``, home ``history``, reports ``report``); the router knows none of them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from app.slack.payloads import Command
from blocks.help import HELP, unknown_command

SubCommand = Callable[[Ack, dict[str, Any], WebClient, str], None]
"""``(ack, body, client, the text after the verb)``; the handler acks."""

BARE: str = ""
"""The verb of ``/apono`` typed alone."""


class CommandRouter:
    def __init__(self) -> None:
        self._verbs: dict[str, SubCommand] = {}

    def add(self, verb: str, handler: SubCommand) -> None:
        self._verbs[verb] = handler

    def register(self, app: App) -> None:
        app.command("/apono")(self.on_apono)

    def on_apono(self, ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        verb, _, rest = Command.from_body(body).text.strip().partition(" ")
        verb = verb.lower()
        handler = self._verbs.get(verb)
        if handler is not None:
            handler(ack, body, client, rest.strip())
        elif verb == "help":
            ack(text=HELP)
        else:
            ack(text=unknown_command(verb))
