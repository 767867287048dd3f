"""Every view and message is checked against Slack's limits, and refused as Slack would."""

from __future__ import annotations

from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from slacksim import LimitViolation, Simulator
from slacksim.limits import check_suggestions
from slacksim.pytest_plugin import SimulatorFactory

from .conftest import ALICE, AUDIT

pytestmark = pytest.mark.e2e

JSON = dict[str, Any]


def plain(text: str) -> JSON:
    return {"type": "plain_text", "text": text}


def section(text: str) -> JSON:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def modal(blocks: list[JSON], **extra: Any) -> JSON:
    return {"type": "modal", "title": plain("Request access"), "blocks": blocks, **extra}


def refusal(sim: Simulator, call: Any) -> tuple[str, list[str]]:
    with pytest.raises(SlackApiError) as raised:
        call()
    response = raised.value.response
    return response["error"], response.get("response_metadata", {}).get("messages", [])


def test_a_modal_with_101_blocks_is_rejected_with_the_json_path(
    sim: Simulator, web: WebClient
) -> None:
    view = modal([section(f"row {i}") for i in range(101)])

    error, messages = refusal(
        sim, lambda: web.views_open(trigger_id=sim.issue_trigger_id(ALICE), view=view)
    )

    assert error == "invalid_arguments"
    assert messages == ["[ERROR] must be at most 100 items, got 101 [json-pointer:/view/blocks]"]
    assert sim.take_violations() == [
        LimitViolation("views.open", "/view/blocks", "must be at most 100 items, got 101")
    ]
    assert sim.open_views(ALICE) == []


def test_a_modal_with_100_blocks_opens(sim: Simulator, web: WebClient) -> None:
    view = modal([section(f"row {i}") for i in range(100)])

    response = web.views_open(trigger_id=sim.issue_trigger_id(ALICE), view=view)

    assert len(response["view"]["blocks"]) == 100
    assert sim.violations == []


def test_an_option_text_of_76_characters_is_rejected_with_the_json_path(
    sim: Simulator, web: WebClient
) -> None:
    options = [{"text": plain("x" * 76), "value": "v1"}, {"text": plain("ok"), "value": "v2"}]
    select = {"type": "static_select", "action_id": "bundle", "options": options}
    view = modal(
        [{"type": "input", "block_id": "b", "label": plain("Bundle"), "element": select}],
        submit=plain("Request"),
    )

    error, messages = refusal(
        sim, lambda: web.views_open(trigger_id=sim.issue_trigger_id(ALICE), view=view)
    )

    assert error == "invalid_arguments"
    path = "/view/blocks/0/element/options/0/text/text"
    assert messages == [f"[ERROR] must be at most 75 characters, got 76 [json-pointer:{path}]"]
    assert [v.path for v in sim.take_violations()] == [path]


def test_a_private_metadata_of_3001_characters_is_rejected(sim: Simulator, web: WebClient) -> None:
    view = modal([section("hi")], private_metadata="k" * 3001)

    error, messages = refusal(
        sim, lambda: web.views_open(trigger_id=sim.issue_trigger_id(ALICE), view=view)
    )

    assert error == "invalid_arguments"
    assert messages == [
        "[ERROR] must be at most 3000 characters, got 3001 [json-pointer:/view/private_metadata]"
    ]
    assert [v.path for v in sim.take_violations()] == ["/view/private_metadata"]


def test_a_message_with_51_blocks_is_rejected(sim: Simulator, web: WebClient) -> None:
    blocks = [section(f"line {i}") for i in range(51)]

    error, messages = refusal(
        sim, lambda: web.chat_postMessage(channel=AUDIT, text="fallback", blocks=blocks)
    )

    assert error == "invalid_blocks"
    assert messages == ["[ERROR] must be at most 50 items, got 51 [json-pointer:/blocks]"]
    assert sim.take_violations() == [
        LimitViolation("chat.postMessage", "/blocks", "must be at most 50 items, got 51")
    ]
    assert sim.messages(AUDIT) == []


def test_a_view_over_250_kb_is_refused_as_view_too_large(sim: Simulator, web: WebClient) -> None:
    view = modal([section("y" * 2900) for _ in range(90)])

    error, _ = refusal(
        sim, lambda: web.views_open(trigger_id=sim.issue_trigger_id(ALICE), view=view)
    )

    assert error == "view_too_large"
    assert [v.path for v in sim.take_violations()] == ["/view"]


@pytest.mark.parametrize(
    ("block", "path", "message"),
    [
        ({"type": "carousel"}, "/view/blocks/0/type", "unsupported block type 'carousel'"),
        ({"type": "section"}, "/view/blocks/0", "must provide text or fields"),
        (
            {"type": "actions", "elements": [{"type": "slider", "action_id": "s"}]},
            "/view/blocks/0/elements/0/type",
            "unsupported element type 'slider' here",
        ),
        (
            {"type": "header", "text": plain("h" * 151)},
            "/view/blocks/0/text/text",
            "must be at most 150 characters, got 151",
        ),
        (
            {"type": "section", "fields": [plain(str(i)) for i in range(11)]},
            "/view/blocks/0/fields",
            "must be at most 10 items, got 11",
        ),
        (
            {"type": "section", "text": plain("t"), "block_id": "b" * 256},
            "/view/blocks/0/block_id",
            "must be at most 255 characters, got 256",
        ),
        (
            {
                "type": "actions",
                "elements": [
                    {"type": "button", "text": plain("Go"), "action_id": "go", "value": "v" * 2001}
                ],
            },
            "/view/blocks/0/elements/0/value",
            "must be at most 2000 characters, got 2001",
        ),
        (
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "checkboxes",
                        "action_id": "c",
                        "options": [{"text": plain(str(i)), "value": str(i)} for i in range(11)],
                    }
                ],
            },
            "/view/blocks/0/elements/0/options",
            "must be at most 10 items, got 11",
        ),
    ],
)
def test_malformed_or_oversized_blocks_are_rejected_with_their_path(
    sim: Simulator, web: WebClient, block: JSON, path: str, message: str
) -> None:
    error, messages = refusal(
        sim, lambda: web.views_open(trigger_id=sim.issue_trigger_id(ALICE), view=modal([block]))
    )

    assert error == "invalid_arguments"
    assert f"[ERROR] {message} [json-pointer:{path}]" in messages
    assert path in [v.path for v in sim.take_violations()]


