"""``/apono report [filters]``: the CSV arrives in the admin's DM; anyone else is refused."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack

from app.core.outcomes import NotAllowed
from app.reports.delivery import ReportRequests
from app.slack.commands import CommandRouter
from app.slack.payloads import Command
from blocks.help import report_preparing
from blocks.simple import refused


class ReportListeners:
    def __init__(self, *, reports: ReportRequests) -> None:
        self._reports = reports

    def register(self, *, commands: CommandRouter) -> None:
        commands.add("report", self.on_report)

    def on_report(self, ack: Ack, body: dict[str, Any], client: object, argument: str) -> None:
        outcome = self._reports.request(by=Command.from_body(body).user, text=argument)
        if isinstance(outcome, NotAllowed):
            ack(text=refused(outcome.reason))
            return
        ack(text=report_preparing(outcome.filters))
