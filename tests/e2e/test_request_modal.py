"""/apono: request a bundle, or some of it, in a modal with Bundle Mode (issue 3)."""

from __future__ import annotations

import json

import pytest

from domain.ids import RequestId, UserId
from domain.lifecycle import Status
from domain.objects import MAX_OBJECTS_PER_REQUEST, AccessObject
from domain.policy import AccessFlow
from slacksim import View
from tests.e2e.conftest import StartBot
from tests.e2e.harness import ALICE, CAROL, DAVE, ERIN, FRANK, OSCAR, Bot, standard_policy
from tests.e2e.modal_steps import (
    add_found,
    bundle_options,
    input_block,
    justify,
    many,
    pick_bundle,
    search,
    seed_bundle,
    select_all,
    submit,
    switch_to_bundle_mode,
    text,
)


def requests_of(bot: Bot, user: str) -> list[RequestId]:
    with bot.app.store.read() as uow:
        return uow.requests.recent_for(UserId(user), limit=100)


def flows_with(bundles: list[str], **flow: object) -> list[dict[str, object]]:
    base = standard_policy().model_dump(mode="json")["access_flows"]
    return [*base, {"bundles": bundles, **flow}]


# -- eligibility


def test_the_bundle_menu_lists_exactly_what_active_flows_offer_through_a_group(bot: Bot) -> None:
    bot.open_modal(ALICE)
    view = switch_to_bundle_mode(bot, ALICE)
    # hidden-bundle is only in an inactive flow, finance-bundle in another group's flow,
    # orphan-bundle in no flow at all.
    assert bundle_options(view) == ["prod-incident"]


def test_a_user_named_by_email_in_a_flow_may_request_its_bundles(bot: Bot) -> None:
    bot.open_modal(ERIN)
    assert bundle_options(switch_to_bundle_mode(bot, ERIN)) == ["prod-incident"]


def test_a_member_of_another_group_sees_only_that_groups_bundle(bot: Bot) -> None:
    bot.open_modal(FRANK)
    assert bundle_options(switch_to_bundle_mode(bot, FRANK)) == ["finance-bundle"]


def test_a_user_named_by_id_sees_the_plain_objects_of_their_flow(bot: Bot) -> None:
    view = bot.open_modal(ALICE)
    integration_menu = next(b for b in view.blocks if b.get("block_id") == "integration")
    assert [o["value"] for o in integration_menu["element"]["options"]] == [
        "prod-postgres",
        "prod-redis",
    ]
    # Dave may only request bundles: his modal opens in Bundle Mode, Integrations mode says why.
    dave = bot.open_modal(DAVE)
    assert bundle_options(dave) == ["prod-incident"]
    dave = bot.after(
        DAVE, lambda: bot.sim.click(DAVE, action_id="modal.mode.integrations", view_id=dave.id)
    )
    assert "No active access flow offers you single objects" in text(dave)


def test_a_hand_made_pick_of_a_bundle_in_an_inactive_flow_is_refused(bot: Bot) -> None:
    bot.open_modal(ALICE)
    view = switch_to_bundle_mode(bot, ALICE)
    forged = {
        "type": "block_actions",
        "user": {"id": ALICE, "username": "alice", "name": "alice", "team_id": "T0SIM"},
        "api_app_id": "A0SIM",
        "team": {"id": "T0SIM", "domain": "sim"},
        "container": {"type": "view", "view_id": view.id},
        "trigger_id": "1.2.forged",
        "view": {
            "id": view.id,
            "hash": view.hash,
            "private_metadata": view.private_metadata,
            "callback_id": "request_modal",
            "state": {"values": {}},
            "blocks": view.blocks,
            "type": "modal",
        },
        "actions": [
            {
                "type": "static_select",
                "action_id": "modal.bundle",
                "block_id": "bundle",
                "selected_option": {
                    "text": {"type": "plain_text", "text": "x"},
                    "value": "hidden-bundle",
                },
                "action_ts": "1.2",
            }
        ],
    }
    bot.after(ALICE, lambda: bot.sim.send_envelope(type_="interactive", payload=forged))
    view = bot.view(ALICE)
    assert "not offered to you" in text(view)
    refused = bot.sim.send_envelope(
        type_="interactive", payload=forged_submission(view, justification="let me in")
    )
    assert refused.payload is not None
    assert refused.payload["response_action"] == "errors"
    assert "bundle" in refused.payload["errors"]
    assert requests_of(bot, ALICE) == []


