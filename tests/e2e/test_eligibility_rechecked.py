"""Access exists only for who is eligible: eligibility is checked again at the Approve click and
again just before granting; a request that lost it ends, nothing is granted, everyone is told."""

from __future__ import annotations

from typing import cast

import pytest

from domain.audit import AuditKind
from domain.lifecycle import Status
from tests.e2e.conftest import StartBot
from tests.e2e.harness import ALICE, AUDIT, BOB, CAROL, Bot
from tests.e2e.messages import (
    approval_requests,
    buttons,
    history,
    settled,
    status_messages,
    text_of,
    wait_status,
)
from tests.e2e.modal_steps import request_bundle
from tests.fakes import RecordingIntegration

pytestmark = pytest.mark.e2e


def grant_calls(bot: Bot) -> list[str]:
    return [
        call
        for integration in bot.app.integrations.values()
        for call in cast(RecordingIntegration, integration).grant_calls
    ]


def eligibility_refusals(bot: Bot) -> list[dict[str, object]]:
    with bot.app.store.read() as uow:
        return [
            {"actor": e.actor, "request": e.request_id, **e.data}
            for e in uow.audit.kinds(kind=AuditKind.ELIGIBILITY_REFUSED)
        ]


def click_approve(bot: Bot, approver: str, request_id: str) -> None:
    [message] = approval_requests(bot, approver, request_id)
    bot.sim.click(approver, action_id="request.approve", message=(message.channel, message.ts))


def asked(bot: Bot, approver: str, request_id: str) -> None:
    bot.sim.wait_for(lambda: len(approval_requests(bot, approver, request_id)) == 1)


def assert_denied_for(bot: Bot, request_id: str, reason: str) -> None:
    """Refused to the clicker, audited, denied by nobody, the requester told why; no grant."""
    bot.sim.wait_for(lambda: any("cannot be approved" in e.text for e in bot.sim.ephemerals(BOB)))
    [answer] = [e.text for e in bot.sim.ephemerals(BOB)]
    assert answer.startswith("⛔")
    assert request_id in answer
    assert reason in answer
    wait_status(bot, request_id, Status.DENIED)
    settled(bot, request_id, channels=[ALICE, AUDIT])
    assert history(bot, request_id) == [Status.PENDING, Status.DENIED]
    last = text_of(status_messages(bot, ALICE, request_id)[-1])
    assert "denied" in last
    assert reason in last
    assert f"<@{BOB}>" not in last  # nobody decided: the system ended it
    [event] = eligibility_refusals(bot)
    assert (event["actor"], event["request"], event["at"]) == (BOB, request_id, "approve")
    assert reason in str(event["reason"])
    [copy] = approval_requests(bot, BOB, request_id)
    assert "request.approve" not in buttons(copy)
    assert grant_calls(bot) == []


def test_an_approve_click_after_an_admin_deactivated_the_flow_denies_and_grants_nothing(
    bot: Bot,
) -> None:
    request_id = request_bundle(bot, ALICE, "prod-incident")  # developers: Bob approves
    asked(bot, BOB, request_id)
    bot.app.services.admin.flows.set_flow_active(by=CAROL, flow="developers", active=False)  # type: ignore[arg-type]

    click_approve(bot, BOB, request_id)

    assert_denied_for(bot, request_id, "the access flow developers was deactivated")


def test_an_approve_click_after_the_requester_left_the_grantee_group_denies_and_grants_nothing(
    bot: Bot,
) -> None:
    request_id = request_bundle(bot, ALICE, "prod-incident")
    asked(bot, BOB, request_id)
    # Slack's group changes; the app's directory cache (a minute) still says Alice is in it.
    bot.sim.workspace.set_group_members("S0DEVS", ["U0DAVE"])

    click_approve(bot, BOB, request_id)

    assert_denied_for(
        bot, request_id, "the requester is no longer a grantee of the access flow developers"
    )


def test_an_approved_request_whose_requester_left_the_group_fails_before_any_grant(
    start: StartBot,
) -> None:
    bot = start(sweeps=False)
    bot.app.triggers["provision"].stop()  # the worker runs only when the test says so
    request_id = request_bundle(bot, ALICE, "prod-incident")
    asked(bot, BOB, request_id)
    click_approve(bot, BOB, request_id)
    wait_status(bot, request_id, Status.APPROVED)
    bot.sim.workspace.set_group_members("S0DEVS", ["U0DAVE"])

    bot.app.run_now("provision")

    assert history(bot, request_id) == [Status.PENDING, Status.APPROVED, Status.FAILED]
    assert grant_calls(bot) == []
    settled(bot, request_id, channels=[ALICE, AUDIT])
    reason = "the requester is no longer a grantee of the access flow developers"
    last = text_of(status_messages(bot, ALICE, request_id)[-1])
    assert "failed" in last
    assert reason in last
    [event] = eligibility_refusals(bot)
    assert (event["actor"], event["request"], event["at"]) == (None, request_id, "grant")
    with bot.app.store.read() as uow:
        assert uow.grants.for_request(request_id) == []  # type: ignore[arg-type]


def test_an_eligible_approval_is_still_granted(bot: Bot) -> None:
    request_id = request_bundle(bot, ALICE, "prod-incident")
    asked(bot, BOB, request_id)
    click_approve(bot, BOB, request_id)
    wait_status(bot, request_id, Status.ACTIVE)
    assert len(grant_calls(bot)) == 3
    assert eligibility_refusals(bot) == []
