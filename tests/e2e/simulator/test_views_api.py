"""views.* behave like Slack's: single-use fresh triggers, hashes, a 3-deep stack, kept state."""

from __future__ import annotations

from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from slacksim import Simulator
from slacksim.pytest_plugin import SimulatorFactory

from .conftest import ALICE, BOB, workspace

pytestmark = pytest.mark.e2e

JSON = dict[str, Any]


def plain(text: str) -> JSON:
    return {"type": "plain_text", "text": text}


def text_input(block_id: str, action_id: str, **element: Any) -> JSON:
    return {
        "type": "input",
        "block_id": block_id,
        "label": plain(block_id),
        "element": {"type": "plain_text_input", "action_id": action_id, **element},
    }


def form(*blocks: JSON, **extra: Any) -> JSON:
    return {
        "type": "modal",
        "callback_id": "form",
        "title": plain("Form"),
        "submit": plain("Send"),
        "blocks": list(blocks),
        **extra,
    }


def error_of(call: Any) -> str:
    with pytest.raises(SlackApiError) as raised:
        call()
    return str(raised.value.response["error"])


def test_a_stale_trigger_id_is_refused(sim: Simulator, web: WebClient) -> None:
    trigger_id = sim.issue_trigger_id(ALICE)
    sim.age_triggers(3.01)

    assert (
        error_of(lambda: web.views_open(trigger_id=trigger_id, view=form())) == "expired_trigger_id"
    )


def test_a_trigger_id_opens_only_one_view(sim: Simulator, web: WebClient) -> None:
    trigger_id = sim.issue_trigger_id(ALICE)
    web.views_open(trigger_id=trigger_id, view=form())

    assert (
        error_of(lambda: web.views_open(trigger_id=trigger_id, view=form())) == "expired_trigger_id"
    )


def test_an_unknown_trigger_id_is_invalid(web: WebClient) -> None:
    assert (
        error_of(lambda: web.views_open(trigger_id="1.2.nope", view=form())) == "invalid_trigger_id"
    )


def test_views_open_answers_with_slack_s_view_object(sim: Simulator, web: WebClient) -> None:
    view = web.views_open(
        trigger_id=sim.issue_trigger_id(ALICE),
        view=form(
            {"type": "section", "text": plain("hi")}, private_metadata="req-1", external_id="ext-1"
        ),
    )["view"]

    assert view["id"].startswith("V")
    assert view["type"] == "modal"
    assert view["callback_id"] == "form"
    assert view["private_metadata"] == "req-1"
    assert view["external_id"] == "ext-1"
    assert view["state"] == {"values": {}}
    assert view["root_view_id"] == view["id"]
    assert view["previous_view_id"] is None
    assert view["hash"]
    assert view["blocks"][0]["block_id"]  # Slack fills in missing block_ids
    assert sim.view(view["id"]).open


def test_views_update_with_an_old_hash_is_a_hash_conflict(sim: Simulator, web: WebClient) -> None:
    opened = web.views_open(trigger_id=sim.issue_trigger_id(ALICE), view=form())["view"]
    updated = web.views_update(view_id=opened["id"], hash=opened["hash"], view=form())["view"]

    assert updated["hash"] != opened["hash"]
    stale = lambda: web.views_update(view_id=opened["id"], hash=opened["hash"], view=form())  # noqa: E731
    assert error_of(stale) == "hash_conflict"


def test_views_update_finds_a_view_by_external_id(sim: Simulator, web: WebClient) -> None:
    opened = web.views_open(trigger_id=sim.issue_trigger_id(ALICE), view=form(external_id="req-7"))

    web.views_update(external_id="req-7", view=form({"type": "section", "text": plain("later")}))

    assert sim.view(opened["view"]["id"]).blocks[0]["text"]["text"] == "later"


def test_views_update_of_an_unknown_view_is_not_found(web: WebClient) -> None:
    assert error_of(lambda: web.views_update(view_id="V404", view=form())) == "not_found"


