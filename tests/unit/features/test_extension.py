"""Extensions (``app/extension/``): asked by the requester within the flow's maximum, decided by
compare-and-swap, applied in every integration and then in the store; and the reminders before
the end (docs/architecture.md, "Durable time")."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest

from app.core.outcomes import NotAllowed
from app.extension.reminders import EndReminders
from app.extension.service import (
    Asked,
    Decided,
    DecidedBefore,
    ExtensionService,
    ExtensionWorker,
    Messages,
)
from app.requesting.submission import Submitted
from blocks.ids import ActionId
from domain.audit import AuditKind
from domain.durations import parse_duration
from domain.ids import RequestId
from domain.lifecycle import Status
from domain.people import Person
from domain.policy import ExtendPolicy, Policy
from domain.policy_checks import check_policy
from domain.report_filters import parse_filters
from store.repositories.extensions import ExtensionStatus
from store.repositories.outbox import OutboxMessage
from tests.unit.features.world import (
    ALICE,
    AUDIT_CHANNEL,
    BOB,
    CACHE,
    CAROL,
    CART_KEYS,
    DAVE,
    DB,
    ONCALL_DB,
    ORDER_KEYS,
    POLICY,
    SELF_SERVE,
    START,
    World,
)


def policy_with(**extend: Any) -> Policy:
    """The world's policy, ``oncall-db`` extensible as ``extend`` says."""
    flow = ONCALL_DB.model_copy(update={"extend": ExtendPolicy(**extend)})
    flows = [flow if f.name == flow.name else f for f in POLICY.access_flows]
    return POLICY.model_copy(update={"access_flows": flows})


@dataclass
class Extending:
    world: World
    service: ExtensionService
    worker: ExtensionWorker
    reminders: EndReminders
    wakes: list[int]

    def ask(
        self, request_id: RequestId, *, by: Person = ALICE, more: str | None = None
    ) -> Asked | NotAllowed:
        duration = None if more is None else parse_duration(more)
        return self.service.ask(request_id=request_id, by=by.id, duration=duration)

    def decide(
        self, asked: Asked, *, by: Person = BOB, approve: bool = True
    ) -> Decided | DecidedBefore | NotAllowed:
        return self.service.decide(
            request_id=asked.extension.request_id,
            extension_id=asked.extension.id,
            flow_claim=asked.summary.flow,
            clicker=by.id,
            approve=approve,
        )

    def expires_at(self, request_id: RequestId) -> Any:
        return self.world.request_row(request_id)["expires_at"]


def extending(world: World) -> Extending:
    wakes: list[int] = []
    messages = Messages(audit_channel=AUDIT_CHANNEL)
    service = ExtensionService(
        store=world.store,
        catalog=world.catalog,
        approvers=world.approvers,
        directory=world.directory,
        messages=messages,
        clock=world.clock,
        on_approved=lambda: wakes.append(1),
    )
    worker = ExtensionWorker(
        store=world.store,
        integrations=world.integrations,
        messages=messages,
        clock=world.clock,
        retry=world.retry,
    )
    reminders = EndReminders(store=world.store, catalog=world.catalog, clock=world.clock)
    return Extending(world=world, service=service, worker=worker, reminders=reminders, wakes=wakes)


@pytest.fixture
def ext(world: World) -> Extending:
    return extending(world)


@pytest.fixture
def make_ext(make_world: Callable[..., World]) -> Callable[..., Extending]:
    def make(**extend: Any) -> Extending:
        return extending(make_world(policy=policy_with(**extend)))

    return make


def texts(messages: list[OutboxMessage]) -> list[str]:
    """Each message's plain text and blocks, as one string."""
    return [str(m.payload) for m in messages if m.payload]


def action_ids(message: OutboxMessage) -> list[str]:
    assert message.payload is not None
    return [
        element.get("action_id", "")
        for block in message.payload["blocks"]
        if block["type"] == "actions"
        for element in block["elements"]
    ]


# -- asking and deciding -------------------------------------------------------------------------


