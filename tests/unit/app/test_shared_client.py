"""Listeners get the app's own keep-alive client, not Bolt's client per request."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from slack_bolt import Ack, App, BoltRequest
from slack_sdk import WebClient

from app.slack.client import make_web_client
from app.slack.keepalive import KeepAliveWebClient
from app.slack.shared_client import share_client
from tests.unit.app.offline_bolt import offline_bolt


def command_request() -> BoltRequest:
    body = urlencode(
        {
            "command": "/apono",
            "text": "",
            "user_id": "U0ALICE",
            "team_id": "T0SIM",
            "channel_id": "C0GEN",
            "trigger_id": "1.2.3",
        }
    )
    return BoltRequest(body=body, headers={"content-type": ["application/x-www-form-urlencoded"]})


def clients_seen(*, shared: WebClient | None) -> list[Any]:
    bolt = offline_bolt(App)
    if shared is not None:
        share_client(bolt, shared)
    seen: list[Any] = []

    @bolt.command("/apono")
    def on_command(ack: Ack, client: WebClient) -> None:
        ack()
        seen.append(client)

    assert bolt.dispatch(command_request()).status == 200
    return seen


def test_every_listener_calls_slack_through_the_one_shared_keep_alive_client() -> None:
    shared = make_web_client(token="xoxb-test", base_url="http://127.0.0.1:9/api/", keep_alive=True)

    assert clients_seen(shared=shared) == [shared]
    assert isinstance(shared, KeepAliveWebClient)


def test_without_it_bolt_would_hand_each_request_a_new_client() -> None:
    [given] = clients_seen(shared=None)

    assert not isinstance(given, KeepAliveWebClient)