# -- picking and submitting


def test_a_picked_bundle_is_summarised_per_integration(bot: Bot) -> None:
    bot.open_modal(ALICE)
    view = pick_bundle(bot, ALICE, "prod-incident")
    shown = text(view)
    assert "4 objects in 3 integrations" in shown
    assert "*prod-postgres* · 2 objects · read_only, read_write" in shown
    assert "*prod-redis* · 1 object · read_write" in shown
    assert "*shop-mysql* · 1 object · read_only" in shown
    assert json.loads(view.private_metadata).keys() == {"d"}


def test_select_all_then_submit_stores_exactly_one_pending_request_with_every_object(
    bot: Bot,
) -> None:
    bot.open_modal(ALICE)
    pick_bundle(bot, ALICE, "prod-incident")
    view = select_all(bot, ALICE)
    assert "Selected: 4" in text(view)
    justify(bot, ALICE, "INC-42: orders stuck")
    done = submit(bot, ALICE)
    assert done.payload is not None
    assert done.payload["response_action"] == "update"
    [request_id] = requests_of(bot, ALICE)
    assert request_id in json.dumps(done.payload["view"])
    with bot.app.store.read() as uow:
        request = uow.requests.get(request_id)
        objects = uow.requests.objects(request_id)
    assert request is not None
    assert (request.status, request.flow, request.bundle) == (
        Status.PENDING,
        "developers",
        "prod-incident",
    )
    assert request.justification == "INC-42: orders stuck"
    assert sorted(objects) == sorted(
        [
            AccessObject("prod-postgres", "sales.orders", "read_write"),
            AccessObject("prod-postgres", "sales.customers", "read_only"),
            AccessObject("prod-redis", "orders:*", "read_write"),
            AccessObject("shop-mysql", "shop.orders", "read_only"),
        ]
    )


def test_some_of_a_bundle_can_be_requested_by_picking_single_objects(bot: Bot) -> None:
    bot.open_modal(ALICE)
    pick_bundle(bot, ALICE, "prod-incident")
    found = search(bot, ALICE, "orders")
    assert {o["text"]["text"] for o in found} == {
        "sales.orders · read_write",
        "orders:* · read_write",
        "shop.orders · read_only",
    }
    redis = next(o for o in found if o["text"]["text"].startswith("orders:*"))
    view = add_found(bot, ALICE, redis)
    assert "Selected: 1" in text(view)
    justify(bot, ALICE, "cache is stale")
    submit(bot, ALICE)
    [request_id] = requests_of(bot, ALICE)
    with bot.app.store.read() as uow:
        assert uow.requests.objects(request_id) == [
            AccessObject("prod-redis", "orders:*", "read_write")
        ]


def test_a_required_justification_is_asked_for_inline_and_nothing_is_stored(bot: Bot) -> None:
    bot.open_modal(ALICE)
    pick_bundle(bot, ALICE, "prod-incident")
    view = select_all(bot, ALICE)
    justification = next(b for b in view.blocks if b.get("block_id") == "justification")
    assert justification.get("optional", False) is False  # Slack itself asks for it first
    refused = bot.sim.send_envelope(
        type_="interactive", payload=forged_submission(view, justification=None)
    )
    assert refused.payload is not None
    assert refused.payload["response_action"] == "errors"
    assert "requires a reason" in refused.payload["errors"]["justification"]
    assert requests_of(bot, ALICE) == []


def test_nothing_selected_is_refused_on_the_object_picker(bot: Bot) -> None:
    bot.open_modal(ALICE)
    view = pick_bundle(bot, ALICE, "prod-incident")
    justify(bot, ALICE, "x")
    refused = submit(bot, ALICE)
    assert refused.payload is not None
    assert refused.payload["errors"] == {input_block(view, "add."): "Pick at least one object."}


