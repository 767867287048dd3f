"""Whoever is on call, per PagerDuty or Opsgenie, through the whole bot: the request modal, the
automatic approval, the grant-time check, the end of access with the shift, and the fallback
when the service cannot be asked. The bot's own clients talk to loopback fakes of both APIs."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from domain.audit import AuditKind
from domain.clock import ManualClock
from domain.lifecycle import AccessRequest, Status
from domain.policy import Policy
from tests.e2e.conftest import StartBot
from tests.e2e.harness import ALICE, AUDIT, CAROL, DAVE, OSCAR, Bot, standard_policy
from tests.e2e.messages import approval_requests, settled, status, wait_status
from tests.e2e.modal_steps import bundle_options, request_bundle, switch_to_bundle_mode
from tests.fakes_oncall import OPSGENIE_KEY, PAGERDUTY_TOKEN, OnCallEntry, RunningFake, serving

pytestmark = pytest.mark.e2e

START = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)
OSCAR_EMAIL = "oscar@example.com"


@pytest.fixture
def fakes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, RunningFake]]:
    monkeypatch.setenv("TEST_PD_TOKEN", PAGERDUTY_TOKEN)
    monkeypatch.setenv("TEST_OG_KEY", OPSGENIE_KEY)
    with (
        serving("pagerduty", directory=tmp_path) as pd,
        serving("opsgenie", directory=tmp_path) as og,
    ):
        yield {"pd": pd, "og": og}


def policy_with(fakes: dict[str, RunningFake], *flows: dict[str, Any]) -> Policy:
    return standard_policy(
        on_call={
            "providers": [
                {
                    "name": "pd",
                    "type": "pagerduty",
                    "token": "${TEST_PD_TOKEN}",
                    "url": fakes["pd"].url,
                },
                {
                    "name": "og",
                    "type": "opsgenie",
                    "token": "${TEST_OG_KEY}",
                    "url": fakes["og"].url,
                },
            ]
        },
        access_flows=list(flows),
    )


def pager_flow(**overrides: Any) -> dict[str, Any]:
    return {
        "name": "pager",
        "grantees": {
            "on_call": [
                {"provider": "pd", "schedule": "PSCHED1"},
                {"provider": "og", "schedule": "sre_schedule"},
            ]
        },
        "bundles": ["prod-incident"],
        "approvers": "automatic",
        "duration": {"default": "1h", "max": "4h"},
        "until_shift_end": True,
        **overrides,
    }


def start_with(
    start: StartBot, fakes: dict[str, RunningFake], clock: ManualClock, *flows: dict[str, Any]
) -> Bot:
    return start(
        policy=policy_with(fakes, *flows),
        clock=clock,
        on_call_ca_file=fakes["pd"].ca_file,
        on_call_timeout_seconds=0.5,
    )


def request(bot: Bot, request_id: str) -> AccessRequest:
    with bot.app.store.read() as uow:
        found = uow.requests.get(request_id)  # type: ignore[arg-type]
    assert found is not None
    return found


def fallbacks(bot: Bot) -> list[dict[str, Any]]:
    with bot.app.store.read() as uow:
        return [
            dict(e.data, actor=e.actor) for e in uow.audit.kinds(kind=AuditKind.ON_CALL_FALLBACK)
        ]


def offered(bot: Bot, user: str) -> list[str]:
    """The bundles the modal offers ``user`` (no bundle menu at all: none)."""
    bot.open_modal(user)
    view = switch_to_bundle_mode(bot, user)
    if not any(b.get("block_id") == "bundle" for b in view.blocks):
        return []
    return bundle_options(view)


def test_the_pagerduty_on_call_is_approved_at_once_and_loses_access_at_shift_end(
    start: StartBot, fakes: dict[str, RunningFake]
) -> None:
    clock = ManualClock(start=START)
    shift_end = START + timedelta(minutes=30)
    fakes["pd"].api.put("PSCHED1", OnCallEntry(email=OSCAR_EMAIL, start=START, end=shift_end))
    fakes["og"].api.put("sre_schedule")
    bot = start_with(start, fakes, clock, pager_flow())

    # Somebody not on call is offered nothing; the person on call gets it without approval.
    assert offered(bot, DAVE) == []
    request_id = request_bundle(bot, OSCAR, "prod-incident")
    wait_status(bot, request_id, Status.ACTIVE)

    # One hour was chosen, but the shift ends in thirty minutes: the access ends with it.
    active = request(bot, request_id)
    assert active.automatic
    assert active.expires_at == shift_end
    clock.set(shift_end - timedelta(seconds=1))
    bot.app.run_now("end")
    assert status(bot, request_id) is Status.ACTIVE
    clock.set(shift_end)
    bot.app.run_now("end")
    assert status(bot, request_id) is Status.EXPIRED
    settled(bot, request_id, channels=[OSCAR, AUDIT])
    with bot.app.store.read() as uow:
        [shortened] = uow.audit.kinds(kind=AuditKind.ACCESS_SHORTENED)
    assert shortened.data["until"] == shift_end.isoformat()
    assert fallbacks(bot) == []


def test_the_opsgenie_on_call_may_request_only_while_on_call(
    start: StartBot, fakes: dict[str, RunningFake]
) -> None:
    clock = ManualClock(start=START)
    fakes["pd"].api.put("PSCHED1")
    fakes["og"].api.put(
        "sre_schedule", OnCallEntry(email=OSCAR_EMAIL, start=START, end=START + timedelta(hours=8))
    )
    bot = start_with(start, fakes, clock, pager_flow())

    request_id = request_bundle(bot, OSCAR, "prod-incident")
    wait_status(bot, request_id, Status.ACTIVE)
    # The shift lasts longer than the hour chosen: the chosen end stands.
    assert request(bot, request_id).expires_at == START + timedelta(hours=1)

    # Off the schedule (and the cached answer a minute old): nothing is offered any more.
    fakes["og"].api.put("sre_schedule")
    clock.advance(timedelta(seconds=61))
    assert offered(bot, OSCAR) == []
    assert fakes["og"].api.call_count("/on-calls") >= 2


def test_pagerduty_down_denies_the_request_and_audits_the_fallback(
    start: StartBot, fakes: dict[str, RunningFake]
) -> None:
    clock = ManualClock(start=START)
    fakes["pd"].api.put("PSCHED1", OnCallEntry(email=OSCAR_EMAIL, end=START + timedelta(hours=1)))
    fakes["pd"].api.fail(500)
    bot = start_with(
        start,
        fakes,
        clock,
        pager_flow(grantees={"on_call": [{"provider": "pd", "schedule": "PSCHED1"}]}),
    )

    assert offered(bot, OSCAR) == []

    assert {(f["flow"], f["fallback"], f["at"], f["actor"]) for f in fallbacks(bot)} == {
        ("pager", "deny", "request", OSCAR)
    }
    assert fallbacks(bot)[0]["unreachable"] == ["pd schedule PSCHED1: http 500"]


def test_opsgenie_down_with_require_approval_asks_the_approvers_and_never_grants_at_once(
    start: StartBot, fakes: dict[str, RunningFake]
) -> None:
    clock = ManualClock(start=START)
    fakes["og"].api.put(
        "sre_schedule", OnCallEntry(email=OSCAR_EMAIL, end=START + timedelta(hours=1))
    )
    fakes["og"].api.stall(5)  # longer than the client's 0.5 s
    flow = pager_flow(
        grantees={"on_call": [{"provider": "og", "schedule": "sre_schedule"}]},
        approvers={"users": [CAROL]},
        auto_approval={"requester_on_call": True},
        on_call_unavailable="require_approval",
        until_shift_end=False,
    )
    bot = start_with(start, fakes, clock, flow)

    request_id = request_bundle(bot, OSCAR, "prod-incident")

    assert status(bot, request_id) is Status.PENDING
    assert not request(bot, request_id).automatic
    bot.sim.wait_for(lambda: len(approval_requests(bot, CAROL, request_id)) == 1)
    [ask] = approval_requests(bot, CAROL, request_id)
    # Still down when Carol approves: an approver vouched, so the grant goes on (audited).
    bot.sim.click(CAROL, action_id="request.approve", message=(ask.channel, ask.ts))
    wait_status(bot, request_id, Status.ACTIVE)
    assert {(f["fallback"], f["at"]) for f in fallbacks(bot)} >= {
        ("require_approval", "request"),
        ("approved by an approver", "grant"),
    }
    assert all(
        f["unreachable"] == ["og schedule sre_schedule: no answer in time"] for f in fallbacks(bot)
    )


def test_an_on_call_approver_is_asked_and_a_shift_over_before_approval_is_refused(
    start: StartBot, fakes: dict[str, RunningFake]
) -> None:
    clock = ManualClock(start=START)
    fakes["pd"].api.put("PSCHED1", OnCallEntry(email=OSCAR_EMAIL, end=START + timedelta(hours=1)))
    fakes["pd"].api.put("PESC1", OnCallEntry(email="carol@example.com", end=None))
    flow = pager_flow(
        grantees={"on_call": [{"provider": "pd", "schedule": "PSCHED1"}]},
        approvers={"on_call": [{"provider": "pd", "escalation_policy": "PESC1"}]},
    )
    bot = start_with(start, fakes, clock, flow)

    request_id = request_bundle(bot, OSCAR, "prod-incident")
    bot.sim.wait_for(lambda: len(approval_requests(bot, CAROL, request_id)) == 1)
    assert approval_requests(bot, ALICE, request_id) == []

    # Oscar's shift ends before Carol decides: the click finds him no longer on call.
    fakes["pd"].api.put("PSCHED1")
    clock.advance(timedelta(minutes=2))
    [ask] = approval_requests(bot, CAROL, request_id)
    bot.sim.click(CAROL, action_id="request.approve", message=(ask.channel, ask.ts))
    wait_status(bot, request_id, Status.DENIED)
    assert (
        request(bot, request_id).reason
        == "the requester is no longer on call for the access flow pager"
    )
