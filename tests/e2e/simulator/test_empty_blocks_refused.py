"""Slack refuses a message whose blocks have an empty required list; so does the simulator."""

from __future__ import annotations

from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from slacksim import Simulator

from .conftest import AUDIT

pytestmark = pytest.mark.e2e

JSON = dict[str, Any]


def md(text: str) -> JSON:
    return {"type": "mrkdwn", "text": text}


def plain(text: str) -> JSON:
    return {"type": "plain_text", "text": text}


@pytest.mark.parametrize(
    ("block", "path"),
    [
        ({"type": "context", "elements": []}, "/blocks/0/elements"),
        ({"type": "context", "elements": [md("")]}, "/blocks/0/elements/0/text"),
        ({"type": "context"}, "/blocks/0/elements"),
        ({"type": "actions", "elements": []}, "/blocks/0/elements"),
        ({"type": "section"}, "/blocks/0"),
        ({"type": "section", "fields": []}, "/blocks/0"),
        (
            {
                "type": "section",
                "text": md("Pick one"),
                "accessory": {"type": "static_select", "action_id": "pick", "options": []},
            },
            "/blocks/0/accessory/options",
        ),
        (
            {
                "type": "section",
                "text": md("Pick one"),
                "accessory": {
                    "type": "static_select",
                    "action_id": "pick",
                    "option_groups": [{"label": plain("None"), "options": []}],
                },
            },
            "/blocks/0/accessory/option_groups/0/options",
        ),
    ],
    ids=[
        "context-no-elements",
        "context-empty-text",
        "context-missing-elements",
        "actions-no-elements",
        "section-nothing",
        "section-empty-fields",
        "select-no-options",
        "select-empty-group",
    ],
)
def test_a_block_with_an_empty_required_list_is_refused_as_invalid_blocks(
    sim: Simulator, web: WebClient, block: JSON, path: str
) -> None:
    with pytest.raises(SlackApiError) as refused:
        web.chat_postMessage(channel=AUDIT, text="fallback", blocks=[block])

    assert refused.value.response["error"] == "invalid_blocks"
    assert [v.path for v in sim.take_violations()] == [path]
    assert sim.messages(AUDIT) == []


def test_the_same_blocks_with_something_in_them_are_posted(sim: Simulator, web: WebClient) -> None:
    blocks: list[JSON] = [
        {"type": "context", "elements": [md("prod-redis (1)")]},
        {"type": "section", "fields": [md("*Flow*\ndevelopers")]},
        {
            "type": "section",
            "text": md("Pick one"),
            "accessory": {
                "type": "static_select",
                "action_id": "pick",
                "options": [{"text": plain("1h"), "value": "1h"}],
            },
        },
    ]
    web.chat_postMessage(channel=AUDIT, text="fallback", blocks=blocks)
    assert len(sim.messages(AUDIT)) == 1