def test_the_flows_default_duration_is_preselected_and_the_choices_stop_at_its_maximum(
    bot: Bot,
) -> None:
    bot.open_modal(ALICE)
    view = pick_bundle(bot, ALICE, "prod-incident")
    duration = next(b for b in view.blocks if str(b.get("block_id", "")).startswith("duration."))
    assert [o["value"] for o in duration["element"]["options"]] == ["1h", "2h", "5h"]
    assert duration["element"]["initial_option"]["value"] == "1h"


def test_a_duration_above_the_flows_maximum_is_refused_on_the_server(bot: Bot) -> None:
    bot.open_modal(ALICE)
    pick_bundle(bot, ALICE, "prod-incident")
    view = select_all(bot, ALICE)
    justify(bot, ALICE, "INC-1")
    view = bot.view(ALICE)
    duration_block = input_block(view, "duration.")
    forged = forged_submission(view, justification="INC-1", duration="9h")
    refused = bot.sim.send_envelope(type_="interactive", payload=forged)
    assert refused.payload is not None
    assert refused.payload["response_action"] == "errors"
    assert "At most 5h" in refused.payload["errors"][duration_block]
    assert requests_of(bot, ALICE) == []


# -- the 1,000-object limit


def test_1000_objects_are_accepted_and_the_1001st_is_refused(bot: Bot) -> None:
    assert MAX_OBJECTS_PER_REQUEST == 1000
    seed_bundle(
        bot,
        name="big-1001",
        objects=[*many("prod-postgres", 1000), AccessObject("prod-redis", "extra:*", "read_only")],
    )
    _offer(bot, "big-1001")
    bot.open_modal(ALICE)
    view = pick_bundle(bot, ALICE, "big-1001")
    # No Select all that could only be refused: the line says what works instead.
    assert (
        "1,001 objects in 2 integrations; more than one request can hold (1,000): pick objects "
        "with the search below or select one integration at a time."
    ) in text(view)
    assert '"modal.select_all"' not in json.dumps(view.blocks)
    assert "Select all 1,000" in text(view)
    assert "Selected:* nothing yet" in text(view)

    view = select_all(bot, ALICE, "prod-postgres")
    assert "Selected: 1,000" in text(view)

    extra = search(bot, ALICE, "extra")
    view = add_found(bot, ALICE, extra[0])
    assert "That would make 1,001 objects" in text(view)
    assert "Selected: 1,000" in text(view)

    justify(bot, ALICE, "migration")
    done = submit(bot, ALICE)
    assert done.payload is not None
    assert done.payload["response_action"] == "update"
    [request_id] = requests_of(bot, ALICE)
    with bot.app.store.read() as uow:
        assert len(uow.requests.objects(request_id)) == 1000


def test_a_selection_above_the_limit_is_refused_at_submission_too(bot: Bot) -> None:
    seed_bundle(bot, name="big-1001", objects=many("prod-postgres", 1001))
    _offer(bot, "big-1001")
    bot.open_modal(ALICE)
    view = pick_bundle(bot, ALICE, "big-1001")
    # Two racing clicks could in principle overshoot: the server counts again at submit.
    draft_key = json.loads(view.private_metadata)["d"]
    with bot.app.store.write() as uow:
        uow.drafts.add(draft_key, many("prod-postgres", 1001))
    justify(bot, ALICE, "x")
    refused = submit(bot, ALICE)
    assert refused.payload is not None
    assert "one request can hold at most 1,000" in json.dumps(refused.payload["errors"])
    assert requests_of(bot, ALICE) == []


