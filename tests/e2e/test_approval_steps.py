"""Approval steps and quorums through Slack (README, "Approval steps"): the manager, then two of
three owners; every message counted, a deny in the second step, a requester who is one of the
approvers, and an approval with a comment."""

from __future__ import annotations

from typing import Any

import pytest

from blocks.payloads import RequestButton
from domain.ids import RequestId
from domain.lifecycle import Status
from domain.policy import Policy
from slacksim import Message
from tests.e2e.conftest import StartBot
from tests.e2e.harness import (
    ALICE,
    AUDIT,
    BOB,
    CAROL,
    DAVE,
    ERIN,
    FRANK,
    OSCAR,
    Bot,
    standard_policy,
)
from tests.e2e.messages import (
    approval_requests,
    buttons,
    forged_click,
    history,
    settled,
    status_messages,
    text_of,
    wait_status,
)
from tests.e2e.modal_steps import request_bundle

pytestmark = pytest.mark.e2e

OWNERS = [CAROL, DAVE, FRANK]


def steps_policy(*steps: dict[str, Any], owner_groups: list[str] | None = None) -> Policy:
    """The standard policy; ``developers`` approved in ``steps``; prod-postgres owned by Carol,
    Dave and Frank (or by ``owner_groups``)."""
    data = standard_policy().model_dump(mode="json")
    for integration in data["integrations"]:
        if integration["name"] == "prod-postgres":
            integration["owners"] = (
                {"groups": owner_groups} if owner_groups else {"users": list(OWNERS)}
            )
    for flow in data["access_flows"]:
        if flow["name"] == "developers":
            flow["approvers"] = list(steps)
    return Policy.model_validate(data)


MANAGER_THEN_TWO_OWNERS = steps_policy({"manager": True}, {"owners": True, "quorum": 2})


def the_copy(bot: Bot, user: str, request_id: str) -> Message:
    [message] = approval_requests(bot, user, request_id)
    return message


def approve(bot: Bot, user: str, request_id: str) -> None:
    message = the_copy(bot, user, request_id)
    assert "request.approve" in buttons(message), (user, text_of(message))
    bot.sim.click(user, action_id="request.approve", message=(message.channel, message.ts))


def edits_reach(bot: Bot, users: dict[str, int], request_id: str) -> None:
    """Wait until each user's copy has been updated that many times."""
    bot.sim.wait_for(
        lambda: all(
            len(approval_requests(bot, u, request_id)) == 1
            and len(the_copy(bot, u, request_id).edits) >= n
            for u, n in users.items()
        )
    )


def test_two_steps_ask_each_approver_once_when_their_step_begins_and_count_every_message(
    start: StartBot,
) -> None:
    bot = start(policy=MANAGER_THEN_TWO_OWNERS)
    request_id = request_bundle(bot, ALICE, "prod-incident", reason="INC-7: a bad migration")
    bot.sim.wait_for(lambda: len(approval_requests(bot, BOB, request_id)) == 1)
    settled(bot, request_id, channels=[ALICE, AUDIT])
    for owner in OWNERS:
        assert bot.sim.messages(owner) == []  # not before their step begins

    # Step 1: the manager.
    approve(bot, BOB, request_id)
    bot.sim.wait_for(lambda: all(approval_requests(bot, o, request_id) for o in OWNERS))
    edits_reach(bot, {BOB: 1}, request_id)
    bot.sim.wait_for(lambda: len(status_messages(bot, ALICE, request_id)) == 2)
    for owner in OWNERS:
        ask = the_copy(bot, owner, request_id)
        assert len(bot.sim.messages(owner)) == 1
        assert "owner of integration prod-postgres" in text_of(ask)
        assert "Step 2 of 2: 0 of 2 approved" in text_of(ask)
    assert "request.approve" not in buttons(the_copy(bot, BOB, request_id))
    step_done = status_messages(bot, ALICE, request_id)[-1]
    assert "step 1 of 2" in text_of(step_done)
    assert "Step 2 of 2 begins" in text_of(step_done)

    # Step 2: two of the three owners.
    approve(bot, CAROL, request_id)
    edits_reach(bot, {BOB: 2, CAROL: 1, DAVE: 1, FRANK: 1}, request_id)
    progress = f"Step 2 of 2: 1 of 2 approved: <@{CAROL}>"
    for user in (BOB, CAROL, DAVE, FRANK):
        assert progress in text_of(the_copy(bot, user, request_id)), user
    assert "request.approve" not in buttons(the_copy(bot, CAROL, request_id))
    assert "request.approve" in buttons(the_copy(bot, DAVE, request_id))
    bot.sim.wait_for(lambda: len(status_messages(bot, AUDIT, request_id)) == 3)
    assert progress in text_of(status_messages(bot, AUDIT, request_id)[-1])

    approve(bot, DAVE, request_id)
    wait_status(bot, request_id, Status.ACTIVE)
    settled(bot, request_id, channels=[ALICE, AUDIT])
    edits_reach(bot, {BOB: 3, CAROL: 2, DAVE: 2, FRANK: 2}, request_id)

    changes = history(bot, request_id)
    assert changes == [Status.PENDING, Status.APPROVED, Status.GRANTING, Status.ACTIVE]
    # One message per change: each status change, and each approval that did not decide.
    for channel in (ALICE, AUDIT):
        assert len(status_messages(bot, channel, request_id)) == len(changes) + 2, channel
    approved = next(
        m for m in status_messages(bot, ALICE, request_id) if "is approved" in text_of(m)
    )
    assert f"✅ Step 2 of 2: 2 of 2 approved: <@{CAROL}>, <@{DAVE}>" in text_of(approved)
    for user in (BOB, *OWNERS):
        assert len(bot.sim.messages(user)) == 1, user  # one message, updated in place
        assert "request.approve" not in buttons(the_copy(bot, user, request_id))
    for bystander in (ERIN, OSCAR):
        assert bot.sim.messages(bystander) == []
    # Each copy was updated once per change it saw, and never more.
    assert [len(the_copy(bot, u, request_id).edits) for u in (BOB, CAROL, DAVE, FRANK)] == [
        3,
        2,
        2,
        2,
    ]