def test_an_approved_extension_moves_the_end_in_every_integration_then_in_the_store(
    ext: Extending,
) -> None:
    world = ext.world
    request_id = world.active_request()  # 1h of oncall-db, whose maximum is 4h
    old_end = ext.expires_at(request_id)
    account = world.account_of(request_id)

    asked = ext.ask(request_id, more="2h")
    assert isinstance(asked, Asked)
    assert not asked.extension.automatic
    asks = [
        m
        for m in world.outbox(channel=BOB.id)
        if m.ref == f"extension:{asked.extension.id}:{BOB.id}"
    ]
    assert len(asks) == 1
    assert action_ids(asks[0]) == [ActionId.EXTEND_APPROVE, ActionId.EXTEND_DENY]
    assert ext.worker.run_due() == 0  # nothing to apply before a decision
    assert ext.expires_at(request_id) == old_end

    assert isinstance(ext.decide(asked, by=CAROL), Decided)
    assert ext.wakes == [1]
    assert ext.worker.run_due() == 1

    new_end = old_end + timedelta(hours=2)
    assert ext.expires_at(request_id) == new_end
    for name in (DB, CACHE):
        assert world.integrations[name].ends[account] == new_end
    assert world.request_row(request_id)["extensions"] == 1
    assert world.request_row(request_id)["lease_owner"] is None
    [extended] = world.events(AuditKind.EXTENDED)
    assert extended.actor == CAROL.id
    assert extended.data["new_end"] == new_end.isoformat()
    with world.store.read() as uow:
        history = uow.requests.history(request_id)
    [entry] = [c for c in history if c.from_status is Status.ACTIVE]
    assert entry.to_status is Status.ACTIVE
    assert entry.reason is not None
    assert "extended by 2h" in entry.reason
    assert any("was extended until" in t for t in texts(world.outbox(channel=ALICE.id)))
    assert any("was extended until" in t for t in texts(world.outbox(channel=AUDIT_CHANNEL)))
    # Every approver's copy now says who decided, without buttons.
    updated = [
        m
        for m in world.outbox(channel=BOB.id)
        if m.kind == "update" and (m.ref or "").startswith("extension:")
    ]
    assert len(updated) == 1
    assert action_ids(updated[0]) == []


def test_the_new_end_is_what_expiry_honours(ext: Extending) -> None:
    world = ext.world
    request_id = world.active_request()
    asked = ext.ask(request_id, more="1h")
    assert isinstance(asked, Asked)
    ext.decide(asked)
    ext.worker.run_due()

    world.clock.advance(timedelta(hours=1, minutes=1))  # past the old end
    assert world.ending.run_due() == 0
    assert world.status(request_id) is Status.ACTIVE

    world.clock.advance(timedelta(hours=1))  # past the new end
    assert world.ending.run_due() == 1
    assert world.status(request_id) is Status.EXPIRED


def test_a_denied_extension_leaves_the_end_and_tells_the_requester(ext: Extending) -> None:
    world = ext.world
    request_id = world.active_request()
    old_end = ext.expires_at(request_id)
    asked = ext.ask(request_id, more="1h")
    assert isinstance(asked, Asked)

    assert isinstance(ext.decide(asked, approve=False), Decided)
    assert ext.worker.run_due() == 0
    assert ext.expires_at(request_id) == old_end
    assert [e.actor for e in world.events(AuditKind.EXTENSION_DENIED)] == [BOB.id]
    assert any("was not extended" in t for t in texts(world.outbox(channel=ALICE.id)))


def test_of_two_racing_decisions_exactly_one_counts(ext: Extending) -> None:
    request_id = ext.world.active_request()
    asked = ext.ask(request_id, more="1h")
    assert isinstance(asked, Asked)

    first = ext.decide(asked, by=BOB, approve=True)
    second = ext.decide(asked, by=CAROL, approve=False)

    assert isinstance(first, Decided)
    assert isinstance(second, DecidedBefore)
    assert second.extension.status is ExtensionStatus.APPROVED
    assert second.extension.decided_by == BOB.id


def test_going_over_the_maximum_is_refused_with_what_is_left(ext: Extending) -> None:
    world = ext.world
    request_id = world.active_request()  # 1h granted; 4h in all at most

    refused = ext.ask(request_id, more="4h")

    assert isinstance(refused, NotAllowed)
    assert "at most 3h can be added" in refused.reason
    assert [e.actor for e in world.events(AuditKind.EXTENSION_REFUSED)] == [ALICE.id]
    with world.store.read() as uow:
        assert uow.extensions.for_request(request_id) == []


def test_the_button_adds_the_step_but_never_more_than_is_left(
    make_ext: Callable[..., Extending],
) -> None:
    ext = make_ext(step="3h", max_total="2h30m", approval="automatic")
    world = ext.world
    request_id = world.active_request()
    old_end = ext.expires_at(request_id)

    asked = ext.ask(request_id)  # the Extend button: no duration
    assert isinstance(asked, Asked)
    assert asked.extension.new_end == old_end + timedelta(hours=1, minutes=30)
    ext.worker.run_due()

    again = ext.ask(request_id)
    assert isinstance(again, NotAllowed)
    assert "already lasts the most" in again.reason


def test_extensions_within_automatic_up_to_need_no_approver_and_later_ones_do(
    make_ext: Callable[..., Extending],
) -> None:
    ext = make_ext(automatic_up_to="1h")
    world = ext.world
    request_id = world.active_request()

    first = ext.ask(request_id, more="1h")
    assert isinstance(first, Asked)
    assert first.extension.automatic
    assert ext.wakes == [1]
    assert [m for m in world.outbox(channel=BOB.id) if m.ref and "extension" in m.ref] == []
    assert ext.worker.run_due() == 1

    second = ext.ask(request_id, more="30m")
    assert isinstance(second, Asked)
    assert not second.extension.automatic