def test_a_100000_object_bundle_opens_searches_and_is_partly_requested(bot: Bot) -> None:
    objects = (
        many("prod-postgres", 60_000, prefix="sales")
        + many("shop-mysql", 30_000, prefix="shop")
        + many("prod-redis", 10_000, prefix="keys", permission="read_write")
    )
    seed_bundle(bot, name="everything", objects=objects)
    _offer(bot, "everything")
    bot.open_modal(ALICE)
    view = pick_bundle(bot, ALICE, "everything")
    assert "100,000 objects in 3 integrations" in text(view)
    assert len(view.blocks) < 30
    # Nothing in it can be selected all at once; the modal says to search instead.
    assert '"modal.select_all"' not in json.dumps(view.blocks)
    assert '"modal.select_integration:' not in json.dumps(view.blocks)
    assert "More than one request can hold (1,000): pick objects with the search below." in text(
        view
    )

    found = search(bot, ALICE, "obj004242")
    assert {o["text"]["text"] for o in found} == {
        "sales.obj004242 · read_only",
        "shop.obj004242 · read_only",
        "keys.obj004242 · read_write",
    }
    for option in found:
        view = add_found(bot, ALICE, option)
    assert "Selected: 3" in text(view)
    assert len(search(bot, ALICE, "obj0")) == 100

    justify(bot, ALICE, "audit")
    submit(bot, ALICE)
    [request_id] = requests_of(bot, ALICE)
    with bot.app.store.read() as uow:
        assert len(uow.requests.objects(request_id)) == 3


# -- stale state, flows, modes


def test_a_bundle_edited_while_choosing_is_refused_with_a_clear_message(bot: Bot) -> None:
    bot.open_modal(ALICE)
    pick_bundle(bot, ALICE, "prod-incident")
    select_all(bot, ALICE)
    justify(bot, ALICE, "INC-7")
    seed_bundle(
        bot,
        name="prod-incident",
        objects=[AccessObject("prod-postgres", "sales.orders", "read_only")],
    )
    refused = submit(bot, ALICE)
    assert refused.payload is not None
    assert "was edited while you were choosing" in refused.payload["errors"]["bundle"]
    assert requests_of(bot, ALICE) == []


def test_a_flow_deactivated_while_choosing_is_refused_with_a_clear_message(bot: Bot) -> None:
    bot.open_modal(ALICE)
    pick_bundle(bot, ALICE, "prod-incident")
    select_all(bot, ALICE)
    justify(bot, ALICE, "INC-8")
    record = bot.app.services.catalog.flow("developers")
    assert record is not None
    _save_flow(bot, record.flow.model_copy(update={"active": False}))
    refused = submit(bot, ALICE)
    assert refused.payload is not None
    assert "deactivated" in refused.payload["errors"]["bundle"]
    assert requests_of(bot, ALICE) == []


def test_approvers_written_by_email_are_named_like_the_confirmation_names_them(
    start: StartBot,
) -> None:
    policy = standard_policy()
    data = policy.model_dump(mode="json")
    data["access_flows"][0]["grantees"]["groups"].append("@developers")  # on-call: ALICE too
    data["access_flows"][0]["approvers"] = {"users": ["carol@example.com", "nobody@example.com"]}
    bot = start(policy=type(policy).model_validate(data))
    bot.open_modal(ALICE)
    view = pick_bundle(bot, ALICE, "prod-incident")
    flow_block = next(b for b in view.blocks if b.get("block_id") == "flow")
    # Option descriptions are plain_text, where a mention would show as <@U…>: display names,
    # and an email only for someone the directory does not know.
    options = {o["value"]: o["description"]["text"] for o in flow_block["element"]["options"]}
    assert options["on-call"] == "approved by Carol King, nobody@example.com · up to 1h"
    view = bot.after(
        ALICE,
        lambda: bot.sim.select(ALICE, action_id="modal.flow", view_id=view.id, value="on-call"),
    )
    select_all(bot, ALICE)
    justify(bot, ALICE, "INC-7")
    done = submit(bot, ALICE)
    assert done.payload is not None
    assert f"Waiting for approval by <@{CAROL}>." in json.dumps(done.payload["view"])


