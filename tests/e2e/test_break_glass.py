"""Break-glass through Slack (issue 15, README "Break-glass"): access at once with a reason and
no approver, one loud alarm to the audit channel, each approver and each admin, acknowledged and
revoked from that alarm, and a daily cap that resets with the UTC day."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from blocks.break_glass import ALARM_HEADER
from blocks.payloads import RequestButton
from domain.audit import AuditKind
from domain.clock import ManualClock
from domain.ids import RequestId
from domain.lifecycle import Status
from domain.policy import Policy
from slacksim import Message
from tests.e2e.conftest import StartBot
from tests.e2e.harness import ALICE, AUDIT, BOB, CAROL, DAVE, Bot, standard_policy
from tests.e2e.messages import approval_requests, buttons, forged_click, text_of, wait_status
from tests.e2e.modal_steps import input_block, justify, pick_bundle, select_all, submit, text

pytestmark = pytest.mark.e2e

REASON = "INC-77: checkout is down, orders table locked"


def break_glass_policy() -> Policy:
    """The standard policy; `developers` (Alice, Dave; approved by the manager, Bob) allows
    break-glass for 1h, once a day. Carol is the admin."""
    data = standard_policy().model_dump(mode="json")
    for flow in data["access_flows"]:
        if flow["name"] == "developers":
            flow["break_glass"] = {"max_duration": "1h", "daily_limit": 1}
    return Policy.model_validate(data)


def alarms(bot: Bot, channel: str, request_id: str) -> list[Message]:
    return [
        m
        for m in bot.sim.messages(channel)
        if ALARM_HEADER in text_of(m) and request_id in text_of(m)
    ]


def break_glass_form(bot: Bot, user: str, *, reason: str | None) -> Any:
    """Open the modal, take the whole bundle, choose *Break glass*, give the reason, submit."""
    bot.open_modal(user)
    pick_bundle(bot, user, "prod-incident")
    view = select_all(bot, user)
    assert "Break glass" in text(view)
    bot.sim.select(
        user,
        action_id="modal.break_glass",
        view_id=view.id,
        block_id=input_block(view, "break_glass."),
        value="break_glass",
    )
    if reason is not None:
        justify(bot, user, reason)
    return submit(bot, user)


def request_id_of(done: Any) -> str:
    assert done.payload is not None
    assert done.payload["response_action"] == "update", done.payload
    match = re.search(r"AR-[0-9A-Z]{6}", json.dumps(done.payload["view"]))
    assert match is not None
    return match.group(0)


def events(bot: Bot, kind: AuditKind) -> list[Any]:
    with bot.app.store.read() as uow:
        return uow.audit.kinds(kind=kind)


def test_break_glass_is_active_at_once_everyone_is_told_once_and_it_can_be_acknowledged_and_revoked(
    start: StartBot,
) -> None:
    clock = ManualClock(start=datetime.now(UTC).replace(hour=9, minute=0))
    bot = start(policy=break_glass_policy(), clock=clock)

    done = break_glass_form(bot, ALICE, reason=REASON)
    request_id = request_id_of(done)
    assert "Break glass" in json.dumps(done.payload["view"])
    wait_status(bot, request_id, Status.ACTIVE)

    # No approver was asked: Bob (the manager) never got an approval request.
    assert approval_requests(bot, BOB, request_id) == []
    for reader in (AUDIT, BOB, CAROL):
        bot.sim.wait_for(lambda r=reader: len(alarms(bot, r, request_id)) >= 1)  # type: ignore[misc]
    assert alarms(bot, ALICE, request_id) == []
    assert alarms(bot, DAVE, request_id) == []
    for reader in (AUDIT, BOB, CAROL):
        [alarm] = alarms(bot, reader, request_id)
        shown = text_of(alarm)
        assert REASON.split(":")[0] in shown
        assert f"<@{ALICE}>" in shown
        assert buttons(alarm) == ["break_glass.acknowledge", "request.revoke"]
    [used] = events(bot, AuditKind.BREAK_GLASS_USED)
    assert used.request_id == request_id
    assert used.actor == ALICE
    assert sorted(used.data["told"]) == sorted([AUDIT, BOB, CAROL])
    assert used.data["reason"] == REASON
    with bot.app.store.read() as uow:
        request = uow.requests.get(RequestId(request_id))
        assert request is not None
        assert request.trigger.value == "break_glass"
        assert request.duration == timedelta(hours=1)

    # Bob acknowledges from his copy: every copy then says so, and the log records him.
    [bobs] = alarms(bot, BOB, request_id)
    bot.sim.click(BOB, action_id="break_glass.acknowledge", message=(bobs.channel, bobs.ts))
    for reader in (AUDIT, BOB, CAROL):
        bot.sim.wait_for(
            lambda r=reader: "Acknowledged" in text_of(alarms(bot, r, request_id)[0]),  # type: ignore[misc]
        )
        [copy] = alarms(bot, reader, request_id)
        assert f"<@{BOB}>" in text_of(copy).split("Acknowledged")[1]
        assert buttons(copy) == ["request.revoke"]
    [acknowledged] = events(bot, AuditKind.BREAK_GLASS_ACKNOWLEDGED)
    assert acknowledged.actor == BOB
    assert acknowledged.request_id == request_id

    # Someone who is neither an approver nor an admin is refused, and that is audited too.
    bot.sim.send_envelope(
        type_="interactive",
        payload=forged_click(
            user=DAVE,
            action_id="break_glass.acknowledge",
            value=RequestButton(r=request_id, f="developers").encode(),
            channel=bot.sim.dm_channel(DAVE),
        ),
    )
    bot.sim.wait_for(lambda: len(events(bot, AuditKind.BREAK_GLASS_REFUSED)) == 1)
    assert len(events(bot, AuditKind.BREAK_GLASS_ACKNOWLEDGED)) == 1

    [carols] = alarms(bot, CAROL, request_id)

    # Carol (an admin) revokes it from her alarm, through the revocation feature's button.
    bot.sim.click(CAROL, action_id="request.revoke", message=(carols.channel, carols.ts))
    wait_status(bot, request_id, Status.REVOKED)
    for reader in (AUDIT, BOB, CAROL):
        assert len(alarms(bot, reader, request_id)) == 1


def test_over_the_daily_limit_break_glass_is_refused_and_audited_until_the_next_utc_day(
    start: StartBot,
) -> None:
    morning = datetime.now(UTC).replace(hour=8, minute=0, second=0, microsecond=0)
    clock = ManualClock(start=morning)
    bot = start(policy=break_glass_policy(), clock=clock)
    first = request_id_of(break_glass_form(bot, ALICE, reason=REASON))
    wait_status(bot, first, Status.ACTIVE)

    clock.set(morning + timedelta(hours=15, minutes=59))  # 23:59 UTC, the same day
    refused = break_glass_form(bot, ALICE, reason="INC-78: again")
    assert refused.payload["response_action"] == "errors"
    assert "daily limit" in json.dumps(refused.payload["errors"])
    [audited] = events(bot, AuditKind.BREAK_GLASS_REFUSED)
    assert audited.actor == ALICE
    assert audited.data["used_today"] == 1
    assert audited.data["daily_limit"] == 1

    bot.sim.close_view(ALICE, view_id=bot.view(ALICE).id)
    clock.set(morning + timedelta(hours=16, minutes=1))  # 00:01 UTC, the next day
    next_day = request_id_of(break_glass_form(bot, ALICE, reason="INC-79: the next day"))
    wait_status(bot, next_day, Status.ACTIVE)
    assert len(events(bot, AuditKind.BREAK_GLASS_USED)) == 2