def test_a_modal_title_longer_than_24_characters_is_rejected(
    sim: Simulator, web: WebClient
) -> None:
    view = modal([section("hi")])
    view["title"] = plain("t" * 25)

    refusal(sim, lambda: web.views_open(trigger_id=sim.issue_trigger_id(ALICE), view=view))

    assert [v.path for v in sim.take_violations()] == ["/view/title/text"]


def test_a_modal_with_inputs_needs_a_submit_button(sim: Simulator, web: WebClient) -> None:
    element = {"type": "plain_text_input", "action_id": "why"}
    view = modal([{"type": "input", "label": plain("Why"), "element": element}])

    refusal(sim, lambda: web.views_open(trigger_id=sim.issue_trigger_id(ALICE), view=view))

    assert [v.path for v in sim.take_violations()] == ["/view/submit"]


def test_action_ids_must_be_unique_within_a_view(sim: Simulator, web: WebClient) -> None:
    button = {"type": "button", "text": plain("Go"), "action_id": "go"}
    view = modal(
        [
            {"type": "actions", "elements": [button]},
            {"type": "section", "text": plain("again"), "accessory": button},
        ]
    )

    refusal(sim, lambda: web.views_open(trigger_id=sim.issue_trigger_id(ALICE), view=view))

    assert [v.path for v in sim.take_violations()] == ["/view/blocks/1/accessory/action_id"]


def test_an_action_id_repeated_in_another_block_is_allowed_when_the_project_rule_is_off(
    slack_sim_factory: SimulatorFactory,
) -> None:
    sim = slack_sim_factory(unique_action_ids=False)
    web = WebClient(token=sim.bot_token, base_url=sim.api_url)
    button = {"type": "button", "text": plain("Go"), "action_id": "go"}
    view = modal(
        [
            {"type": "actions", "elements": [button, button]},
            {"type": "actions", "elements": [button]},
        ]
    )

    refusal(sim, lambda: web.views_open(trigger_id=sim.issue_trigger_id("U0ALICE"), view=view))

    assert [v.path for v in sim.take_violations()] == ["/view/blocks/0/elements/1/action_id"]


def test_input_blocks_and_duplicate_block_ids_are_refused_in_messages(
    sim: Simulator, web: WebClient
) -> None:
    blocks = [
        section("one") | {"block_id": "same"},
        section("two") | {"block_id": "same"},
        {
            "type": "input",
            "label": plain("Why"),
            "element": {"type": "plain_text_input", "action_id": "w"},
        },
    ]

    error, _ = refusal(sim, lambda: web.chat_postMessage(channel=AUDIT, text="t", blocks=blocks))

    assert error == "invalid_blocks"
    assert [v.path for v in sim.take_violations()] == ["/blocks/1/block_id", "/blocks/2"]


def test_message_text_over_40000_characters_is_msg_too_long(sim: Simulator, web: WebClient) -> None:
    error, _ = refusal(sim, lambda: web.chat_postMessage(channel=AUDIT, text="m" * 40_001))

    assert error == "msg_too_long"
    assert [v.path for v in sim.take_violations()] == ["/text"]


def test_chat_update_and_views_publish_are_checked_too(sim: Simulator, web: WebClient) -> None:
    posted = web.chat_postMessage(channel=AUDIT, text="fine")
    too_many = [section(str(i)) for i in range(51)]

    refusal(sim, lambda: web.chat_update(channel=AUDIT, ts=posted["ts"], text="t", blocks=too_many))
    refusal(
        sim,
        lambda: web.views_publish(
            user_id=ALICE, view={"type": "home", "blocks": [section(str(i)) for i in range(101)]}
        ),
    )

    assert [(v.method, v.path) for v in sim.take_violations()] == [
        ("chat.update", "/blocks"),
        ("views.publish", "/view/blocks"),
    ]
    assert sim.messages(AUDIT)[0].text == "fine"


def test_a_refused_view_leaves_its_trigger_id_usable(sim: Simulator, web: WebClient) -> None:
    trigger_id = sim.issue_trigger_id(ALICE)
    refusal(sim, lambda: web.views_open(trigger_id=trigger_id, view=modal([{"type": "nope"}])))
    sim.take_violations()

    web.views_open(trigger_id=trigger_id, view=modal([section("fixed")]))

    assert len(sim.open_views(ALICE)) == 1


def test_suggestion_answers_are_held_to_100_options_and_75_characters() -> None:
    too_many = {"options": [{"text": plain(str(i)), "value": str(i)} for i in range(101)]}
    too_long = {"options": [{"text": plain("ok"), "value": "v" * 76}]}
    groups = {
        "option_groups": [
            {
                "label": plain("g"),
                "options": [{"text": plain(str(i)), "value": str(i)} for i in range(101)],
            }
        ]
    }

    assert [p.path for p in check_suggestions(too_many)] == ["/options"]
    assert [p.path for p in check_suggestions(too_long)] == ["/options/0/value"]
    assert [p.path for p in check_suggestions(groups)] == ["/option_groups/0/options"]
    assert check_suggestions({"options": [{"text": plain("ok"), "value": "ok"}]}) == []
