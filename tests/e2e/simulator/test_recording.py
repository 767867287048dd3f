"""What the simulator records reads well in assertions, transcripts and teardown reports."""

from __future__ import annotations

from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from slacksim import Simulator, find_action, texts_of
from slacksim.pytest_plugin import SimulatorPool

from .conftest import ALICE, AUDIT, workspace

pytestmark = pytest.mark.e2e


def test_the_transcript_tells_who_got_which_message_with_block_texts(
    sim: Simulator, web: WebClient
) -> None:
    web.chat_postMessage(
        channel=ALICE,
        text="Access granted",
        blocks=[
            {"type": "header", "text": {"type": "plain_text", "text": "prod-incident is yours"}},
            {"type": "section", "text": {"type": "mrkdwn", "text": "Expires in *1 hour*"}},
        ],
    )
    web.chat_postMessage(channel=AUDIT, text="R-1 approved")

    assert sim.transcript().splitlines() == [
        "DM to Alice Doe: Access granted",
        "    | prod-incident is yours",
        "    | Expires in *1 hour*",
        "#access-audit: R-1 approved",
    ]


def test_texts_of_and_find_action_see_what_a_person_sees() -> None:
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": "Approve?"}},
        {"type": "section", "fields": [{"type": "mrkdwn", "text": "*Bundle*\nprod"}]},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "R-7"}]},
        {
            "type": "actions",
            "block_id": "decide",
            "elements": [
                {
                    "type": "button",
                    "action_id": "approve",
                    "text": {"type": "plain_text", "text": "Approve"},
                }
            ],
        },
    ]

    assert texts_of(blocks) == ["Approve?", "*Bundle*\nprod", "R-7", "Approve"]
    assert find_action(blocks, "approve") == blocks[3]["elements"][0]
    assert find_action(blocks, "approve", block_id="other") is None
    assert find_action(blocks, "deny") is None


def test_wait_for_returns_the_first_truthy_value_or_times_out(
    sim: Simulator, web: WebClient
) -> None:
    web.chat_postMessage(channel=AUDIT, text="done")

    assert sim.wait_for(lambda: sim.messages(AUDIT))[0].text == "done"
    with pytest.raises(TimeoutError):
        sim.wait_for(lambda: sim.messages(ALICE), timeout=0.05)


def test_the_pytest_pool_reports_violations_the_test_did_not_take() -> None:
    pool = SimulatorPool()
    sim = pool.create(workspace=workspace())
    web = WebClient(token=sim.bot_token, base_url=sim.api_url)
    with pytest.raises(SlackApiError):
        web.api_call("chat.postMessage", json={"channel": AUDIT, "text": "x" * 40_001})

    leftovers = pool.close()

    assert leftovers == [
        "chat.postMessage: must be at most 40000 characters, got 40001 [json-pointer:/text]"
    ]


def test_the_pytest_pool_is_quiet_once_violations_are_taken() -> None:
    pool = SimulatorPool()
    sim = pool.create(workspace=workspace())
    web = WebClient(token=sim.bot_token, base_url=sim.api_url)
    with pytest.raises(SlackApiError):
        web.api_call("chat.postMessage", json={"channel": AUDIT, "text": "x" * 40_001})

    assert len(sim.take_violations()) == 1
    assert pool.close() == []