def test_an_automatic_flow_extends_automatically_by_default(ext: Extending) -> None:
    world = ext.world
    submitted = world.submit(world.objects_form([ORDER_KEYS, CART_KEYS]), duration="30m")
    assert isinstance(submitted, Submitted)
    world.provisioning.run_due()
    assert world.status(submitted.request_id) is Status.ACTIVE

    asked = ext.ask(submitted.request_id, more="30m")
    assert isinstance(asked, Asked)
    assert asked.extension.automatic
    assert ext.worker.run_due() == 1


def test_only_the_requester_may_ask_and_never_approve(ext: Extending) -> None:
    request_id = ext.world.active_request()
    stranger = ext.ask(request_id, by=DAVE, more="1h")
    assert isinstance(stranger, NotAllowed)
    assert "Only the requester" in stranger.reason

    asked = ext.ask(request_id, more="1h")
    assert isinstance(asked, Asked)
    assert isinstance(ext.decide(asked, by=ALICE), NotAllowed)
    outsider = ext.decide(asked, by=DAVE)
    assert isinstance(outsider, NotAllowed)
    assert "not an approver" in outsider.reason
    again = ext.ask(request_id, more="1h")
    assert isinstance(again, NotAllowed)
    assert "already waiting" in again.reason


def test_a_flow_without_extensions_refuses_them(make_world: Callable[..., World]) -> None:
    flow = ONCALL_DB.model_copy(update={"extend": None})
    policy = POLICY.model_copy(
        update={"access_flows": [flow if f.name == flow.name else f for f in POLICY.access_flows]}
    )
    ext = extending(make_world(policy=policy))
    refused = ext.ask(ext.world.active_request(), more="1h")
    assert isinstance(refused, NotAllowed)
    assert "does not allow extensions" in refused.reason


def test_an_integration_that_cannot_move_the_end_keeps_the_old_one(ext: Extending) -> None:
    world = ext.world
    request_id = world.active_request()
    old_end = ext.expires_at(request_id)
    world.integrations[CACHE].fail_extends = 10
    asked = ext.ask(request_id, more="1h")
    assert isinstance(asked, Asked)
    ext.decide(asked)

    assert ext.worker.run_due() == 0

    assert ext.expires_at(request_id) == old_end
    with world.store.read() as uow:
        [extension] = uow.extensions.for_request(request_id)
    assert extension.status is ExtensionStatus.VOID
    assert extension.problem is not None
    assert CACHE in extension.problem
    assert len(world.events(AuditKind.EXTENSION_FAILED)) == 1
    assert any("could not be extended" in t for t in texts(world.outbox(channel=ALICE.id)))
    assert world.request_row(request_id)["lease_owner"] is None


def test_an_extension_approved_after_the_request_ended_is_void(ext: Extending) -> None:
    world = ext.world
    request_id = world.active_request()
    asked = ext.ask(request_id, more="1h")
    assert isinstance(asked, Asked)
    world.clock.advance(timedelta(hours=1, minutes=1))
    world.ending.run_due()
    assert world.status(request_id) is Status.EXPIRED

    ext.decide(asked)
    assert ext.worker.run_due() == 0

    with world.store.read() as uow:
        [extension] = uow.extensions.for_request(request_id)
    assert extension.status is ExtensionStatus.VOID
    assert world.integrations[DB].extend_calls == []


def test_an_extension_cannot_be_asked_for_a_request_that_is_not_active(ext: Extending) -> None:
    request_id = ext.world.pending_request()
    refused = ext.ask(request_id, more="1h")
    assert isinstance(refused, NotAllowed)
    assert "only active access can be extended" in refused.reason


# -- reminders before the end --------------------------------------------------------------------


def reminders_to(world: World, request_id: RequestId) -> list[OutboxMessage]:
    return [
        m
        for m in world.outbox(channel=ALICE.id)
        if m.payload and f"{request_id} ends" in str(m.payload.get("text"))
    ]


def test_the_requester_is_reminded_ten_minutes_before_the_end_once(ext: Extending) -> None:
    world = ext.world
    request_id = world.active_request()  # 1h
    assert ext.reminders.sweep() == 0
    assert world.request_row(request_id)["end_reminder_at"] == ext.expires_at(
        request_id
    ) - timedelta(minutes=10)

    world.clock.advance(timedelta(minutes=49))
    assert ext.reminders.sweep() == 0
    world.clock.advance(timedelta(minutes=1))
    # Two instances sweep at once: one reminder.
    other = EndReminders(store=world.store, catalog=world.catalog, clock=world.clock)
    assert ext.reminders.sweep() + other.sweep() == 1
    assert ext.reminders.sweep() == 0

    [reminder] = reminders_to(world, request_id)
    assert action_ids(reminder) == [ActionId.EXTEND, ActionId.REVOKE]
    assert len(world.events(AuditKind.END_REMINDED)) == 1


