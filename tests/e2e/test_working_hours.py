"""Conditions on automatic approval through the whole bot: a time window in the flow's own time
zone (a manual clock at 17:59 and 18:01 in Berlin), and the requester being on call."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from domain.audit import AuditKind
from domain.clock import ManualClock
from domain.lifecycle import Status
from tests.e2e.conftest import StartBot
from tests.e2e.harness import ALICE, CAROL, Bot, standard_policy
from tests.e2e.messages import approval_requests, status, wait_status
from tests.e2e.modal_steps import pick_bundle, request_bundle, select_all, submit
from tests.fakes_oncall import PAGERDUTY_TOKEN, OnCallEntry, RunningFake, serving

pytestmark = pytest.mark.e2e

# Wednesday 2 December 2026; Berlin is UTC+1 then, so 18:00 there is 17:00 UTC.
BERLIN_17_59 = datetime(2026, 12, 2, 16, 59, tzinfo=UTC)
BERLIN_18_01 = datetime(2026, 12, 2, 17, 1, tzinfo=UTC)
SATURDAY_NOON = datetime(2026, 12, 5, 11, 0, tzinfo=UTC)

OFFICE_HOURS = {
    "days": ["mon", "tue", "wed", "thu", "fri"],
    "start": "09:00",
    "end": "18:00",
    "timezone": "Europe/Berlin",
}


def office_flow(**auto: Any) -> dict[str, Any]:
    return {
        "name": "office",
        "grantees": {"groups": ["@developers"]},
        "bundles": ["prod-incident"],
        "approvers": {"users": [CAROL]},
        "auto_approval": {"windows": [OFFICE_HOURS], **auto},
        "duration": {"default": "1h", "max": "2h"},
    }


def submitted(bot: Bot, request_id: str) -> dict[str, Any]:
    with bot.app.store.read() as uow:
        [event] = [
            e
            for e in uow.audit.kinds(kind=AuditKind.REQUEST_SUBMITTED)
            if e.request_id == request_id
        ]
    return event.data


@pytest.mark.parametrize(
    ("now", "automatic"),
    [(BERLIN_17_59, True), (BERLIN_18_01, False), (SATURDAY_NOON, False)],
    ids=["17:59 Berlin", "18:01 Berlin", "Saturday noon"],
)
def test_inside_the_window_is_automatic_and_outside_it_the_approvers_are_asked(
    start: StartBot, now: datetime, automatic: bool
) -> None:
    bot = start(policy=standard_policy(access_flows=[office_flow()]), clock=ManualClock(start=now))

    request_id = request_bundle(bot, ALICE, "prod-incident")

    if automatic:
        wait_status(bot, request_id, Status.ACTIVE)
        assert approval_requests(bot, CAROL, request_id) == []
        assert submitted(bot, request_id)["approval"] == "automatic approval conditions hold"
    else:
        bot.sim.wait_for(lambda: len(approval_requests(bot, CAROL, request_id)) == 1)
        assert status(bot, request_id) is Status.PENDING
        assert submitted(bot, request_id)["approval"] == "outside the automatic approval windows"


@pytest.fixture
def pd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[RunningFake]:
    monkeypatch.setenv("TEST_PD_TOKEN", PAGERDUTY_TOKEN)
    with serving("pagerduty", directory=tmp_path) as fake:
        yield fake


@pytest.mark.parametrize("on_call", [True, False], ids=["on call", "not on call"])
def test_inside_the_window_only_a_requester_on_call_is_approved_at_once(
    start: StartBot, pd: RunningFake, on_call: bool
) -> None:
    flow = office_flow(requester_on_call=True)
    flow["grantees"]["on_call"] = [{"provider": "pd", "schedule": "PSCHED1"}]
    entries = [OnCallEntry(email="alice@example.com", end=BERLIN_17_59 + timedelta(hours=4))]
    pd.api.put("PSCHED1", *(entries if on_call else []))
    policy = standard_policy(
        access_flows=[flow],
        on_call={
            "providers": [
                {"name": "pd", "type": "pagerduty", "token": "${TEST_PD_TOKEN}", "url": pd.url}
            ]
        },
    )
    bot = start(policy=policy, clock=ManualClock(start=BERLIN_17_59), on_call_ca_file=pd.ca_file)

    request_id = request_bundle(bot, ALICE, "prod-incident")

    if on_call:
        wait_status(bot, request_id, Status.ACTIVE)
    else:
        bot.sim.wait_for(lambda: len(approval_requests(bot, CAROL, request_id)) == 1)
        assert status(bot, request_id) is Status.PENDING
        assert submitted(bot, request_id)["approval"] == "requester not on call"
    assert pd.api.call_count("/oncalls") >= 1


def test_a_requester_on_call_condition_with_the_service_down_refuses_by_default(
    start: StartBot, pd: RunningFake
) -> None:
    flow = office_flow(requester_on_call=True)
    flow["grantees"]["on_call"] = [{"provider": "pd", "schedule": "PSCHED1"}]
    pd.api.fail(401)
    policy = standard_policy(
        access_flows=[flow],
        on_call={
            "providers": [
                {"name": "pd", "type": "pagerduty", "token": "${TEST_PD_TOKEN}", "url": pd.url}
            ]
        },
    )
    bot = start(policy=policy, clock=ManualClock(start=BERLIN_17_59), on_call_ca_file=pd.ca_file)

    # Alice is a grantee through @developers; whether she is on call cannot be known.
    bot.open_modal(ALICE)
    pick_bundle(bot, ALICE, "prod-incident")
    select_all(bot, ALICE)
    done = submit(bot, ALICE)

    assert done.payload is not None
    assert done.payload["response_action"] == "errors"
    assert "cannot be asked right now" in json.dumps(done.payload["errors"])
    with bot.app.store.read() as uow:
        assert uow.requests.count() == 0
        [fallback] = uow.audit.kinds(kind=AuditKind.ON_CALL_FALLBACK)
    assert (fallback.data["fallback"], fallback.data["at"]) == ("deny", "automatic approval")
    assert fallback.data["unreachable"] == ["pd schedule PSCHED1: http 401, token refused"]