def test_when_two_flows_offer_the_bundle_the_user_chooses_and_sees_what_each_means(
    start: StartBot,
) -> None:
    policy = standard_policy()
    both = policy.model_dump(mode="json")
    both["access_flows"][0]["grantees"]["groups"].append("@developers")  # on-call: ALICE too
    bot = start(policy=type(policy).model_validate(both))
    bot.open_modal(ALICE)
    view = pick_bundle(bot, ALICE, "prod-incident")
    flow_block = next(b for b in view.blocks if b.get("block_id") == "flow")
    options = {o["value"]: o["description"]["text"] for o in flow_block["element"]["options"]}
    assert options == {
        "on-call": "approved automatically · up to 1h",
        "developers": "approved by your manager · up to 5h",
    }
    view = bot.after(
        ALICE,
        lambda: bot.sim.select(ALICE, action_id="modal.flow", view_id=view.id, value="on-call"),
    )
    duration = next(b for b in view.blocks if str(b.get("block_id", "")).startswith("duration."))
    assert [o["value"] for o in duration["element"]["options"]] == ["1h"]
    select_all(bot, ALICE)
    done = submit(bot, ALICE)
    assert done.payload is not None
    assert done.payload["response_action"] == "update"
    [request_id] = requests_of(bot, ALICE)
    with bot.app.store.read() as uow:
        request = uow.requests.get(request_id)
    assert request is not None
    assert request.flow == "on-call"
    assert request.automatic


def test_switching_modes_keeps_what_the_user_typed(bot: Bot) -> None:
    view = bot.open_modal(ALICE)
    bot.sim.type_text(ALICE, view_id=view.id, action_id="modal.justification", text="keep me")
    view = switch_to_bundle_mode(bot, ALICE)
    view = bot.after(
        ALICE, lambda: bot.sim.click(ALICE, action_id="modal.mode.integrations", view_id=view.id)
    )
    assert bot.sim.view(view.id).state_values["justification"]["modal.justification"]["value"] == (
        "keep me"
    )
    view = switch_to_bundle_mode(bot, ALICE)
    view = pick_bundle(bot, ALICE, "prod-incident")
    assert bot.sim.view(view.id).state_values["justification"]["modal.justification"]["value"] == (
        "keep me"
    )


def test_integrations_mode_requests_plain_objects_through_their_flow(bot: Bot) -> None:
    # Every trigger fires once at start-up: the fake integration's discovery, landing after what
    # this test records, would replace it (it did once).
    bot.sim.wait_for(lambda: bot.app.triggers["discover"].runs >= 1, timeout=10)
    bot.app.services.catalog.record_discovery(
        integration="prod-postgres",
        resources=[("sales.orders", "table"), ("sales.refunds", "table"), ("hr.people", "table")],
        at=bot.app.clock.now(),
    )
    view = bot.open_modal(ALICE)
    view = bot.after(
        ALICE,
        lambda: bot.sim.select(
            ALICE, action_id="modal.integration", view_id=view.id, value="prod-postgres"
        ),
    )
    found = bot.sim.suggest(ALICE, view_id=view.id, action_id="modal.resource", query="s")
    assert [o["value"] for o in found] == ["sales.*", "sales.orders", "sales.refunds"]
    refunds = next(o for o in found if o["value"] == "sales.refunds")
    view = bot.after(
        ALICE,
        lambda: bot.sim.select(ALICE, action_id="modal.resource", view_id=view.id, option=refunds),
    )
    view = bot.after(
        ALICE, lambda: bot.sim.click(ALICE, action_id="modal.add_plain", view_id=view.id)
    )
    assert "Selected: 1" in text(view)
    done = submit(bot, ALICE)
    assert done.payload is not None
    assert done.payload["response_action"] == "update"
    [request_id] = requests_of(bot, ALICE)
    with bot.app.store.read() as uow:
        request = uow.requests.get(request_id)
        assert uow.requests.objects(request_id) == [
            AccessObject("prod-postgres", "sales.refunds", "read_only")
        ]
    assert request is not None
    assert (request.flow, request.bundle) == ("db-readers", None)


