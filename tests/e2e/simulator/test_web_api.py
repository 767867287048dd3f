"""The Web API answers slack_sdk like Slack: auth, DMs by user ID, directory lookups, files."""

from __future__ import annotations

import json
import urllib.request
from typing import Any
from urllib.parse import urlencode

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from slacksim import Simulator

from .conftest import ALICE, AUDIT, BOB

pytestmark = pytest.mark.e2e


def error_of(call: Any) -> str:
    with pytest.raises(SlackApiError) as raised:
        call()
    return str(raised.value.response["error"])


def raw_post(url: str, body: bytes, headers: dict[str, str]) -> Any:
    # S310: the URL is the simulator's, on loopback.
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310
    with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
        return json.loads(response.read())


def test_a_wrong_or_missing_token_is_invalid_auth(sim: Simulator) -> None:
    wrong = WebClient(token="xoxb-wrong", base_url=sim.api_url)
    missing = WebClient(base_url=sim.api_url)

    assert error_of(wrong.auth_test) == "invalid_auth"
    assert error_of(missing.auth_test) == "invalid_auth"


def test_the_app_token_opens_sockets_and_nothing_else(sim: Simulator, web: WebClient) -> None:
    app_client = WebClient(base_url=sim.api_url)

    url = app_client.apps_connections_open(app_token=sim.app_token)["url"]

    assert url.startswith("ws://127.0.0.1:")
    assert "/link/?ticket=" in url
    assert (
        error_of(lambda: web.apps_connections_open(app_token=sim.bot_token))
        == "not_allowed_token_type"
    )
    app_only = WebClient(token=sim.app_token, base_url=sim.api_url)
    assert (
        error_of(lambda: app_only.chat_postMessage(channel=AUDIT, text="x"))
        == "not_allowed_token_type"
    )


def test_auth_test_names_the_bot_and_team(web: WebClient) -> None:
    response = web.auth_test()

    assert response["team_id"] == "T0SIM"
    assert response["user_id"].startswith("U")
    assert response["bot_id"].startswith("B")


def test_an_unknown_method_is_reported(sim: Simulator, web: WebClient) -> None:
    assert error_of(lambda: web.api_call("chat.teleport")) == "unknown_method"
    assert sim.calls_to("chat.teleport")[0].error == "unknown_method"


def test_a_message_to_a_user_id_lands_in_their_dm_with_the_bot(
    sim: Simulator, web: WebClient
) -> None:
    posted = web.chat_postMessage(channel=ALICE, text="Your access is ready")

    dm = web.conversations_open(users=ALICE)["channel"]["id"]
    assert posted["channel"] == dm
    assert dm.startswith("D")
    assert posted["message"]["text"] == "Your access is ready"
    assert [m.text for m in sim.messages(ALICE)] == ["Your access is ready"]
    assert [m.text for m in sim.messages(dm)] == ["Your access is ready"]
    assert "DM to Alice Doe: Your access is ready" in sim.transcript()


def test_the_dm_channel_of_a_user_is_stable(web: WebClient) -> None:
    first = web.conversations_open(users=ALICE)
    second = web.conversations_open(users=[ALICE])

    assert first["channel"]["id"] == second["channel"]["id"]
    assert second["already_open"] is True


def test_chat_update_edits_in_place_and_keeps_the_history(sim: Simulator, web: WebClient) -> None:
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*Pending*"}}]
    posted = web.chat_postMessage(channel=AUDIT, text="pending", blocks=blocks)

    web.chat_update(channel=posted["channel"], ts=posted["ts"], text="approved", blocks=[])

    [message] = sim.messages(AUDIT)
    assert message.text == "approved"
    assert [e.text for e in message.edits] == ["pending"]
    assert message.updated_at is not None
    assert (
        error_of(lambda: web.chat_update(channel=AUDIT, ts="1.000", text="x"))
        == "message_not_found"
    )


def test_chat_update_wants_the_channel_id_not_the_user_id(web: WebClient) -> None:
    posted = web.chat_postMessage(channel=ALICE, text="hi")

    assert (
        error_of(lambda: web.chat_update(channel=ALICE, ts=posted["ts"], text="x"))
        == "channel_not_found"
    )


def test_posting_to_a_channel_the_bot_is_not_in_fails(web: WebClient) -> None:
    assert error_of(lambda: web.chat_postMessage(channel="C2", text="x")) == "not_in_channel"
    assert error_of(lambda: web.chat_postMessage(channel="C404", text="x")) == "channel_not_found"
    assert error_of(lambda: web.api_call("chat.postMessage", json={"channel": AUDIT})) == "no_text"


def test_messages_are_addressable_by_channel_name(sim: Simulator, web: WebClient) -> None:
    posted = web.chat_postMessage(channel="#access-audit", text="audit line")

    assert posted["channel"] == AUDIT
    assert [m.text for m in sim.messages("access-audit")] == ["audit line"]


def test_an_ephemeral_message_is_recorded_for_its_user(sim: Simulator, web: WebClient) -> None:
    answer = web.chat_postEphemeral(channel=AUDIT, user=BOB, text="only you")

    [ephemeral] = sim.ephemerals(BOB)
    assert ephemeral.ts == answer["message_ts"]
    assert ephemeral.text == "only you"
    assert sim.ephemerals(ALICE) == []


