"""The DM shortly before access ends (README, "Extending access"): sent at the right time by the
durable sweep, once, with *Extend* and *Revoke now* buttons that work."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain.audit import AuditKind
from domain.clock import ManualClock
from domain.ids import RequestId
from domain.lifecycle import Status
from domain.policy import ExtendPolicy, Policy
from slacksim import Message
from tests.e2e.conftest import StartBot
from tests.e2e.harness import ALICE, BOB, Bot, standard_policy
from tests.e2e.messages import about, approval_requests, buttons, text_of, wait_status
from tests.e2e.modal_steps import request_bundle
from tests.fakes import RecordingIntegration

pytestmark = pytest.mark.e2e

START = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)


def reminding_policy() -> Policy:
    """The standard policy; ``developers`` extends automatically, reminds 15 minutes ahead."""
    policy = standard_policy()
    flows = [
        f.model_copy(
            update={
                "extend": ExtendPolicy(approval="automatic"),
                "remind_before_end": timedelta(minutes=15),
            }
        )
        if f.name == "developers"
        else f
        for f in policy.access_flows
    ]
    return policy.model_copy(update={"access_flows": flows})


def active(bot: Bot) -> str:
    request_id = request_bundle(bot, ALICE, "prod-incident")
    bot.sim.wait_for(lambda: len(approval_requests(bot, BOB, request_id)) == 1)
    [ask] = approval_requests(bot, BOB, request_id)
    bot.sim.click(BOB, action_id="request.approve", message=(ask.channel, ask.ts))
    wait_status(bot, request_id, Status.ACTIVE)
    return request_id


def expires_at(bot: Bot, request_id: str) -> datetime:
    with bot.app.store.read() as uow:
        request = uow.requests.get(RequestId(request_id))
    assert request is not None
    assert request.expires_at is not None
    return request.expires_at


def reminders(bot: Bot, request_id: str) -> list[Message]:
    return [m for m in about(bot.sim.messages(ALICE), request_id) if "Extend it if" in text_of(m)]


def sweep_and_settle(bot: Bot) -> None:
    bot.app.run_now("end_reminders")
    bot.sim.wait_for(lambda: _outbox_empty(bot))


def _outbox_empty(bot: Bot) -> bool:
    with bot.app.store.read() as uow:
        return uow.outbox.pending_count() == 0


def test_the_reminder_comes_at_its_time_once_and_its_extend_button_works(
    start: StartBot,
) -> None:
    clock = ManualClock(start=START)
    bot = start(policy=reminding_policy(), clock=clock, sweeps=False)
    request_id = active(bot)
    end = expires_at(bot, request_id)

    sweep_and_settle(bot)
    clock.set(end - timedelta(minutes=15, seconds=1))
    sweep_and_settle(bot)
    assert reminders(bot, request_id) == []

    clock.set(end - timedelta(minutes=15))
    sweep_and_settle(bot)
    sweep_and_settle(bot)  # a second sweep (or instance) sends nothing more
    [reminder] = reminders(bot, request_id)
    assert buttons(reminder) == ["request.extend", "request.revoke"]

    bot.sim.click(ALICE, action_id="request.extend", message=(reminder.channel, reminder.ts))

    new_end = end + timedelta(hours=1)  # the flow's step: its default duration
    bot.sim.wait_for(lambda: expires_at(bot, request_id) == new_end)
    bot.sim.wait_for(lambda: any("Extending" in e.text for e in bot.sim.ephemerals(ALICE)))
    # Planned again for the new end: nothing at the old end, one before the new one.
    clock.set(end + timedelta(minutes=1))
    bot.app.run_now("end")
    sweep_and_settle(bot)
    assert len(reminders(bot, request_id)) == 1
    assert expires_at(bot, request_id) == new_end
    clock.set(new_end - timedelta(minutes=15))
    sweep_and_settle(bot)
    assert len(reminders(bot, request_id)) == 2
    with bot.app.store.read() as uow:
        assert len(uow.audit.kinds(kind=AuditKind.END_REMINDED)) == 2


def test_revoke_now_on_the_reminder_revokes_everything(start: StartBot) -> None:
    clock = ManualClock(start=START)
    bot = start(policy=reminding_policy(), clock=clock, sweeps=False)
    request_id = active(bot)
    end = expires_at(bot, request_id)
    sweep_and_settle(bot)
    clock.set(end - timedelta(minutes=10))  # late, but before the end: sent at once
    sweep_and_settle(bot)
    [reminder] = reminders(bot, request_id)

    bot.sim.click(ALICE, action_id="request.revoke", message=(reminder.channel, reminder.ts))

    wait_status(bot, request_id, Status.REVOKED)
    account = "jit_" + request_id.removeprefix("AR-").lower()
    for integration in bot.app.integrations.values():
        assert isinstance(integration, RecordingIntegration)
        assert account not in integration.granted
        assert integration.revoke_calls.count(account) == 1