def test_an_expired_or_foreign_draft_key_is_refused(bot: Bot) -> None:
    bot.open_modal(ALICE)
    alice_view = pick_bundle(bot, ALICE, "prod-incident")
    bot.open_modal(OSCAR)
    oscar_view = bot.view(OSCAR)
    stolen = {
        "type": "block_actions",
        "user": {"id": OSCAR, "username": "oscar", "name": "oscar", "team_id": "T0SIM"},
        "api_app_id": "A0SIM",
        "team": {"id": "T0SIM", "domain": "sim"},
        "container": {"type": "view", "view_id": oscar_view.id},
        "trigger_id": "1.2.x",
        "view": {
            "id": oscar_view.id,
            "hash": oscar_view.hash,
            "private_metadata": alice_view.private_metadata,
            "callback_id": "request_modal",
            "state": {"values": {}},
            "blocks": oscar_view.blocks,
            "type": "modal",
        },
        "actions": [
            {
                "type": "button",
                "action_id": "modal.select_all",
                "block_id": "bundle_summary",
                "value": "all",
                "action_ts": "1",
            }
        ],
    }
    bot.after(OSCAR, lambda: bot.sim.send_envelope(type_="interactive", payload=stolen))
    assert "expired" in text(bot.view(OSCAR))
    with bot.app.store.read() as uow:
        assert uow.drafts.count(json.loads(alice_view.private_metadata)["d"]) == 0


# -- helpers


def forged_submission(
    view: View, *, justification: str | None, duration: str | None = None
) -> dict[str, object]:
    """A view_submission built by hand, as a client that skips Slack's own checks would send."""
    values: dict[str, object] = {
        "justification": {
            "modal.justification": {"type": "plain_text_input", "value": justification}
        }
    }
    if duration is not None:
        values[input_block(view, "duration.")] = {
            "modal.duration": {
                "type": "static_select",
                "selected_option": {
                    "value": duration,
                    "text": {"type": "plain_text", "text": duration},
                },
            }
        }
    return {
        "type": "view_submission",
        "user": {"id": view.user_id, "username": "x", "name": "x", "team_id": "T0SIM"},
        "api_app_id": "A0SIM",
        "team": {"id": "T0SIM", "domain": "sim"},
        "trigger_id": "1.2.forged",
        "view": {
            "id": view.id,
            "type": "modal",
            "callback_id": "request_modal",
            "private_metadata": view.private_metadata,
            "hash": view.hash,
            "blocks": view.blocks,
            "state": {"values": values},
        },
    }


def _save_flow(bot: Bot, flow: AccessFlow) -> None:
    from domain.catalog import Source

    with bot.app.store.write() as uow:
        uow.catalog.save_flow(flow=flow, source=Source.SLACK, at=bot.app.clock.now(), by=None)
    bot.app.services.catalog.invalidate()


def _offer(bot: Bot, bundle: str) -> None:
    """Let the developers flow offer ``bundle`` too."""
    record = bot.app.services.catalog.flow("developers")
    assert record is not None
    flow = record.flow.model_copy(update={"bundles": [*record.flow.bundles, bundle]})
    _save_flow(bot, flow)


pytestmark = pytest.mark.e2e


def test_more_bundles_than_one_menu_holds_are_offered_by_typeahead(bot: Bot) -> None:
    names = [f"team-{i:03d}" for i in range(150)]
    for name in names:
        seed_bundle(bot, name=name, objects=[AccessObject("prod-redis", f"{name}:*", "read_only")])
    record = bot.app.services.catalog.flow("developers")
    assert record is not None
    _save_flow(bot, record.flow.model_copy(update={"bundles": [*record.flow.bundles, *names]}))
    bot.open_modal(ALICE)
    view = switch_to_bundle_mode(bot, ALICE)
    menu = next(b for b in view.blocks if b.get("block_id") == "bundle")
    assert menu["element"]["type"] == "external_select"
    assert "151 bundles offered to you" in text(view)
    found = bot.sim.suggest(ALICE, view_id=view.id, action_id="modal.bundle", query="team-14")
    assert [o["value"] for o in found] == [f"team-{i}" for i in range(140, 150)]
    view = bot.after(
        ALICE,
        lambda: bot.sim.select(ALICE, action_id="modal.bundle", view_id=view.id, option=found[3]),
    )
    assert "team-143" in text(view)
