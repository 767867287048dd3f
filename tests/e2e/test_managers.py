"""Managers from a Slack profile field (issue 14): a requester who names themself is refused at
submission; a manager named after the request was sent cannot decide on it."""

from __future__ import annotations

import pytest

from blocks.payloads import RequestButton
from blocks.refusals import manager_named_since
from blocks.request_notices import MANAGER_IS_YOURSELF
from domain.audit import AuditKind
from domain.lifecycle import Status
from domain.policy import Policy
from slacksim.pytest_plugin import SimulatorFactory
from tests.e2e.conftest import StartBot
from tests.e2e.harness import CAROL, DAVE, FRANK, Bot, standard_policy, workspace
from tests.e2e.messages import approval_requests, forged_click, status, wait_status
from tests.e2e.modal_steps import justify, pick_bundle, request_bundle, select_all, submit

pytestmark = pytest.mark.e2e


def _profile_policy() -> Policy:
    data = standard_policy().model_dump(mode="json")
    data["managers"] = {}
    data["manager_field"] = "Manager"
    return Policy.model_validate(data)


def _bot_where_daves_manager_is(
    manager: str, start: StartBot, slack_sim_factory: SimulatorFactory
) -> Bot:
    people = workspace()
    people.update_user(DAVE, profile_fields={"Manager": manager})
    return start(sim=slack_sim_factory(workspace=people), policy=_profile_policy())


def _events(bot: Bot, kind: AuditKind) -> list[dict[str, object]]:
    with bot.app.store.read() as uow:
        return [
            {"actor": e.actor, "request": e.request_id, **e.data}
            for e in uow.audit.kinds(kind=kind)
        ]


def _click_approve(bot: Bot, user: str, request_id: str) -> None:
    value = RequestButton(r=request_id, f="developers").encode()
    payload = forged_click(
        user=user, action_id="request.approve", value=value, channel=bot.sim.dm_channel(user)
    )
    bot.sim.send_envelope(type_="interactive", payload=payload)


def test_a_requester_whose_profile_names_themself_as_manager_is_refused_at_submission(
    start: StartBot, slack_sim_factory: SimulatorFactory
) -> None:
    bot = _bot_where_daves_manager_is(DAVE, start, slack_sim_factory)
    bot.open_modal(DAVE)
    pick_bundle(bot, DAVE, "prod-incident")
    select_all(bot, DAVE)
    justify(bot, DAVE, "INC-7")

    done = submit(bot, DAVE)

    assert done.payload is not None
    assert done.payload["response_action"] == "errors"
    assert MANAGER_IS_YOURSELF in done.payload["errors"].values()
    with bot.app.store.read() as uow:
        assert uow.requests.recent_for(DAVE, limit=5) == []  # type: ignore[arg-type]
    [refusal] = _events(bot, AuditKind.SUBMISSION_REFUSED)
    assert refusal["actor"] == DAVE
    errors = refusal["errors"]
    assert isinstance(errors, dict)
    assert MANAGER_IS_YOURSELF in errors.values()


def test_the_manager_a_request_was_sent_to_approves_it(
    start: StartBot, slack_sim_factory: SimulatorFactory
) -> None:
    bot = _bot_where_daves_manager_is(CAROL, start, slack_sim_factory)
    request_id = request_bundle(bot, DAVE, "prod-incident")
    bot.sim.wait_for(lambda: len(approval_requests(bot, CAROL, request_id)) == 1)
    [submitted] = _events(bot, AuditKind.REQUEST_SUBMITTED)
    assert submitted["manager"] == CAROL

    _click_approve(bot, CAROL, request_id)

    wait_status(bot, request_id, Status.ACTIVE)


def test_a_manager_named_after_the_request_was_sent_cannot_decide_and_is_audited(
    start: StartBot, slack_sim_factory: SimulatorFactory
) -> None:
    bot = _bot_where_daves_manager_is(CAROL, start, slack_sim_factory)
    request_id = request_bundle(bot, DAVE, "prod-incident")
    bot.sim.wait_for(lambda: len(approval_requests(bot, CAROL, request_id)) == 1)

    # Someone edits Dave's profile afterwards to name Frank, who was never asked.
    bot.sim.workspace.update_user(DAVE, profile_fields={"Manager": FRANK})
    _click_approve(bot, FRANK, request_id)
    _click_approve(bot, CAROL, request_id)  # no longer Dave's manager either

    bot.sim.wait_for(lambda: len(_events(bot, AuditKind.DECISION_REFUSED)) == 2, timeout=15)
    refused = sorted(
        (str(r["actor"]), str(r["refused"])) for r in _events(bot, AuditKind.DECISION_REFUSED)
    )
    assert refused == [
        (CAROL, "not a current approver"),
        (FRANK, "manager named after the request was sent"),
    ]
    assert status(bot, request_id) is Status.PENDING
    bot.sim.wait_for(lambda: len(bot.sim.ephemerals(FRANK)) == 1, timeout=15)
    [told] = bot.sim.ephemerals(FRANK)
    assert manager_named_since(request_id) in told.text
    assert approval_requests(bot, FRANK, request_id) == []