def test_users_info_and_lookup_by_email_return_slack_shaped_users(web: WebClient) -> None:
    user = web.users_info(user=ALICE)["user"]

    assert user["real_name"] == "Alice Doe"
    assert user["tz"] == "Europe/Paris"
    assert user["tz_offset"] == 3600
    assert user["deleted"] is False
    assert user["is_bot"] is False
    assert user["profile"]["email"] == "alice@example.com"
    assert web.users_lookupByEmail(email="ALICE@example.com")["user"]["id"] == ALICE
    assert error_of(lambda: web.users_info(user="U404")) == "user_not_found"
    assert error_of(lambda: web.users_lookupByEmail(email="x@example.com")) == "users_not_found"


def test_a_deactivated_user_shows_deleted_and_gets_no_dm(sim: Simulator, web: WebClient) -> None:
    sim.workspace.deactivate_user(BOB)

    assert web.users_info(user=BOB)["user"]["deleted"] is True
    assert error_of(lambda: web.conversations_open(users=BOB)) == "user_disabled"
    assert error_of(lambda: web.chat_postMessage(channel=BOB, text="x")) == "is_archived"


def test_a_dm_opened_before_deactivation_is_archived_after(sim: Simulator, web: WebClient) -> None:
    dm = web.conversations_open(users=BOB)["channel"]["id"]

    sim.workspace.deactivate_user(BOB)

    assert error_of(lambda: web.chat_postMessage(channel=dm, text="x")) == "is_archived"


def test_profile_fields_come_with_labels_on_request(web: WebClient) -> None:
    plain_fields = web.users_profile_get(user=ALICE)["profile"]["fields"]
    labelled = web.users_profile_get(user=ALICE, include_labels=True)["profile"]["fields"]
    catalogue = web.team_profile_get()["profile"]["fields"]

    [(field_id, entry)] = plain_fields.items()
    assert entry == {"value": BOB, "alt": ""}
    assert labelled[field_id]["label"] == "Manager"
    assert [(f["id"], f["label"]) for f in catalogue] == [(field_id, "Manager")]


def test_user_groups_list_their_members_and_follow_changes(sim: Simulator, web: WebClient) -> None:
    [group] = web.usergroups_list(include_users=True)["usergroups"]
    assert (group["handle"], group["users"]) == ("oncall", [ALICE])

    sim.workspace.set_group_members("S1", [BOB])

    assert web.usergroups_users_list(usergroup="S1")["users"] == [BOB]
    assert "users" not in web.usergroups_list()["usergroups"][0]
    assert error_of(lambda: web.usergroups_users_list(usergroup="S404")) == "no_such_subteam"


def test_form_encoded_json_and_query_string_requests_are_accepted(sim: Simulator) -> None:
    auth = {"Authorization": f"Bearer {sim.bot_token}"}
    form = urlencode({"channel": AUDIT, "text": "form", "blocks": "[]"}).encode()
    as_form = raw_post(
        f"{sim.api_url}chat.postMessage",
        form,
        auth | {"Content-Type": "application/x-www-form-urlencoded"},
    )
    as_json = raw_post(
        f"{sim.api_url}chat.postMessage",
        json.dumps({"channel": AUDIT, "text": "json"}).encode(),
        auth | {"Content-Type": "application/json; charset=utf-8"},
    )
    with urllib.request.urlopen(  # noqa: S310 - loopback only
        f"{sim.api_url}users.info?user={ALICE}&token={sim.bot_token}", timeout=5
    ) as response:
        as_query = json.loads(response.read())

    assert as_form["ok"]
    assert as_json["ok"]
    assert as_query["ok"]
    assert [m.text for m in sim.messages(AUDIT)] == ["form", "json"]
    assert "token" not in sim.calls_to("users.info")[0].args


def test_files_upload_v2_records_the_file_in_the_channel(sim: Simulator, web: WebClient) -> None:
    response = web.files_upload_v2(
        channel=AUDIT,
        filename="report.csv",
        title="Access report",
        content="request,bundle\nR-1,prod-incident\n",
        initial_comment="Weekly report",
    )

    [record] = sim.files(AUDIT)
    assert response["file"]["id"] == record.id
    assert (record.name, record.title) == ("report.csv", "Access report")
    assert record.content == b"request,bundle\nR-1,prod-incident\n"
    assert record.initial_comment == "Weekly report"
    assert [m.text for m in sim.messages(AUDIT)] == ["Weekly report"]
    assert [c.method for c in sim.calls] == [
        "files.getUploadURLExternal",
        "upload_url",
        "files.completeUploadExternal",
    ]
    assert "File to #access-audit: report.csv (33 bytes)" in sim.transcript()


def test_files_reach_a_dm_once_it_is_opened(sim: Simulator, web: WebClient) -> None:
    dm = web.conversations_open(users=ALICE)["channel"]["id"]

    web.files_upload_v2(channel=dm, filename="creds.txt", content=b"user=jit\n")

    assert [f.name for f in sim.files(ALICE)] == ["creds.txt"]


def test_calls_are_recorded_with_arguments_and_outcome(sim: Simulator, web: WebClient) -> None:
    web.chat_postMessage(channel=AUDIT, text="one")
    error_of(lambda: web.users_info(user="U404"))

    post, info = sim.calls
    assert (post.method, post.ok, post.args["text"]) == ("chat.postMessage", True, "one")
    assert (info.method, info.ok, info.error) == ("users.info", False, "user_not_found")
    assert post.at < info.at