def test_a_deny_in_the_second_step_ends_the_request_for_everyone(start: StartBot) -> None:
    bot = start(policy=MANAGER_THEN_TWO_OWNERS)
    request_id = request_bundle(bot, ALICE, "prod-incident")
    bot.sim.wait_for(lambda: len(approval_requests(bot, BOB, request_id)) == 1)
    approve(bot, BOB, request_id)
    bot.sim.wait_for(lambda: all(approval_requests(bot, o, request_id) for o in OWNERS))
    approve(bot, CAROL, request_id)
    edits_reach(bot, {FRANK: 1}, request_id)

    ask = the_copy(bot, FRANK, request_id)
    bot.sim.click(FRANK, action_id="request.deny", message=(ask.channel, ask.ts))
    bot.sim.wait_for(lambda: bot.sim.top_view(FRANK) is not None)
    modal = bot.sim.top_view(FRANK)
    assert modal is not None
    bot.sim.type_text(FRANK, view_id=modal.id, action_id="request.deny_reason", text="not now")
    bot.sim.submit_view(FRANK, view_id=modal.id)

    wait_status(bot, request_id, Status.DENIED)
    settled(bot, request_id, channels=[ALICE, AUDIT])
    assert history(bot, request_id) == [Status.PENDING, Status.DENIED]
    last = status_messages(bot, ALICE, request_id)[-1]
    assert "denied" in text_of(last)
    assert "not now" in text_of(last)
    edits_reach(bot, {BOB: 3, CAROL: 2, DAVE: 2, FRANK: 2}, request_id)
    for user in (BOB, *OWNERS):
        copy = the_copy(bot, user, request_id)
        assert f"Denied* by <@{FRANK}>" in text_of(copy), user
        assert "request.approve" not in buttons(copy)


def test_a_requester_in_the_approver_group_is_neither_asked_nor_counted(
    start: StartBot,
) -> None:
    # @db-owners holds Carol and Alice; Alice requests, so Carol and Dave make the two needed.
    bot = start(policy=steps_policy({"groups": ["@db-owners"], "users": [DAVE], "quorum": 2}))
    request_id = request_bundle(bot, ALICE, "prod-incident")
    bot.sim.wait_for(lambda: all(approval_requests(bot, u, request_id) for u in (CAROL, DAVE)))
    settled(bot, request_id, channels=[ALICE, AUDIT])
    assert approval_requests(bot, ALICE, request_id) == []
    assert "0 of 2 approved" in text_of(the_copy(bot, CAROL, request_id))

    value = RequestButton(r=request_id, f="developers").encode()
    bot.sim.send_envelope(
        type_="interactive",
        payload=forged_click(
            user=ALICE, action_id="request.approve", value=value, channel=bot.sim.dm_channel(ALICE)
        ),
    )
    bot.sim.wait_for(lambda: len(bot.sim.ephemerals(ALICE)) == 1)
    with bot.app.store.read() as uow:
        assert uow.requests.decisions(RequestId(request_id)) == []

    # Carol approves with a comment; it reaches everyone's copy and the requester.
    copy = the_copy(bot, CAROL, request_id)
    bot.sim.click(CAROL, action_id="request.approve_comment", message=(copy.channel, copy.ts))
    bot.sim.wait_for(lambda: bot.sim.top_view(CAROL) is not None)
    modal = bot.sim.top_view(CAROL)
    assert modal is not None
    bot.sim.type_text(
        CAROL, view_id=modal.id, action_id="request.approve_reason", text="only for INC-1"
    )
    bot.sim.submit_view(CAROL, view_id=modal.id)
    edits_reach(bot, {DAVE: 1}, request_id)
    assert history(bot, request_id) == [Status.PENDING]
    assert "only for INC-1" in text_of(the_copy(bot, DAVE, request_id))

    approve(bot, DAVE, request_id)
    wait_status(bot, request_id, Status.ACTIVE)
    settled(bot, request_id, channels=[ALICE, AUDIT])
    approved = next(
        m for m in status_messages(bot, ALICE, request_id) if "is approved" in text_of(m)
    )
    assert f"2 of 2 approved: <@{CAROL}>, <@{DAVE}>" in text_of(approved)
    assert "only for INC-1" in text_of(approved)
    with bot.app.store.read() as uow:
        found = uow.requests.decisions(RequestId(request_id))
    assert [(d.approver, d.reason) for d in found] == [(CAROL, "only for INC-1"), (DAVE, None)]
