"""Finding the listener for a payload: the right one, without building arguments for the rest."""

from __future__ import annotations

import json
from typing import Any

import pytest
import slack_bolt.listener_matcher.builtins as bolt_matchers
from slack_bolt import Ack, BoltRequest
from slack_bolt.kwargs_injection import build_required_kwargs

from app.slack.failures import GuardedApp
from tests.unit.app.offline_bolt import offline_bolt

LISTENERS = 50


def block_action(action_id: str) -> BoltRequest:
    body = {
        "type": "block_actions",
        "team": {"id": "T0SIM"},
        "user": {"id": "U0ALICE"},
        "actions": [{"action_id": action_id, "block_id": "b", "type": "button", "value": "v"}],
    }
    return BoltRequest(
        body=f"payload={json.dumps(body)}",
        headers={"content-type": ["application/x-www-form-urlencoded"]},
    )


def app_with_many_listeners(ran: list[str]) -> GuardedApp:
    bolt = offline_bolt(GuardedApp)
    bolt.view("a_view")(lambda ack: ack())
    bolt.command("/apono")(lambda ack: ack())
    for index in range(LISTENERS):
        bolt.action(f"action_{index}")(_recording(ran, f"action_{index}"))
    return bolt


def _recording(ran: list[str], name: str) -> Any:
    def on_click(ack: Ack, body: dict[str, Any]) -> None:
        ack()
        ran.append(f"{name}:{body['actions'][0]['action_id']}")

    return on_click


def test_a_click_reaches_the_listener_of_its_action_and_no_other() -> None:
    ran: list[str] = []
    bolt = app_with_many_listeners(ran)

    assert bolt.dispatch(block_action("action_37")).status == 200
    assert ran == ["action_37:action_37"]


def test_a_click_no_listener_is_for_is_left_unmatched() -> None:
    ran: list[str] = []
    bolt = app_with_many_listeners(ran)

    assert bolt.dispatch(block_action("nobody_listens")).status == 404
    assert ran == []


def test_trying_the_listeners_builds_no_listener_arguments(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    built: list[str] = []
    real = build_required_kwargs

    def counted(**kwargs: Any) -> dict[str, Any]:
        built.append(kwargs["this_func"].__name__)
        return real(**kwargs)

    monkeypatch.setattr(bolt_matchers, "build_required_kwargs", counted)
    ran: list[str] = []
    bolt = app_with_many_listeners(ran)

    bolt.dispatch(block_action(f"action_{LISTENERS - 1}"))

    assert ran == [f"action_{LISTENERS - 1}:action_{LISTENERS - 1}"]
    assert built == []