def test_an_extension_plans_the_reminder_again_for_the_new_end(ext: Extending) -> None:
    world = ext.world
    request_id = world.active_request()
    ext.reminders.sweep()
    world.clock.advance(timedelta(minutes=50))
    assert ext.reminders.sweep() == 1

    asked = ext.ask(request_id, more="1h")
    assert isinstance(asked, Asked)
    ext.decide(asked)
    ext.worker.run_due()
    ext.reminders.sweep()
    new_end = ext.expires_at(request_id)
    assert world.request_row(request_id)["end_reminder_at"] == new_end - timedelta(minutes=10)

    world.clock.advance(timedelta(hours=1))
    assert ext.reminders.sweep() == 1
    assert len(reminders_to(world, request_id)) == 2


def test_grants_over_a_day_are_also_reminded_a_day_before() -> None:
    flow = ONCALL_DB.model_copy(
        update={"duration": ONCALL_DB.duration.model_copy(update={"max": timedelta(days=3)})}
    )
    start = START
    times = flow.end_reminders(granted_at=start, ends_at=start + timedelta(days=2))
    assert times == [start + timedelta(days=1), start + timedelta(days=2, minutes=-10)]
    assert flow.end_reminders(granted_at=start, ends_at=start + timedelta(hours=2)) == [
        start + timedelta(hours=1, minutes=50)
    ]
    assert (
        SELF_SERVE.model_copy(update={"remind_before_end": None}).end_reminders(
            granted_at=start, ends_at=start + timedelta(days=2)
        )
        == []
    )


def test_a_revoked_request_gets_no_reminder(ext: Extending) -> None:
    world = ext.world
    request_id = world.active_request()
    ext.reminders.sweep()
    world.revocation.revoke(request_id=request_id, flow_claim=None, by=ALICE.id)
    world.clock.advance(timedelta(minutes=50))
    assert ext.reminders.sweep() == 0


# -- the policy ----------------------------------------------------------------------------------


def codes(policy: Policy) -> set[str]:
    return {p.code for p in check_policy(policy=policy, env=None)}


def test_check_refuses_extensions_needing_approval_on_an_automatic_flow() -> None:
    flow = SELF_SERVE.model_copy(update={"extend": ExtendPolicy(approval="required")})
    policy = POLICY.model_copy(
        update={"access_flows": [flow if f.name == flow.name else f for f in POLICY.access_flows]}
    )
    assert "extension-without-approvers" in codes(policy)


def test_check_refuses_a_max_total_below_the_duration_max() -> None:
    assert "extension-total-below-max" in codes(policy_with(max_total="2h"))
    assert "extension-total-below-max" not in codes(policy_with(max_total="8h"))


# -- reports -------------------------------------------------------------------------------------


def test_the_report_can_show_how_often_the_end_moved_and_the_final_end(ext: Extending) -> None:
    world = ext.world
    request_id = world.active_request()
    asked = ext.ask(request_id, more="1h")
    assert isinstance(asked, Asked)
    ext.decide(asked)
    ext.worker.run_due()
    final_end = ext.expires_at(request_id)

    out = io.StringIO()
    world.reports.write_csv(
        spec=parse_filters("columns request_id,integration,extensions,final_end"), out=out
    )

    rows = list(csv.reader(io.StringIO(out.getvalue())))
    assert rows[0] == ["Request ID", "Integration", "Extensions", "Final End"]
    assert rows[1:] == [
        [request_id, name, "1", final_end.strftime("%Y-%m-%dT%H:%M:%SZ")] for name in (CACHE, DB)
    ]


def test_no_reminder_is_sent_once_the_end_has_come(ext: Extending) -> None:
    world = ext.world
    request_id = world.active_request()
    world.clock.advance(timedelta(hours=1))  # first seen by the sweep at the very end

    assert ext.reminders.sweep() == 0
    assert reminders_to(world, request_id) == []
    # Nor is its row planned: the expiry sweep is the only one to write it now.
    assert world.request_row(request_id)["end_reminder_for"] is None


def test_a_reminder_due_only_after_the_end_is_dropped(ext: Extending) -> None:
    world = ext.world
    request_id = world.active_request()
    ext.reminders.sweep()  # planned for ten minutes before the end
    world.clock.advance(timedelta(hours=1, seconds=1))  # the sweep was down until after it

    assert ext.reminders.sweep() == 0
    assert reminders_to(world, request_id) == []
    assert world.request_row(request_id)["end_reminder_at"] is None
