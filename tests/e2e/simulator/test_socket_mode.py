"""A Bolt app in Socket Mode talks to the simulator exactly as it would to Slack."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

import pytest
from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect as ws_connect

from slacksim import (
    AckTimeoutError,
    ElementNotFoundError,
    Simulator,
    SimulatorError,
    SubmissionBlockedError,
    View,
    texts_of,
)

from .conftest import ALICE, AUDIT, BOB, Connect

pytestmark = pytest.mark.e2e

JSON = dict[str, Any]


def plain(text: str) -> JSON:
    return {"type": "plain_text", "text": text}


def option(text: str, value: str) -> JSON:
    return {"text": plain(text), "value": value}


BUNDLES = [option("prod-incident", "b1"), option("analytics", "b2")]
OBJECTS = [option(f"sales.orders {p}", f"o{i}") for i, p in enumerate(["read", "write", "admin"])]


def request_modal(*, note: str | None = None) -> JSON:
    blocks: list[JSON] = [
        {
            "type": "input",
            "block_id": "bundle",
            "label": plain("Bundle"),
            "element": {"type": "static_select", "action_id": "pick", "options": BUNDLES},
        },
        {
            "type": "input",
            "block_id": "objects",
            "label": plain("Objects"),
            "element": {
                "type": "multi_external_select",
                "action_id": "find",
                "min_query_length": 2,
            },
        },
        {
            "type": "actions",
            "block_id": "tools",
            "elements": [
                {
                    "type": "button",
                    "action_id": "select_all",
                    "text": plain("Select all"),
                    "value": "all",
                }
            ],
        },
        {
            "type": "input",
            "block_id": "justification",
            "label": plain("Why"),
            "element": {"type": "plain_text_input", "action_id": "text"},
        },
    ]
    if note:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": note}]})
    return {
        "type": "modal",
        "callback_id": "request",
        "title": plain("Request access"),
        "submit": plain("Request"),
        "private_metadata": "draft-1",
        "blocks": blocks,
    }


def request_app(app: App) -> App:
    @app.command("/apono")
    def open_modal(ack: Ack, body: JSON, client: WebClient) -> None:
        ack()
        client.views_open(trigger_id=body["trigger_id"], view=request_modal())

    @app.options("find")
    def find_objects(ack: Ack, body: JSON) -> None:
        query = body["value"]
        ack(options=[o for o in OBJECTS if query in o["text"]["text"]])

    @app.action("select_all")
    def select_all(ack: Ack, body: JSON, client: WebClient) -> None:
        ack()
        view = body["view"]
        client.views_update(
            view_id=view["id"], hash=view["hash"], view=request_modal(note="All 3 objects selected")
        )

    @app.view("request")
    def submit(ack: Ack, view: JSON) -> None:
        values = view["state"]["values"]
        why = values["justification"]["text"]["value"]
        if len(why) < 10:
            ack(response_action="errors", errors={"justification": "Tell us a bit more"})
            return
        bundle = values["bundle"]["pick"]["selected_option"]["text"]["text"]
        done = {
            "type": "modal",
            "title": plain("Request sent"),
            "blocks": [{"type": "section", "text": plain(f"Requested {bundle}: {why}")}],
        }
        ack(response_action="update", view=done)

    return app


def test_hello_announces_the_connection_and_the_app(sim: Simulator, web: WebClient) -> None:
    url = WebClient(base_url=sim.api_url).apps_connections_open(app_token=sim.app_token)["url"]

    with ws_connect(url) as socket:
        hello = json.loads(socket.recv(timeout=5))

    assert hello["type"] == "hello"
    assert hello["num_connections"] == 1
    assert hello["connection_info"] == {"app_id": "A0SIM"}


def test_a_used_socket_url_is_refused(sim: Simulator) -> None:
    url = WebClient(base_url=sim.api_url).apps_connections_open(app_token=sim.app_token)["url"]
    with ws_connect(url):
        pass

    with pytest.raises(InvalidStatus, match="401"):
        ws_connect(url)


def test_a_bolt_app_runs_a_request_modal_from_command_to_submission(
    sim: Simulator, new_app: Callable[[], App], connect: Connect
) -> None:
    connect(request_app(new_app()))
    sim.wait_for_connections(n=1)

    command_ack = sim.slash_command(ALICE, command="/apono")
    [modal] = sim.wait_for(lambda: sim.open_views(ALICE))
    sim.type_text(ALICE, view_id=modal.id, action_id="text", text="short")
    assert sim.select(ALICE, view_id=modal.id, action_id="pick", value="b1") is None
    found = sim.suggest(ALICE, view_id=modal.id, action_id="find", query="write")
    sim.select(ALICE, view_id=modal.id, action_id="find", options=found)
    sim.click(ALICE, view_id=modal.id, action_id="select_all")

    def updated_view() -> View | None:
        view = sim.view(modal.id)
        return view if view.hash != modal.hash else None

    updated = sim.wait_for(updated_view)

    # views.update kept everything Alice entered, as Slack does for unchanged block/action ids.
    assert "All 3 objects selected" in texts_of(updated.blocks)
    assert updated.value("justification", "text") == {"type": "plain_text_input", "value": "short"}
    assert updated.value("bundle", "pick") == {
        "type": "static_select",
        "selected_option": BUNDLES[0],
    }
    assert updated.value("objects", "find") == {
        "type": "multi_external_select",
        "selected_options": [OBJECTS[1]],
    }

    rejected = sim.submit_view(ALICE, view_id=modal.id)
    assert rejected.payload == {
        "response_action": "errors",
        "errors": {"justification": "Tell us a bit more"},
    }
    assert sim.view(modal.id).errors == {"justification": "Tell us a bit more"}
    assert sim.view(modal.id).open

    sim.type_text(ALICE, view_id=modal.id, action_id="text", text="incident 4711 on orders")
    sim.submit_view(ALICE, view_id=modal.id)

    final = sim.view(modal.id)
    assert final.open
    assert final.errors == {}
    assert texts_of(final.blocks) == ["Requested prod-incident: incident 4711 on orders"]
    assert command_ack.latency < 3.0
    assert [c.method for c in sim.calls if c.method.startswith("views.")] == [
        "views.open",
        "views.update",
    ]


def test_a_submission_without_response_action_closes_the_modal(
    sim: Simulator, new_app: Callable[[], App], connect: Connect
) -> None:
    app = new_app()

    @app.command("/apono")
    def open_modal(ack: Ack, body: JSON, client: WebClient) -> None:
        ack()
        client.views_open(trigger_id=body["trigger_id"], view=request_modal())

    @app.view("request")
    def submit(ack: Ack) -> None:
        ack()

    connect(app)
    sim.wait_for_connections()
    sim.slash_command(ALICE)
    [modal] = sim.wait_for(lambda: sim.open_views(ALICE))

    with pytest.raises(SubmissionBlockedError, match="bundle/pick is empty"):
        sim.submit_view(ALICE, view_id=modal.id)
    sim.select(ALICE, view_id=modal.id, action_id="pick", value="b2")
    sim.select(ALICE, view_id=modal.id, action_id="find", option=OBJECTS[0])
    sim.type_text(ALICE, view_id=modal.id, action_id="text", text="because")
    sim.submit_view(ALICE, view_id=modal.id)

    assert sim.open_views(ALICE) == []
    assert not sim.view(modal.id).open


def test_an_envelope_nobody_acks_times_out(
    sim: Simulator, new_app: Callable[[], App], connect: Connect
) -> None:
    connect(new_app())  # no listener: Bolt answers 404 and sends no ack
    sim.wait_for_connections()

    with pytest.raises(AckTimeoutError):
        sim.slash_command(ALICE, command="/unknown", timeout=0.3)


def test_a_redelivered_envelope_keeps_its_id_and_counts_the_retry(
    sim: Simulator, new_app: Callable[[], App], connect: Connect
) -> None:
    app = new_app()
    seen: list[tuple[str, str]] = []

    @app.command("/apono")
    def command(ack: Ack, body: JSON, request: Any) -> None:
        seen.append((body["trigger_id"], request.headers.get("x-slack-retry-num", [""])[0]))
        ack()

    connect(app)
    sim.wait_for_connections()
    first = sim.slash_command(ALICE)

    again = sim.redeliver(first)

    assert again.envelope_id == first.envelope_id
    assert again.envelope["retry_attempt"] == 1
    assert [s[0] for s in seen] == [first.envelope["payload"]["trigger_id"]] * 2
    assert [s[1] for s in seen] == ["0", "1"]


def test_two_app_connections_share_envelopes_round_robin(
    sim: Simulator, new_app: Callable[[], App], connect: Connect
) -> None:
    served: list[str] = []

    def listener(name: str) -> Callable[[Ack], None]:
        def command(ack: Ack) -> None:
            served.append(name)
            ack()

        return command

    for name in ("one", "two"):
        app = new_app()
        app.command("/apono")(listener(name))
        connect(app)
    sim.wait_for_connections(n=2)

    acks = [sim.slash_command(ALICE) for _ in range(6)]

    assert sorted(served) == ["one"] * 3 + ["two"] * 3
    assert served[0::2] == [served[0]] * 3
    connections = [a.connection_id for a in acks]
    assert connections[0::2] == [connections[0]] * 3
    assert connections[1] != connections[0]


def test_dropped_sockets_reconnect_through_apps_connections_open(
    sim: Simulator, new_app: Callable[[], App], connect: Connect
) -> None:
    app = new_app()
    app.command("/apono")(lambda ack: ack())
    connect(app)
    sim.wait_for_connections()

    assert sim.drop_connections() == 1
    sim.wait_for_connections(timeout=5)

    assert len(sim.calls_to("apps.connections.open")) == 2
    assert sim.slash_command(ALICE).payload is None


def test_a_bare_close_is_noticed_at_the_clients_next_ping_check(
    sim: Simulator, new_app: Callable[[], App], connect: Connect
) -> None:
    app = new_app()
    app.command("/apono")(lambda ack: ack())
    connect(app, ping_interval=0.3)
    sim.wait_for_connections()

    sim.drop_connections(notify=False)
    sim.wait_for_connections(timeout=5)

    assert sim.slash_command(ALICE).payload is None


def test_a_click_in_a_dm_reaches_the_app_with_the_message(
    sim: Simulator, web: WebClient, new_app: Callable[[], App], connect: Connect
) -> None:
    app = new_app()
    received: list[JSON] = []

    @app.action("approve")
    def approve(ack: Ack, body: JSON, client: WebClient) -> None:
        ack()
        received.append(body)
        client.chat_update(
            channel=body["container"]["channel_id"],
            ts=body["container"]["message_ts"],
            text="Approved by Bob",
            blocks=[],
        )

    connect(app)
    sim.wait_for_connections()
    buttons = [
        {
            "type": "button",
            "action_id": "approve",
            "text": plain("Approve"),
            "value": "R-1",
            "style": "primary",
        },
        {
            "type": "button",
            "action_id": "deny",
            "text": plain("Deny"),
            "value": "R-1",
            "style": "danger",
        },
    ]
    posted = web.chat_postMessage(
        channel=BOB,
        text="Alice asks for prod-incident",
        blocks=[{"type": "actions", "elements": buttons}],
    )

    with pytest.raises(ElementNotFoundError, match="revoke"):
        sim.click(BOB, message=(BOB, posted["ts"]), action_id="revoke")
    with pytest.raises(SimulatorError, match="cannot see it"):
        sim.click(ALICE, message=(BOB, posted["ts"]), action_id="approve")
    sim.click(BOB, message=(BOB, posted["ts"]), action_id="approve")
    sim.wait_for(lambda: sim.messages(BOB)[0].text == "Approved by Bob")

    [body] = received
    assert body["container"] == {
        "type": "message",
        "message_ts": posted["ts"],
        "channel_id": posted["channel"],
        "is_ephemeral": False,
    }
    assert body["actions"][0]["value"] == "R-1"
    assert body["message"]["text"] == "Alice asks for prod-incident"
    assert body["user"]["id"] == BOB


def test_respond_through_the_response_url_reaches_the_user(
    sim: Simulator, new_app: Callable[[], App], connect: Connect
) -> None:
    app = new_app()

    @app.command("/apono")
    def command(ack: Ack, respond: Respond) -> None:
        ack()
        respond("Working on it")

    connect(app)
    sim.wait_for_connections()
    sim.slash_command(ALICE, channel_id=AUDIT)

    [ephemeral] = sim.wait_for(lambda: sim.ephemerals(ALICE))
    assert (ephemeral.channel, ephemeral.text) == (AUDIT, "Working on it")


def test_a_slash_command_ack_with_text_becomes_an_ephemeral(
    sim: Simulator, new_app: Callable[[], App], connect: Connect
) -> None:
    app = new_app()
    app.command("/apono")(lambda ack: ack("You have no access flows"))
    connect(app)
    sim.wait_for_connections()

    sim.slash_command(ALICE)

    assert [e.text for e in sim.ephemerals(ALICE)] == ["You have no access flows"]


def test_opening_the_home_tab_lets_the_app_publish_it(
    sim: Simulator, new_app: Callable[[], App], connect: Connect
) -> None:
    app = new_app()

    @app.event("app_home_opened")
    def home(event: JSON, client: WebClient) -> None:
        client.views_publish(
            user_id=event["user"],
            view={
                "type": "home",
                "blocks": [{"type": "section", "text": plain("No active access")}],
            },
        )

    connect(app)
    sim.wait_for_connections()

    ack = sim.open_home(ALICE)

    assert ack.envelope["type"] == "events_api"
    assert ack.envelope["accepts_response_payload"] is False
    home_view = sim.wait_for(lambda: sim.home(ALICE))
    assert texts_of(home_view.blocks) == ["No active access"]


def test_closing_a_modal_with_notify_on_close_sends_view_closed(
    sim: Simulator, web: WebClient, new_app: Callable[[], App], connect: Connect
) -> None:
    app = new_app()
    closed: list[JSON] = []

    @app.view_closed("request")
    def on_close(ack: Ack, body: JSON) -> None:
        ack()
        closed.append(body)

    connect(app)
    sim.wait_for_connections()
    opened = web.views_open(
        trigger_id=sim.issue_trigger_id(ALICE), view=request_modal() | {"notify_on_close": True}
    )["view"]

    assert sim.close_view(ALICE, view_id=opened["id"]) is not None

    [body] = closed
    assert body["type"] == "view_closed"
    assert body["is_cleared"] is False
    assert body["view"]["id"] == opened["id"]
    assert sim.open_views(ALICE) == []


def test_a_suggestion_answer_beyond_slack_limits_is_a_violation(
    sim: Simulator, web: WebClient, new_app: Callable[[], App], connect: Connect
) -> None:
    app = new_app()
    app.options("find")(lambda ack: ack(options=[option(str(i), str(i)) for i in range(101)]))
    connect(app)
    sim.wait_for_connections()
    opened = web.views_open(trigger_id=sim.issue_trigger_id(ALICE), view=request_modal())["view"]

    with pytest.raises(SimulatorError, match="at most 100 items"):
        sim.suggest(ALICE, view_id=opened["id"], action_id="find", query="ab")
    with pytest.raises(SimulatorError, match="min_query_length 2"):
        sim.suggest(ALICE, view_id=opened["id"], action_id="find", query="a")

    assert [(v.method, v.path) for v in sim.take_violations()] == [("block_suggestion", "/options")]


def test_acks_from_parallel_users_are_matched_to_their_envelopes(
    sim: Simulator, new_app: Callable[[], App], connect: Connect
) -> None:
    app = new_app()
    app.command("/apono")(lambda ack, body: ack(f"hello {body['user_id']}"))
    connect(app)
    sim.wait_for_connections()
    acks: dict[str, Any] = {}

    def act(user: str) -> None:
        acks[user] = sim.slash_command(user)

    threads = [threading.Thread(target=act, args=(u,)) for u in (ALICE, BOB)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert acks[ALICE].payload == {"text": f"hello {ALICE}"}
    assert acks[BOB].payload == {"text": f"hello {BOB}"}
