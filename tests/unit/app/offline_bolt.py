"""A Bolt app that dispatches payloads handed to it, without Slack or its signatures."""

from __future__ import annotations

from typing import TypeVar

from slack_bolt import App
from slack_bolt.authorization import AuthorizeResult
from slack_sdk import WebClient

A = TypeVar("A", bound=App)


def offline_bolt(kind: type[A]) -> A:
    return kind(
        # Who the bot is, given rather than asked of Slack (auth.test) on the first request.
        authorize=lambda **_: AuthorizeResult(
            enterprise_id=None, team_id="T0SIM", bot_token="xoxb-test", bot_user_id="U0BOT"
        ),
        client=WebClient(base_url="http://127.0.0.1:9/api/"),
        request_verification_enabled=False,
        process_before_response=True,
    )