def test_views_push_stops_at_three_views(sim: Simulator, web: WebClient) -> None:
    root = web.views_open(trigger_id=sim.issue_trigger_id(ALICE), view=form())["view"]
    second = web.views_push(trigger_id=sim.issue_trigger_id(ALICE), view=form())["view"]
    web.views_push(trigger_id=sim.issue_trigger_id(ALICE), view=form())

    fourth = lambda: web.views_push(trigger_id=sim.issue_trigger_id(ALICE), view=form())  # noqa: E731
    assert error_of(fourth) == "push_limit_reached"
    assert [v.root_view_id for v in sim.open_views(ALICE)] == [root["id"]] * 3
    assert second["previous_view_id"] == root["id"]


def test_values_the_user_typed_survive_views_update_while_block_and_action_ids_stay(
    slack_sim_factory: SimulatorFactory,
) -> None:
    sim = slack_sim_factory(workspace=workspace(), unique_action_ids=False)
    web = WebClient(token=sim.bot_token, base_url=sim.api_url)
    opened = web.views_open(
        trigger_id=sim.issue_trigger_id(ALICE),
        view=form(text_input("why", "text"), text_input("old", "text")),
    )["view"]
    sim.type_text(ALICE, view_id=opened["id"], action_id="text", block_id="why", text="incident 42")
    sim.type_text(ALICE, view_id=opened["id"], action_id="text", block_id="old", text="gone soon")

    web.views_update(
        view_id=opened["id"],
        view=form(text_input("why", "text", initial_value="ignored"), text_input("new", "text")),
    )

    values = sim.view(opened["id"]).state_values
    assert values["why"]["text"] == {"type": "plain_text_input", "value": "incident 42"}
    assert values["new"]["text"] == {"type": "plain_text_input", "value": None}
    assert "old" not in values


def test_initial_values_seed_the_state_as_in_slack(sim: Simulator, web: WebClient) -> None:
    option = {"text": plain("1 hour"), "value": "1h"}
    select = {
        "type": "static_select",
        "action_id": "d",
        "options": [option],
        "initial_option": option,
    }
    opened = web.views_open(
        trigger_id=sim.issue_trigger_id(ALICE),
        view=form(
            text_input("why", "text", initial_value="because"),
            {"type": "input", "block_id": "duration", "label": plain("For"), "element": select},
        ),
    )["view"]

    assert opened["state"]["values"] == {
        "why": {"text": {"type": "plain_text_input", "value": "because"}},
        "duration": {"d": {"type": "static_select", "selected_option": option}},
    }


def test_views_publish_keeps_one_home_tab_per_user(sim: Simulator, web: WebClient) -> None:
    home = {"type": "home", "blocks": [{"type": "section", "text": plain("v1")}]}
    first = web.views_publish(user_id=ALICE, view=home)["view"]
    second = web.views_publish(
        user_id=ALICE, view=home | {"blocks": [{"type": "section", "text": plain("v2")}]}
    )["view"]

    assert second["id"] == first["id"]
    home_view = sim.home(ALICE)
    assert home_view is not None
    assert home_view.blocks[0]["text"]["text"] == "v2"
    assert sim.home(BOB) is None
    assert error_of(lambda: web.views_publish(user_id="U404", view=home)) == "user_not_found"


def test_the_top_views_version_is_its_id_and_hash_and_follows_each_update(
    sim: Simulator, web: WebClient
) -> None:
    assert sim.top_view_version(ALICE) is None
    opened = web.views_open(trigger_id=sim.issue_trigger_id(ALICE), view=form())["view"]
    assert sim.top_view_version(ALICE) == (opened["id"], opened["hash"])
    updated = web.views_update(view_id=opened["id"], hash=opened["hash"], view=form())["view"]
    assert sim.top_view_version(ALICE) == (opened["id"], updated["hash"])
    pushed = web.views_push(trigger_id=sim.issue_trigger_id(ALICE), view=form())["view"]
    assert sim.top_view_version(ALICE) == (pushed["id"], pushed["hash"])
    assert sim.top_view_version(BOB) is None
