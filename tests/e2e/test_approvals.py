"""One all-or-nothing approval message per approver, safe decisions, one status message per
change (issue 4)."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta
from functools import partial

import pytest

from blocks.payloads import RequestButton
from domain.audit import AuditKind
from domain.clock import ManualClock
from domain.ids import RequestId, UserId
from domain.lifecycle import Status
from slacksim import View, texts_of
from slacksim.pytest_plugin import SimulatorFactory
from tests.e2e.conftest import StartBot
from tests.e2e.harness import ALICE, AUDIT, BOB, CAROL, DAVE, ERIN, FRANK, OSCAR, Bot
from tests.e2e.messages import (
    approval_requests,
    buttons,
    forged_click,
    history,
    settled,
    status,
    status_messages,
    text_of,
    wait_status,
)
from tests.e2e.modal_steps import request_bundle

pytestmark = pytest.mark.e2e


def approve(bot: Bot, approver: str, request_id: str) -> None:
    [message] = approval_requests(bot, approver, request_id)
    bot.sim.click(approver, action_id="request.approve", message=(message.channel, message.ts))


def refusals(bot: Bot, kind: AuditKind) -> list[dict[str, object]]:
    with bot.app.store.read() as uow:
        return [
            {"actor": e.actor, "request": e.request_id, **e.data}
            for e in uow.audit.kinds(kind=kind)
        ]


def test_an_approved_request_tells_everyone_exactly_once_per_change(bot: Bot) -> None:
    request_id = request_bundle(bot, ALICE, "prod-incident", reason="INC-42: orders stuck")
    bot.sim.wait_for(lambda: len(approval_requests(bot, BOB, request_id)) == 1)
    [ask] = approval_requests(bot, BOB, request_id)
    shown = text_of(ask)
    for fact in (
        request_id,
        f"<@{ALICE}>",
        "alice@example.com",
        "prod-incident",
        "prod-postgres",
        "prod-redis",
        "shop-mysql",
        "sales.orders",
        "read_write",
        "1h",
        "INC-42: orders stuck",
        "You're asked because you're Alice Doe's manager.",
    ):
        assert fact in shown, fact
    assert buttons(ask)[:2] == ["request.approve", "request.deny"]

    approve(bot, BOB, request_id)
    wait_status(bot, request_id, Status.ACTIVE)
    settled(bot, request_id, channels=[ALICE, AUDIT])

    changes = history(bot, request_id)
    assert changes == [Status.PENDING, Status.APPROVED, Status.GRANTING, Status.ACTIVE]
    # The audit channel's trail holds one message per change. Alice hears of approval, granting
    # and active (a second apart) twice: the approval's DM is rewritten once granting starts.
    assert len(status_messages(bot, AUDIT, request_id)) == len(changes)
    submitted, approved, active = status_messages(bot, ALICE, request_id)
    assert "was submitted" in text_of(submitted)
    assert "is waiting for approval" in text_of(submitted)
    assert f"was approved by <@{BOB}>" in text_of(approved)
    assert "access is being granted" in text_of(approved)
    [first_said] = approved.edits  # posted at the approval, updated once (no new DM)
    assert first_said.text == f"{request_id} was approved"
    assert "is active: access was granted" in text_of(active)
    assert "request.revoke" in buttons(active)
    # Nobody else heard about it, and Bob's only copy now shows the decision, without buttons.
    for other in (CAROL, DAVE, ERIN, OSCAR, FRANK):
        assert bot.sim.messages(other) == []
    [decided] = approval_requests(bot, BOB, request_id)
    assert "request.approve" not in buttons(decided)
    assert f"Approved* by <@{BOB}>" in text_of(decided)


def test_a_denied_request_with_a_reason_tells_the_requester_why(bot: Bot) -> None:
    request_id = request_bundle(bot, ALICE, "prod-incident")
    bot.sim.wait_for(lambda: len(approval_requests(bot, BOB, request_id)) == 1)
    [ask] = approval_requests(bot, BOB, request_id)
    bot.sim.click(BOB, action_id="request.deny", message=(ask.channel, ask.ts))
    bot.sim.wait_for(lambda: bot.sim.top_view(BOB) is not None)
    modal = bot.sim.top_view(BOB)
    assert modal is not None
    bot.sim.type_text(BOB, view_id=modal.id, action_id="request.deny_reason", text="use staging")
    bot.sim.submit_view(BOB, view_id=modal.id)
    wait_status(bot, request_id, Status.DENIED)
    settled(bot, request_id, channels=[ALICE, AUDIT])
    assert history(bot, request_id) == [Status.PENDING, Status.DENIED]
    last = status_messages(bot, ALICE, request_id)[-1]
    assert "denied" in text_of(last)
    assert "use staging" in text_of(last)
    assert len(status_messages(bot, AUDIT, request_id)) == 2
    [decided] = approval_requests(bot, BOB, request_id)
    assert "Denied* by" in text_of(decided)
    assert "request.deny" not in buttons(decided)


def test_two_approvers_clicking_at_once_make_exactly_one_decision_100_times(bot: Bot) -> None:
    # Finance requests go to @db-owners: Carol and Alice both approve.
    for round_ in range(100):
        request_id = _submit_directly(bot, FRANK, "finance-bundle")
        bot.sim.wait_for(partial(_asked, bot, request_id, (CAROL, ALICE)))
        start = threading.Barrier(2)

        def click(
            approver: str, action: str, r: str = request_id, go: threading.Barrier = start
        ) -> None:
            [message] = approval_requests(bot, approver, r)
            go.wait()
            bot.sim.click(approver, action_id=action, message=(message.channel, message.ts))

        racers = [
            threading.Thread(target=click, args=(CAROL, "request.approve")),
            threading.Thread(
                target=click, args=(ALICE, "request.deny" if round_ % 2 else "request.approve")
            ),
        ]
        for racer in racers:
            racer.start()
        for racer in racers:
            racer.join()
        decisions = [s for s in history(bot, request_id) if s in (Status.APPROVED, Status.DENIED)]
        assert len(decisions) <= 1, (round_, history(bot, request_id))
        # A Deny click only opens a modal; the decision is Carol's approval or nothing yet.
        bot.sim.wait_for(partial(_decided, bot, request_id), timeout=5)
        decisions = [s for s in history(bot, request_id) if s in (Status.APPROVED, Status.DENIED)]
        assert len(decisions) == 1
        for approver in (CAROL, ALICE):
            view = bot.sim.top_view(approver)
            if view is not None:
                bot.sim.close_view(approver, view_id=view.id)


def test_a_double_click_and_a_redelivered_envelope_change_nothing(bot: Bot) -> None:
    request_id = request_bundle(bot, ALICE, "prod-incident")
    bot.sim.wait_for(lambda: len(approval_requests(bot, BOB, request_id)) == 1)
    [ask] = approval_requests(bot, BOB, request_id)
    first = bot.sim.click(BOB, action_id="request.approve", message=(ask.channel, ask.ts))
    bot.sim.redeliver(first)
    wait_status(bot, request_id, Status.ACTIVE)
    bot.sim.wait_for(lambda: len(bot.sim.ephemerals(BOB)) == 2)
    replies = [e.text for e in bot.sim.ephemerals(BOB)]
    assert any("You approved" in r for r in replies)
    assert any("already" in r and f"<@{BOB}>" in r and "<!date^" in r for r in replies)
    assert history(bot, request_id).count(Status.APPROVED) == 1
    # The copy is updated: a third click on the (gone) buttons is impossible in Slack.
    bot.sim.wait_for(
        lambda: "request.approve" not in buttons(approval_requests(bot, BOB, request_id)[0])
    )
    with pytest.raises(Exception, match=r"request\.approve"):
        bot.sim.click(BOB, action_id="request.approve", message=(ask.channel, ask.ts))


def test_clicks_by_a_stranger_the_requester_and_a_forged_id_are_refused_and_audited(
    bot: Bot,
) -> None:
    request_id = request_bundle(bot, ALICE, "prod-incident")
    bot.sim.wait_for(lambda: len(approval_requests(bot, BOB, request_id)) == 1)
    good = RequestButton(r=request_id, f="developers").encode()
    dave_dm = bot.sim.dm_channel(DAVE)
    alice_dm = bot.sim.dm_channel(ALICE)
    for user, value, channel in (
        (DAVE, good, dave_dm),
        (ALICE, good, alice_dm),
        (DAVE, RequestButton(r="AR-ZZZZZZ", f="developers").encode(), dave_dm),
        (BOB, RequestButton(r=request_id, f="on-call").encode(), bot.sim.dm_channel(BOB)),
        (BOB, "not json", bot.sim.dm_channel(BOB)),
    ):
        bot.sim.send_envelope(
            type_="interactive",
            payload=forged_click(
                user=user, action_id="request.approve", value=value, channel=channel
            ),
        )
    bot.sim.wait_for(lambda: len(refusals(bot, AuditKind.DECISION_REFUSED)) == 5, timeout=15)
    # Listeners run side by side after their acks: compare what was refused, not the order.
    refused = sorted(
        (str(r["actor"]), str(r["refused"])) for r in refusals(bot, AuditKind.DECISION_REFUSED)
    )
    assert refused == sorted(
        [
            (DAVE, "not a current approver"),
            (ALICE, "requester clicked"),
            (DAVE, "unknown request AR-ZZZZZZ"),
            (BOB, "flow mismatch: button says on-call, request has developers"),
            (BOB, "malformed button value"),
        ]
    )
    assert status(bot, request_id) is Status.PENDING
    bot.sim.wait_for(lambda: len(bot.sim.ephemerals(DAVE)) == 2, timeout=15)
    assert all(e.text.startswith("⛔") for e in bot.sim.ephemerals(DAVE))


def test_an_approver_who_left_the_group_can_no_longer_decide(bot: Bot) -> None:
    request_id = _submit_directly(bot, FRANK, "finance-bundle")
    bot.sim.wait_for(lambda: len(approval_requests(bot, CAROL, request_id)) == 1)
    bot.sim.workspace.set_group_members("S0DBOWN", [ALICE])
    bot.app.directory.forget()  # type: ignore[attr-defined]  # the cache lasts a minute
    approve(bot, CAROL, request_id)
    bot.sim.wait_for(lambda: len(refusals(bot, AuditKind.DECISION_REFUSED)) == 1)
    assert status(bot, request_id) is Status.PENDING


def test_an_automatic_flow_approves_at_once_without_an_approval_message(bot: Bot) -> None:
    request_id = request_bundle(bot, OSCAR, "prod-incident")
    wait_status(bot, request_id, Status.ACTIVE)
    settled(bot, request_id, channels=[OSCAR, AUDIT])
    assert history(bot, request_id) == [
        Status.PENDING,
        Status.APPROVED,
        Status.GRANTING,
        Status.ACTIVE,
    ]
    # Oscar: submitted, approved (rewritten when granting starts), active.
    assert len(status_messages(bot, OSCAR, request_id)) == 3
    assert len(status_messages(bot, AUDIT, request_id)) == 4
    for person in (ALICE, BOB, CAROL, DAVE, ERIN, FRANK):
        assert approval_requests(bot, person, request_id) == []


def test_a_request_nobody_but_the_requester_could_approve_fails_at_once(start: StartBot) -> None:
    from tests.e2e.harness import standard_policy

    data = standard_policy().model_dump(mode="json")
    data["access_flows"][2]["approvers"] = {"users": [ERIN]}  # by-email: Erin approves herself
    bot = start(policy=type(standard_policy()).model_validate(data))
    request_id = request_bundle(bot, ERIN, "prod-incident")
    wait_status(bot, request_id, Status.FAILED)
    settled(bot, request_id, channels=[ERIN, AUDIT])
    last = status_messages(bot, ERIN, request_id)[-1]
    assert "no approver is available" in text_of(last)


def test_a_deactivated_approver_is_skipped(bot: Bot) -> None:
    bot.sim.workspace.deactivate_user(CAROL)
    request_id = _submit_directly(bot, FRANK, "finance-bundle")
    bot.sim.wait_for(lambda: len(approval_requests(bot, ALICE, request_id)) == 1)
    with bot.app.store.read() as uow:
        assert [a.id for a in uow.requests.approvers(request_id)] == [ALICE]  # type: ignore[arg-type]


def test_the_requester_can_cancel_a_pending_request_and_others_cannot(bot: Bot) -> None:
    request_id = request_bundle(bot, ALICE, "prod-incident")
    bot.sim.wait_for(lambda: len(status_messages(bot, ALICE, request_id)) == 1)
    [pending] = status_messages(bot, ALICE, request_id)
    assert "request.cancel" in buttons(pending)
    value = next(
        e["value"] for b in pending.blocks if b.get("type") == "actions" for e in b["elements"]
    )
    bot.sim.send_envelope(
        type_="interactive",
        payload=forged_click(
            user=DAVE, action_id="request.cancel", value=value, channel=bot.sim.dm_channel(DAVE)
        ),
    )
    bot.sim.wait_for(lambda: len(refusals(bot, AuditKind.CANCEL_REFUSED)) == 1)
    bot.sim.click(ALICE, action_id="request.cancel", message=(pending.channel, pending.ts))
    wait_status(bot, request_id, Status.CANCELED)
    settled(bot, request_id, channels=[ALICE, AUDIT])
    [copy] = approval_requests(bot, BOB, request_id)
    assert "Canceled" in text_of(copy)
    assert "request.approve" not in buttons(copy)


def test_approvers_are_reminded_with_back_off_and_the_request_then_times_out(
    start: StartBot,
) -> None:
    clock = ManualClock()
    bot = start(clock=clock, sweeps=False)
    request_id = _submit_directly(bot, FRANK, "finance-bundle")  # remind after 1h, timeout 24h
    bot.sim.wait_for(lambda: len(approval_requests(bot, CAROL, request_id)) == 1)

    def reminders() -> int:
        return len([m for m in bot.sim.messages(CAROL) if "Reminder" in text_of(m)])

    for hours, expected in ((0.5, 0), (1, 1), (2, 1), (3, 2), (6, 2), (7, 3)):
        clock.set(_start(bot) + timedelta(hours=hours))
        bot.app.run_now("pending")
        bot.sim.wait_for(partial(lambda n: reminders() == n, expected))
        assert reminders() == expected, hours
    clock.set(_start(bot) + timedelta(hours=24, seconds=1))
    bot.app.run_now("pending")
    wait_status(bot, request_id, Status.TIMED_OUT)
    settled(bot, request_id, channels=[FRANK, AUDIT])
    assert "timed out" in text_of(status_messages(bot, FRANK, request_id)[-1])


def test_messages_survive_slack_being_down_then_rate_limiting(bot: Bot) -> None:
    first = _submit_directly(bot, FRANK, "finance-bundle")  # the directory is now cached
    settled(bot, first, channels=[FRANK, AUDIT])
    bot.sim.outage(status=503)
    ids = [_submit_directly(bot, FRANK, "finance-bundle") for _ in range(3)]
    for request_id in ids:  # a second change per request, still while Slack is down
        bot.app.services.decisions.cancel(
            request_id=RequestId(request_id), flow_claim=None, clicker=UserId(FRANK)
        )
    bot.sim.wait_for(lambda: len(bot.sim.calls_to("chat.postMessage")) >= 6, timeout=10)
    assert all(status_messages(bot, FRANK, i) == [] for i in ids)
    bot.sim.restore()
    bot.sim.inject(method="chat.postMessage", status=429, retry_after=1, times=3)
    for request_id in ids:
        settled(bot, request_id, channels=[FRANK, AUDIT], timeout=60)
    # Nothing lost, nothing twice, and each request's messages in the order of its changes.
    for request_id in ids:
        assert len(approval_requests(bot, CAROL, request_id)) == 1
        for channel in (FRANK, AUDIT):
            said = [text_of(m) for m in status_messages(bot, channel, request_id)]
            assert len(said) == 2
            assert "is waiting for approval" in said[0]
            assert "canceled" in said[1]
    assert any(c.status == 429 for c in bot.sim.calls_to("chat.postMessage"))
    assert any(c.status == 503 for c in bot.sim.calls_to("chat.postMessage"))


def test_messages_queued_before_a_restart_are_sent_by_the_restarted_app(
    start: StartBot, tmp_path: object
) -> None:
    bot = start()
    first = _submit_directly(bot, FRANK, "finance-bundle")
    settled(bot, first, channels=[FRANK, AUDIT])
    bot.sim.outage(status=503)
    ids = [_submit_directly(bot, FRANK, "finance-bundle") for _ in range(2)]
    bot.sim.wait_for(lambda: len(bot.sim.calls_to("chat.postMessage")) >= 3, timeout=10)
    bot.app.stop(wait_for_socket=False)

    bot.sim.restore()
    again = start(sim=bot.sim, database_url=bot.app.settings.database_url)
    for request_id in ids:
        settled(again, request_id, channels=[FRANK, AUDIT], timeout=60)
        assert len(approval_requests(again, CAROL, request_id)) == 1
        assert len(status_messages(again, AUDIT, request_id)) == 1


# -- helpers ------------------------------------------------------------------------------------


def _submit_directly(bot: Bot, user: str, bundle: str) -> str:
    """Submit through the services (the modal is covered elsewhere) to keep rounds quick."""
    from app.requesting.modal import FormInput
    from app.requesting.submission import Submitted
    from domain.ids import UserId

    modal = bot.app.services.modal.open(user=UserId(user))
    modal = bot.app.services.modal.pick_bundle(
        draft_key=modal.draft_key, user=UserId(user), bundle=bundle, form=FormInput()
    )
    bot.app.services.modal.select_all(
        draft_key=modal.draft_key, user=UserId(user), integration=None, form=FormInput()
    )
    outcome = bot.app.services.submission.submit(
        draft_key=modal.draft_key, user=UserId(user), form=FormInput(justification="month end")
    )
    assert isinstance(outcome, Submitted), outcome
    return outcome.request_id


def _asked(bot: Bot, request_id: str, approvers: tuple[str, ...]) -> bool:
    return all(len(approval_requests(bot, a, request_id)) == 1 for a in approvers)


def _decided(bot: Bot, request_id: str) -> bool:
    return status(bot, request_id) is not Status.PENDING


def _start(bot: Bot) -> datetime:
    with bot.app.store.read() as uow:
        ids = uow.requests.recent_for(FRANK, limit=1)  # type: ignore[arg-type]
        request = uow.requests.get(ids[0])
    assert request is not None
    return request.created_at


_ = json


def test_a_1000_object_request_fits_one_approval_message_and_pages_the_full_list(
    bot: Bot,
) -> None:
    from tests.e2e.modal_steps import many, seed_bundle
    from tests.e2e.test_request_modal import _offer

    objects = [o for i in range(12) for o in many(f"db-{i:02d}", 84, prefix=f"schema{i}")]
    seed_bundle(bot, name="wide", objects=objects[:1000])
    _offer(bot, "wide")
    request_bundle(bot, ALICE, "wide")  # select all: exactly the limit
    bot.sim.wait_for(lambda: len(bot.sim.messages(BOB)) == 1)
    [ask] = bot.sim.messages(BOB)
    assert len(ask.blocks) <= 50
    shown = text_of(ask)
    assert "1,000" in shown
    assert "…and 2 more integrations." in shown
    bot.sim.click(BOB, action_id="request.show_objects", message=(ask.channel, ask.ts))
    bot.sim.wait_for(lambda: bot.sim.top_view(BOB) is not None)
    page = bot.sim.top_view(BOB)
    assert page is not None
    assert "Page 1 of 25" in text_of_view(page)
    bot.sim.click(BOB, action_id="request.objects_page:next", view_id=page.id)
    bot.sim.wait_for(lambda: "Page 2 of 25" in text_of_view(bot.sim.view(page.id)))


def text_of_view(view: View) -> str:
    return " ".join(texts_of(view.blocks))


def test_the_manager_can_come_from_a_slack_profile_field(
    start: StartBot, slack_sim_factory: SimulatorFactory
) -> None:
    from tests.e2e.harness import standard_policy, workspace

    people = workspace()
    people.update_user(DAVE, profile_fields={"Manager": CAROL})
    data = standard_policy().model_dump(mode="json")
    data["managers"] = {}
    data["manager_field"] = "Manager"
    bot = start(
        sim=slack_sim_factory(workspace=people),
        policy=type(standard_policy()).model_validate(data),
    )
    request_id = request_bundle(bot, DAVE, "prod-incident")
    bot.sim.wait_for(lambda: len(approval_requests(bot, CAROL, request_id)) == 1)
    [ask] = approval_requests(bot, CAROL, request_id)
    assert "You're asked because you're Dave Null's manager." in text_of(ask)
