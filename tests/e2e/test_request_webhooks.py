"""Request webhooks through the whole app and the Slack simulator: people request, approve and
revoke in Slack, access expires, and loopback receivers get each step, signed and in order."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from domain.clock import ManualClock, SystemClock
from domain.ids import RequestId
from domain.lifecycle import Status
from domain.policy import Policy
from slacksim.pytest_plugin import SimulatorFactory
from tests.conftest import _reset_postgres
from tests.e2e.conftest import StartBot
from tests.e2e.harness import ALICE, BOB, DAVE, OSCAR, Bot, standard_policy, workspace
from tests.e2e.messages import approval_requests, wait_status
from tests.e2e.modal_steps import request_bundle
from tests.e2e.test_two_instances import seed_active
from tests.fakes import RecordingIntegration
from tests.unit.webhooks.receiver import Receiver, receiving

pytestmark = pytest.mark.e2e

SECRET = "e2e-hook-secret"
GRANTED = ["request.created", "request.approved", "request.granting", "request.active"]


@pytest.fixture
def everything() -> Iterator[Receiver]:
    with receiving(SECRET) as receiver:
        yield receiver


@pytest.fixture
def developers_only() -> Iterator[Receiver]:
    with receiving(SECRET) as receiver:
        yield receiver


def start_with_hooks(
    start: StartBot,
    monkeypatch: pytest.MonkeyPatch,
    everything: Receiver,
    developers_only: Receiver,
    **kwargs: Any,
) -> Bot:
    monkeypatch.setenv("E2E_HOOK_SECRET", SECRET)
    hooks = [
        {"name": "everything", "url": everything.url, "secret": "${E2E_HOOK_SECRET}"},
        {
            "name": "developers-ends",
            "url": developers_only.url,
            "secret": "${E2E_HOOK_SECRET}",
            "events": ["active", "expired", "revoked"],
            "flows": ["developers"],
        },
    ]
    return start(
        policy=standard_policy(request_webhooks=hooks), request_webhooks_allow_http=True, **kwargs
    )


def approve(bot: Bot, request_id: str, by: str = BOB) -> None:
    bot.sim.wait_for(lambda: len(approval_requests(bot, by, request_id)) == 1)
    [ask] = approval_requests(bot, by, request_id)
    bot.sim.click(by, action_id="request.approve", message=(ask.channel, ask.ts))


def arrived(receiver: Receiver, request_id: str, types: list[str], *, bot: Bot) -> None:
    bot.sim.wait_for(lambda: receiver.types_for(request_id) == types, timeout=20)


def test_a_request_approved_in_slack_and_revoked_reaches_the_receivers_step_by_step(
    start: StartBot,
    monkeypatch: pytest.MonkeyPatch,
    everything: Receiver,
    developers_only: Receiver,
) -> None:
    bot = start_with_hooks(start, monkeypatch, everything, developers_only)
    request_id = request_bundle(bot, ALICE, "prod-incident", reason="INC-42")
    approve(bot, request_id)
    wait_status(bot, request_id, Status.ACTIVE)
    automatic = request_bundle(bot, OSCAR, "prod-incident")
    wait_status(bot, automatic, Status.ACTIVE)
    ack = bot.sim.slash_command(ALICE, text=f"revoke {request_id}")
    assert ack.payload is not None
    wait_status(bot, request_id, Status.REVOKED)

    arrived(everything, request_id, [*GRANTED, "request.revoked"], bot=bot)
    arrived(everything, automatic, GRANTED, bot=bot)
    arrived(developers_only, request_id, ["request.active", "request.revoked"], bot=bot)
    assert developers_only.types_for(automatic) == []  # the on-call flow is filtered out
    assert everything.problems == developers_only.problems == []

    [revoked] = [e for e in everything.events if e["type"] == "request.revoked"]
    request = revoked["request"]
    assert revoked["actor"] == ALICE
    assert request["flow"] == "developers"
    assert request["bundle"] == "prod-incident"
    assert request["justification"] == "INC-42"
    assert request["requester"] == {"id": ALICE, "name": "Alice Doe", "email": "alice@example.com"}
    assert [d["by"] for d in request["decisions"]] == [BOB]
    assert [a["id"] for a in request["approvers"]] == [BOB]
    assert {g["integration"] for g in request["objects"]} == {
        "prod-postgres",
        "prod-redis",
        "shop-mysql",
    }
    auto_approved = next(
        e
        for e in everything.events
        if e["request"]["id"] == automatic and e["type"].endswith("approved")
    )
    assert auto_approved["actor"] is None
    assert auto_approved["request"]["automatic"] is True


def test_two_approval_steps_reach_the_receivers_as_one_decision_per_step_valid_to_the_schema(
    start: StartBot, monkeypatch: pytest.MonkeyPatch, everything: Receiver
) -> None:
    monkeypatch.setenv("E2E_HOOK_SECRET", SECRET)
    hooks = [{"name": "everything", "url": everything.url, "secret": "${E2E_HOOK_SECRET}"}]
    data = standard_policy(request_webhooks=hooks).model_dump(mode="json")
    for flow in data["access_flows"]:
        if flow["name"] == "developers":
            flow["approvers"] = [{"manager": True}, {"users": [DAVE]}]
    bot = start(policy=Policy.model_validate(data), request_webhooks_allow_http=True)
    request_id = request_bundle(bot, ALICE, "prod-incident")
    approve(bot, request_id, by=BOB)  # step 1: Alice's manager
    approve(bot, request_id, by=DAVE)  # step 2
    wait_status(bot, request_id, Status.ACTIVE)

    arrived(everything, request_id, GRANTED, bot=bot)
    assert everything.problems == []  # every body valid against the schema, signed
    mine = [e for e in everything.events if e["request"]["id"] == request_id]
    created = next(e for e in mine if e["type"] == "request.created")
    approved = next(e for e in mine if e["type"] == "request.approved")
    # Dave was asked only when step 2 began: the created event does not name him.
    assert [a["id"] for a in created["request"]["approvers"]] == [BOB]
    assert created["request"]["decisions"] == []
    assert [a["id"] for a in approved["request"]["approvers"]] == [BOB, DAVE]
    assert [(d["decision"], d["by"], d["step"]) for d in approved["request"]["decisions"]] == [
        ("approved", BOB, 1),
        ("approved", DAVE, 2),
    ]


def test_expiry_is_told_and_a_receiver_outage_delays_but_loses_nothing(
    start: StartBot,
    monkeypatch: pytest.MonkeyPatch,
    everything: Receiver,
    developers_only: Receiver,
) -> None:
    clock = ManualClock(start=datetime.now(UTC))
    bot = start_with_hooks(
        start,
        monkeypatch,
        everything,
        developers_only,
        clock=clock,
        request_webhook_max_backoff_seconds=1,
    )
    request_id = request_bundle(bot, ALICE, "prod-incident")
    arrived(everything, request_id, ["request.created"], bot=bot)
    everything.down = True
    approve(bot, request_id)
    wait_status(bot, request_id, Status.ACTIVE)
    arrived(developers_only, request_id, ["request.active"], bot=bot)
    with bot.app.store.read() as uow:
        request = uow.requests.get(RequestId(request_id))
    assert request is not None
    assert request.expires_at is not None
    clock.set(request.expires_at + timedelta(seconds=1))
    bot.app.fire("end")
    wait_status(bot, request_id, Status.EXPIRED)
    # The sender may still be building the approval's payload when the expiry lands.
    bot.sim.wait_for(lambda: any(c.answered == 503 for c in everything.calls), timeout=20)
    assert everything.types_for(request_id) == ["request.created"]

    everything.down = False

    def caught_up() -> bool:
        clock.advance(timedelta(seconds=2))  # lets the back-off pass
        bot.app.fire("webhooks")
        return everything.types_for(request_id) == [*GRANTED, "request.expired"]

    bot.sim.wait_for(caught_up, timeout=20, interval=0.05)
    arrived(developers_only, request_id, ["request.active", "request.expired"], bot=bot)
    assert everything.problems == []
    ids = everything.ids()
    assert len(ids) == len(set(ids)) == 5
    expired = everything.events[-1]
    assert expired["request"]["times"]["ended_at"] == expired["occurred_at"]
    assert expired["request"]["times"]["expires_at"] is not None


@pytest.mark.integration
def test_two_instances_on_postgresql_tell_each_expiry_once_and_in_order(
    start: StartBot,
    slack_sim_factory: SimulatorFactory,
    pg_database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    everything: Receiver,
) -> None:
    _reset_postgres(pg_database_url)
    monkeypatch.setenv("E2E_HOOK_SECRET", SECRET)
    sim = slack_sim_factory(workspace=workspace())
    policy = standard_policy(
        request_webhooks=[{"name": "all", "url": everything.url, "secret": "${E2E_HOOK_SECRET}"}]
    )
    redis = RecordingIntegration(name="prod-redis")
    common: dict[str, Any] = {
        "sim": sim,
        "policy": policy,
        "database_url": pg_database_url,
        "integrations": {"prod-redis": redis},
        "sweeps": False,
        "request_webhooks_allow_http": True,
    }
    first = start(**common)
    second = start(**common, connections=2)
    ids = seed_active(first.app.store, redis, count=40, due=SystemClock().now())

    def work(bot: Bot) -> None:
        bot.app.services.ending.run_due()
        for _ in range(5):
            bot.app.run_now("webhooks")

    racers = [threading.Thread(target=work, args=(bot,)) for bot in (first, second)]
    for racer in racers:
        racer.start()
    for racer in racers:
        racer.join()
    sim.wait_for(lambda: len(everything.events) >= 40, timeout=30)

    assert everything.problems == []
    assert sorted(e["request"]["id"] for e in everything.events) == sorted(ids)
    assert {e["type"] for e in everything.events} == {"request.expired"}
    assert len(set(everything.ids())) == len(everything.events) == 40
    sequences = [e["sequence"] for e in everything.events]
    assert sequences == sorted(sequences)
