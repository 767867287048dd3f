"""Who may revoke from Slack, and expiries that fell due while the bot was down (issue 5)."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import pytest

from domain.audit import AuditKind
from domain.clock import SystemClock
from domain.lifecycle import Status
from store.engine import make_engine
from store.migrate import upgrade
from store.unit_of_work import Store
from tests.e2e.conftest import StartBot
from tests.e2e.harness import ALICE, AUDIT, BOB, CAROL, DAVE, Bot, standard_policy
from tests.e2e.messages import (
    approval_requests,
    settled,
    status,
    status_messages,
    text_of,
    wait_status,
)
from tests.e2e.modal_steps import request_bundle
from tests.e2e.test_two_instances import seed_active
from tests.fakes import RecordingIntegration

pytestmark = pytest.mark.e2e


def active_request(bot: Bot) -> str:
    request_id = request_bundle(bot, ALICE, "prod-incident")
    bot.sim.wait_for(lambda: len(approval_requests(bot, BOB, request_id)) == 1)
    [ask] = approval_requests(bot, BOB, request_id)
    bot.sim.click(BOB, action_id="request.approve", message=(ask.channel, ask.ts))
    wait_status(bot, request_id, Status.ACTIVE)
    return request_id


def test_apono_revoke_by_a_stranger_is_refused_and_audited(bot: Bot) -> None:
    request_id = active_request(bot)
    ack = bot.sim.slash_command(DAVE, text=f"revoke {request_id}")
    assert ack.payload is not None
    assert (
        "Only the requester, the teammate it was requested for, an approver of its flow or an "
        "admin can revoke it."
    ) in ack.payload["text"]
    with bot.app.store.read() as uow:
        refused = uow.audit.kinds(kind=AuditKind.REVOKE_REFUSED)
    assert [(e.actor, e.request_id) for e in refused] == [(DAVE, request_id)]
    # The ending sweep runs here, in this thread: had the refusal asked for a revoke, it would
    # have ended the request now.
    bot.app.run_now("end")
    assert status(bot, request_id) is Status.ACTIVE
    account = "jit_" + request_id.removeprefix("AR-").lower()
    for integration in bot.app.integrations.values():
        assert isinstance(integration, RecordingIntegration)
        assert account in integration.granted
        assert account not in integration.revoke_calls


@pytest.mark.parametrize(
    ("who", "role"), [(BOB, "approver"), (CAROL, "admin"), (ALICE, "requester")]
)
def test_apono_revoke_by_the_requester_an_approver_or_an_admin_ends_everything(
    bot: Bot, who: str, role: str
) -> None:
    request_id = active_request(bot)
    ack = bot.sim.slash_command(who, text=f"revoke {request_id.lower()}")
    assert ack.payload is not None
    assert "Revoking" in ack.payload["text"], role
    wait_status(bot, request_id, Status.REVOKED)
    settled(bot, request_id, channels=[ALICE, AUDIT])
    fakes = bot.app.integrations
    account = "jit_" + request_id.removeprefix("AR-").lower()
    for integration in fakes.values():
        assert isinstance(integration, RecordingIntegration)
        assert account not in integration.granted
        assert integration.revoke_calls.count(account) == 1
    assert f"by <@{who}>" in text_of(status_messages(bot, AUDIT, request_id)[-1])


def test_a_revoke_command_without_an_id_explains_how(bot: Bot) -> None:
    ack = bot.sim.slash_command(ALICE, text="revoke")
    assert ack.payload is not None
    assert "Usage: `/apono revoke AR-XXXXXX`" in ack.payload["text"]


def test_requests_that_fell_due_while_the_bot_was_down_end_soon_after_start_up(
    start: StartBot, tmp_path: Path
) -> None:

    policy = standard_policy()
    redis = RecordingIntegration(name="prod-redis")
    database_url = f"sqlite:///{tmp_path}/down.db"

    engine = make_engine(database_url)
    upgrade(engine)
    ids = seed_active(
        Store(engine=engine), redis, count=20, due=SystemClock().now() - timedelta(hours=3)
    )
    engine.dispose()
    started = time.monotonic()
    bot = start(policy=policy, database_url=database_url, integrations={"prod-redis": redis})
    for request_id in ids:
        wait_status(bot, request_id, Status.EXPIRED, timeout=60)
    assert time.monotonic() - started < 60
    assert sorted(redis.revoke_calls) == sorted("jit_" + i.removeprefix("AR-").lower() for i in ids)
