"""On behalf of a teammate, through Slack (README, "On behalf of a teammate"): Alice asks for
Dave in the request modal's *For* picker; Dave gets the credentials, both get every status DM,
Bob (Alice's manager) sees who asked for whom, and a teammate who is not a grantee is refused."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from domain.audit import AuditKind
from domain.lifecycle import Status
from domain.policy import Policy
from store.models import AuditEventRow
from tests.e2e.conftest import StartBot
from tests.e2e.credentials import credential_dms
from tests.e2e.harness import ALICE, AUDIT, BOB, DAVE, FRANK, Bot, standard_policy
from tests.e2e.messages import (
    approval_requests,
    history,
    settled,
    status_messages,
    text_of,
    wait_status,
)
from tests.e2e.modal_steps import justify, pick_bundle, select_all, submit

pytestmark = pytest.mark.e2e


def team_policy() -> Policy:
    """``developers`` (Alice and Dave, approved by the requester's manager) allows it."""
    base = standard_policy()
    flows = [
        f.model_copy(update={"on_behalf": True}) if f.name == "developers" else f
        for f in base.access_flows
    ]
    return base.model_copy(update={"access_flows": flows})


def ask_for(bot: Bot, teammate: str, *, requester: str = ALICE) -> Any:
    bot.open_modal(requester)
    view = pick_bundle(bot, requester, "prod-incident")
    assert any(b.get("block_id") == "on_behalf" for b in view.blocks), "no For picker"
    select_all(bot, requester)
    view = bot.view(requester)
    bot.sim.select(requester, action_id="modal.on_behalf", view_id=view.id, value=teammate)
    justify(bot, requester, "INC-9: Dave is on it")
    return submit(bot, requester)


def request_id_of(done: Any) -> str:
    assert done.payload["response_action"] == "update", done.payload
    match = re.search(r"AR-[0-9A-Z]{6}", json.dumps(done.payload["view"]))
    assert match is not None
    return match.group(0)


def test_alice_asks_for_dave_who_alone_gets_the_credentials_while_both_follow_it(
    start: StartBot,
) -> None:
    bot = start(policy=team_policy())
    done = ask_for(bot, DAVE)
    request_id = request_id_of(done)
    assert f"for <@{DAVE}>" in json.dumps(done.payload["view"])

    # Bob, Alice's manager, decides, and sees who asked for whom.
    bot.sim.wait_for(lambda: len(approval_requests(bot, BOB, request_id)) == 1)
    [ask] = approval_requests(bot, BOB, request_id)
    assert f"<@{ALICE}> for <@{DAVE}>" in text_of(ask)
    assert not approval_requests(bot, DAVE, request_id)
    assert not approval_requests(bot, ALICE, request_id)
    bot.sim.click(BOB, action_id="request.approve", message=(ask.channel, ask.ts))
    wait_status(bot, request_id, Status.ACTIVE, timeout=30)
    bot.sim.wait_for(lambda: len(credential_dms(bot.sim.messages(DAVE), request_id)) == 3)
    settled(bot, request_id, channels=[ALICE, DAVE, AUDIT])

    # The credentials reach Dave only: Alice's DMs hold no password at all.
    creds = credential_dms(bot.sim.messages(DAVE), request_id)
    assert set(creds) == {"prod-postgres", "prod-redis", "shop-mysql"}
    assert credential_dms(bot.sim.messages(ALICE), request_id) == {}
    passwords = [c.fields["password"] for c in creds.values()]
    assert all(passwords)
    for message in bot.sim.messages(ALICE) + bot.sim.messages(AUDIT) + bot.sim.messages(BOB):
        for password in passwords:
            assert password not in text_of(message)

    # Both follow it: one status DM per change each.
    changes = len(history(bot, request_id))
    assert len(status_messages(bot, ALICE, request_id)) == changes
    assert len(status_messages(bot, DAVE, request_id)) == changes
    assert "on your behalf" in text_of(status_messages(bot, DAVE, request_id)[-1])
    assert f"on behalf of <@{DAVE}>" in text_of(status_messages(bot, AUDIT, request_id)[-1])

    # The audit log records who asked and who holds it.
    with bot.app.store.read() as uow:
        [(actor, data)] = (
            uow.session.query(AuditEventRow.actor, AuditEventRow.data)
            .filter_by(kind=AuditKind.REQUEST_SUBMITTED.value, request_id=request_id)
            .all()
        )
    assert (actor, data["requested_by"], data["grantee"]) == (ALICE, ALICE, DAVE)

    # Dave may revoke it from his own status DM.
    active = next(m for m in status_messages(bot, DAVE, request_id) if "is active" in text_of(m))
    bot.sim.click(DAVE, action_id="request.revoke", message=(active.channel, active.ts))
    wait_status(bot, request_id, Status.REVOKED, timeout=30)
    settled(bot, request_id, channels=[ALICE, DAVE, AUDIT])
    assert f"by <@{DAVE}>" in text_of(status_messages(bot, ALICE, request_id)[-1])


def test_a_teammate_who_is_not_a_grantee_of_the_flow_is_refused_in_the_modal(
    start: StartBot,
) -> None:
    bot = start(policy=team_policy())

    refused = ask_for(bot, FRANK)

    assert refused.payload["response_action"] == "errors"
    errors = refused.payload["errors"]
    assert list(errors) == ["on_behalf"]
    assert f"<@{FRANK}> is not a grantee of access flow developers" in errors["on_behalf"]
    with bot.app.store.read() as uow:
        assert uow.requests.count() == 0
    assert not bot.sim.messages(FRANK)
