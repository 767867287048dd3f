"""The typed parsers read real payload shapes: each body is built by the simulator's
``slacksim.payloads``, from a view the bot's own builders made and Slack's view store holds."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from app.requesting.form import block_for, form_input
from app.slack.payloads import (
    Action,
    Click,
    Command,
    HomeOpened,
    MalformedPayload,
    Submission,
    Suggestion,
    ViewPayload,
)
from app.slack.views import metadata
from blocks.ids import ActionId, BlockId
from blocks.request_modal import FlowChoice, RequestModal, request_modal
from domain.drafts import Mode
from domain.ids import UserId
from slacksim import payloads
from slacksim.ids import IdFactory
from slacksim.views import ViewRecord, ViewStore
from slacksim.workspace import demo_workspace

WS = demo_workspace()
ALICE = WS.require_user("U0ALICE")
DRAFT = "draft-key-0000000001"
FLOW = FlowChoice(
    name="oncall",
    automatic=False,
    approvers="your manager",
    max_duration=timedelta(hours=4),
    durations=(timedelta(hours=1), timedelta(hours=4)),
    default_duration=timedelta(hours=1),
    justification_required=True,
)


def _opened_modal() -> ViewRecord:
    """The Integrations-mode request modal as Slack holds it once opened, with a typed
    justification and a picked duration."""
    model = RequestModal(
        draft_key=DRAFT,
        mode=Mode.INTEGRATIONS,
        limit=1_000,
        integrations=("prod-pg",),
        integration="prod-pg",
        flows=(FLOW,),
        flow=FLOW,
    )
    record = ViewStore(IdFactory()).open(ALICE.id, request_modal(model))
    record.set_value(BlockId.JUSTIFICATION, ActionId.JUSTIFICATION, {
        "type": "plain_text_input", "value": "INC-1234",
    })  # fmt: skip
    record.set_value("duration.oncall", ActionId.DURATION, {
        "type": "static_select",
        "selected_option": {"text": {"type": "plain_text", "text": "4h"}, "value": "4h"},
    })  # fmt: skip
    return record


def _view(record: ViewRecord) -> dict[str, Any]:
    return record.payload(team_id=WS.team_id, app_id=WS.app_id, bot_id="B0SIM")


def test_a_click_in_a_view_gives_the_clicker_the_action_and_the_view() -> None:
    record = _opened_modal()
    body = payloads.block_actions_in_view(
        WS,
        ALICE,
        view=_view(record),
        actions=[
            {
                "type": "static_select",
                "action_id": ActionId.PICK_INTEGRATION,
                "block_id": BlockId.INTEGRATION,
                "selected_option": {
                    "text": {"type": "plain_text", "text": "prod-pg"},
                    "value": "prod-pg",
                },
                "action_ts": payloads.action_ts(),
            }
        ],
        trigger_id="1337.42.abc",
    )

    click = Click.from_body(body)

    assert click.user == "U0ALICE"
    assert click.trigger_id == "1337.42.abc"
    assert click.action == Action(
        action_id=ActionId.PICK_INTEGRATION, block_id=BlockId.INTEGRATION, selected="prod-pg"
    )
    assert click.action.choice == "prod-pg"
    assert click.channel is None
    assert click.reply_channel == "U0ALICE"
    assert click.view is not None
    assert click.in_modal
    assert not click.from_home
    assert click.view.id == record.id
    assert click.view.hash == record.hash
    assert click.view.callback_id == "request_modal"
    meta = metadata(click.view)
    assert meta is not None
    assert meta.d == DRAFT
    form = form_input(click.view)
    assert form.justification == "INC-1234"
    assert form.duration == "4h"
    assert form.permission is None
    assert block_for(click.view, "duration") == "duration.oncall"
    assert block_for(click.view, "justification") == BlockId.JUSTIFICATION


def test_a_button_in_a_message_gives_its_value_and_the_channel() -> None:
    message = {"type": "message", "ts": "1700000000.000100", "text": "AR-7K3Q9M", "blocks": []}
    body = payloads.block_actions_in_message(
        WS,
        ALICE,
        channel_id="C0AUDIT",
        channel_name="audit",
        message=message,
        state_values={},
        actions=[
            {
                "type": "button",
                "action_id": ActionId.APPROVE,
                "block_id": "decision",
                "value": '{"r":"AR-7K3Q9M"}',
                "action_ts": payloads.action_ts(),
            }
        ],
        trigger_id="1337.43.def",
        response_url="https://hooks.slack.test/actions/1",
    )

    click = Click.from_body(body)

    assert click.user == "U0ALICE"
    assert click.action.value == '{"r":"AR-7K3Q9M"}'
    assert click.action.selected is None
    assert click.action.choice == '{"r":"AR-7K3Q9M"}'
    assert click.view is None
    assert not click.in_modal
    assert click.channel == "C0AUDIT"
    assert click.reply_channel == "C0AUDIT"
    assert click.message_ts == "1700000000.000100"


def test_a_submission_gives_the_submitter_and_the_views_state() -> None:
    record = _opened_modal()
    body = payloads.view_submission(WS, ALICE, view=_view(record), trigger_id="1337.44.ghi")

    submitted = Submission.from_body(body)

    assert submitted.user == "U0ALICE"
    assert submitted.trigger_id == "1337.44.ghi"
    assert submitted.view.id == record.id
    assert submitted.view.text(ActionId.JUSTIFICATION) == "INC-1234"
    assert submitted.view.selected(ActionId.DURATION) == "4h"
    assert submitted.view.text("no.such.action") is None
    assert submitted.view.input_block_ids == tuple(
        b["block_id"] for b in record.blocks if b["type"] == "input"
    )
    assert BlockId.INTEGRATION in submitted.view.input_block_ids


def test_a_suggestion_gives_the_typed_query_and_the_view() -> None:
    record = _opened_modal()
    body = payloads.block_suggestion(
        WS,
        ALICE,
        view=_view(record),
        action_id=ActionId.PICK_RESOURCE,
        block_id="resource.prod-pg",
        value="sales",
    )

    typed = Suggestion.from_body(body)

    assert typed.user == "U0ALICE"
    assert typed.action_id == ActionId.PICK_RESOURCE
    assert typed.query == "sales"
    meta = metadata(typed.view)
    assert meta is not None
    assert meta.d == DRAFT


def test_a_slash_command_and_home_opened() -> None:
    body = payloads.slash_command(
        WS,
        ALICE,
        command="/apono",
        text="revoke AR-7K3Q9M",
        channel_id="C0GENERAL",
        channel_name="general",
        response_url="https://hooks.slack.test/commands/1",
        trigger_id="1337.45.jkl",
    )
    command = Command.from_body(body)
    assert command == Command(
        user=UserId("U0ALICE"),
        text="revoke AR-7K3Q9M",
        trigger_id="1337.45.jkl",
        channel="C0GENERAL",
    )

    event = payloads.app_home_opened(WS, ALICE, channel_id="D0ALICE", view=None, event_id="Ev1")
    assert HomeOpened.from_event(event["event"]) == HomeOpened(user=UserId("U0ALICE"), tab="home")


def test_missing_or_odd_parts_parse_as_empty_and_a_body_without_a_user_is_refused() -> None:
    click = Click.from_body({"user": {"id": "U0ALICE"}, "actions": "not a list", "view": 3})
    assert click.action == Action()
    assert click.action.choice == ""
    assert click.view is None
    assert click.trigger_id is None
    assert ViewPayload.from_dict({"state": {"values": {"b": {"a": "odd"}}}}).state == {}
    assert metadata(ViewPayload(private_metadata="not json")) is None
    with pytest.raises(MalformedPayload):
        Click.from_body({"actions": []})
    with pytest.raises(MalformedPayload):
        Command.from_body({"user_id": ""})
