"""Break-glass (README, "Break-glass"): access at once without an approver, the alarm to the
audit channel, each approver and each admin, *Acknowledge*, and the daily cap; the services
wired as app/bootstrap.py wires them, on the feature world."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest

from app.breakglass.acknowledge import AcknowledgeService
from app.breakglass.alarm import BreakGlassAlarms, alarm_ref
from app.core.notifier import POST, UPDATE
from app.core.outcomes import AlreadyDecided, Done, NotAllowed
from app.requesting.modal import FormInput
from app.requesting.submission import Field, Refused, SubmissionService, Submitted
from blocks.break_glass import ALARM_HEADER
from domain.audit import AuditKind
from domain.break_glass import MAX_REASON, Trigger, clamp_duration, day_of
from domain.ids import RequestId
from domain.lifecycle import Status
from domain.people import Person
from domain.policy import Approvers, BreakGlass, Owners, Policy
from domain.report_filters import parse_filters
from domain.reports import TRIGGER_BREAK_GLASS
from store.unit_of_work import Store
from tests.unit.features.world import (
    ALICE,
    AUDIT_CHANNEL,
    BOB,
    CAROL,
    DAVE,
    DB,
    ERIN,
    ONCALL_DB,
    POLICY,
    START,
    World,
)

ONCALL_GLASS = ONCALL_DB.model_copy(
    update={"break_glass": BreakGlass(max_duration=timedelta(hours=1), daily_limit=2)}
)
GLASS_POLICY = POLICY.model_copy(
    update={
        "access_flows": [
            ONCALL_GLASS if f.name == ONCALL_DB.name else f for f in POLICY.access_flows
        ]
    }
)


class GlassWorld(World):
    """The feature world, with the break-glass alarm handed to the submission as the wiring
    point hands it over, and the acknowledging service."""

    def build(self) -> None:
        super().build()
        self.alarms = BreakGlassAlarms(audit_channel=AUDIT_CHANNEL, admins=self.admins.user_ids)
        self.submission = SubmissionService(
            store=self.store,
            catalog=self.catalog,
            eligibility=self.eligibility,
            approvers=self.approvers,
            directory=self.directory,
            notifier=self.notifier,
            transitions=self.transitions,
            unavailable=self.modal.unavailable,
            on_approved=self.provision_wakes,
            clock=self.clock,
            alarm=self.alarms,
        )
        self.acknowledging = AcknowledgeService(
            store=self.store,
            catalog=self.catalog,
            approvers=self.approvers,
            directory=self.directory,
            admins=self.admins,
            alarms=self.alarms,
            clock=self.clock,
        )

    def break_glass(
        self, *, reason: str | None = "INC-9 db down", duration: str | None = "4h"
    ) -> Submitted | Refused:
        return self.submission.submit(
            draft_key=self.bundle_form(),
            user=ALICE.id,
            form=FormInput(duration=duration, justification=reason, break_glass=True),
        )


@pytest.fixture
def glass(feature_store: Store) -> GlassWorld:
    return GlassWorld(store=feature_store, policy=GLASS_POLICY)


def used(glass: GlassWorld) -> RequestId:
    submitted = glass.break_glass()
    assert isinstance(submitted, Submitted), submitted
    return submitted.request_id


def alarms(glass: GlassWorld, request_id: RequestId) -> list[tuple[str, str]]:
    """(channel, kind) of every alarm copy queued, oldest first."""
    return [
        (m.channel, m.kind)
        for m in glass.outbox()
        if m.ref is not None and m.ref.startswith(f"break_glass:{request_id}:")
    ]


# -- from reason to access ----------------------------------------------------------------------


def test_break_glass_is_approved_at_once_without_asking_an_approver(glass: GlassWorld) -> None:
    submitted = glass.break_glass()

    assert isinstance(submitted, Submitted)
    assert submitted.status is Status.APPROVED
    assert submitted.approvers == ()
    assert submitted.break_glass == timedelta(hours=1)  # 4h asked, the break-glass ceiling is 1h
    assert glass.provision_wakes.count == 1
    row = glass.request_row(submitted.request_id)
    assert row["trigger"] == "break_glass"
    assert row["timeout_at"] is None
    assert row["next_reminder_at"] is None
    with glass.store.read() as uow:
        assert uow.requests.approvers(submitted.request_id) == []
    glass.provisioning.run_due()
    assert glass.status(submitted.request_id) is Status.ACTIVE
    assert glass.request_row(submitted.request_id)["expires_at"] == START + timedelta(hours=1)


def test_the_audit_channel_each_approver_and_each_admin_get_exactly_one_alarm(
    glass: GlassWorld,
) -> None:
    request_id = used(glass)

    told = alarms(glass, request_id)
    assert sorted(told) == sorted(
        [(AUDIT_CHANNEL, POST), (BOB.id, POST), (CAROL.id, POST), (ERIN.id, POST)]
    )
    [message] = [m for m in glass.outbox(channel=BOB.id) if m.ref == alarm_ref(request_id, BOB.id)]
    assert message.payload is not None
    assert ALARM_HEADER in str(message.payload)
    # Approvers get the alarm, not an approval request with Approve and Deny.
    assert "request.approve" not in str(glass.outbox(channel=BOB.id))
    [event] = glass.events(AuditKind.BREAK_GLASS_USED)
    assert event.actor == ALICE.id
    assert event.request_id == request_id
    assert sorted(event.data["told"]) == sorted([AUDIT_CHANNEL, BOB.id, CAROL.id, ERIN.id])
    assert event.data["duration"] == "1h"
    assert event.data["reason"] == "INC-9 db down"
    [submitted] = glass.events(AuditKind.REQUEST_SUBMITTED)
    assert submitted.data["trigger"] == "break_glass"


def test_the_requester_is_never_alarmed_about_their_own_break_glass(feature_store: Store) -> None:
    # Alice is an admin here as well as the requester.
    glass = GlassWorld(
        store=feature_store, policy=GLASS_POLICY.model_copy(update={"admins": [ERIN.id, ALICE.id]})
    )
    request_id = used(glass)

    assert ALICE.id not in {channel for channel, _ in alarms(glass, request_id)}


@pytest.mark.parametrize(
    ("reason", "error"),
    [(None, "needs a reason"), ("   ", "needs a reason"), ("x" * (MAX_REASON + 1), "under")],
)
def test_break_glass_without_a_usable_reason_is_refused_and_audited(
    glass: GlassWorld, reason: str | None, error: str
) -> None:
    refused = glass.break_glass(reason=reason)

    assert isinstance(refused, Refused)
    assert error in refused.errors[Field.JUSTIFICATION]
    assert glass.request_count() == 0
    [event] = glass.events(AuditKind.BREAK_GLASS_REFUSED)
    assert event.actor == ALICE.id


def test_a_flow_without_break_glass_refuses_it(world: World) -> None:
    submitted = world.submission.submit(
        draft_key=world.bundle_form(),
        user=ALICE.id,
        form=FormInput(duration="1h", justification="INC-1", break_glass=True),
    )

    assert isinstance(submitted, Refused)
    assert "does not allow break-glass" in submitted.errors[Field.BREAK_GLASS]
    assert world.request_count() == 0


def test_break_glass_is_refused_when_no_alarm_is_wired(feature_store: Store) -> None:
    # A break-glass nobody hears about would be silent access.
    world = World(store=feature_store, policy=GLASS_POLICY)
    submitted = world.submission.submit(
        draft_key=world.bundle_form(),
        user=ALICE.id,
        form=FormInput(duration="1h", justification="INC-1", break_glass=True),
    )

    assert isinstance(submitted, Refused)
    assert world.request_count() == 0


# -- the daily cap ------------------------------------------------------------------------------


def test_over_the_daily_limit_break_glass_is_refused_and_the_cap_resets_at_midnight_utc(
    glass: GlassWorld,
) -> None:
    used(glass)
    used(glass)
    glass.clock.set(day_of(START)[1] - timedelta(seconds=1))

    refused = glass.break_glass()

    assert isinstance(refused, Refused)
    assert "daily limit" in refused.errors[Field.BREAK_GLASS]
    [event] = glass.events(AuditKind.BREAK_GLASS_REFUSED)
    assert event.data["used_today"] == 2
    assert event.data["daily_limit"] == 2
    assert glass.request_count() == 2

    glass.clock.set(day_of(START)[1])
    assert isinstance(glass.break_glass(), Submitted)


def test_normal_requests_do_not_count_against_the_daily_limit(glass: GlassWorld) -> None:
    for _ in range(3):
        glass.pending_request()

    assert isinstance(glass.break_glass(), Submitted)


# -- acknowledging --------------------------------------------------------------------------------


def test_an_approver_acknowledges_once_and_every_copy_is_updated(glass: GlassWorld) -> None:
    request_id = used(glass)
    glass.clock.advance(timedelta(minutes=3))

    outcome = glass.acknowledging.acknowledge(
        request_id=request_id, flow_claim="oncall-db", by=CAROL.id
    )

    assert isinstance(outcome, Done)
    assert outcome.summary.acknowledged_by == CAROL.id
    assert outcome.summary.acknowledged_at == START + timedelta(minutes=3)
    updates = [c for c, kind in alarms(glass, request_id) if kind == UPDATE]
    assert sorted(updates) == sorted([AUDIT_CHANNEL, BOB.id, CAROL.id, ERIN.id])
    last = [m for m in glass.outbox(channel=BOB.id) if m.kind == UPDATE][-1]
    assert "Acknowledged" in str(last.payload)
    assert "break_glass.acknowledge" not in str(last.payload)
    [event] = glass.events(AuditKind.BREAK_GLASS_ACKNOWLEDGED)
    assert event.actor == CAROL.id
    assert event.request_id == request_id

    again = glass.acknowledging.acknowledge(request_id=request_id, flow_claim=None, by=ERIN.id)
    assert isinstance(again, AlreadyDecided)
    assert again.summary.acknowledged_by == CAROL.id
    assert len(glass.events(AuditKind.BREAK_GLASS_ACKNOWLEDGED)) == 1


@pytest.mark.parametrize(("who", "claim"), [(DAVE, None), (ALICE, None), (BOB, "self-serve")])
def test_acknowledging_is_refused_to_others_the_requester_and_a_foreign_button(
    glass: GlassWorld, who: Person, claim: str | None
) -> None:
    request_id = used(glass)

    outcome = glass.acknowledging.acknowledge(request_id=request_id, flow_claim=claim, by=who.id)

    assert isinstance(outcome, NotAllowed)
    assert glass.request_row(request_id)["acknowledged_by"] is None
    assert len(glass.events(AuditKind.BREAK_GLASS_REFUSED)) == 1


def test_an_approver_only_as_owner_of_the_integration_may_acknowledge(
    feature_store: Store,
) -> None:
    owned = [
        i.model_copy(update={"owners": Owners(users=[DAVE.id])}) if i.name == DB else i
        for i in GLASS_POLICY.integrations
    ]
    flow = ONCALL_GLASS.model_copy(update={"approvers": [Approvers(owners=True)]})
    policy = GLASS_POLICY.model_copy(
        update={
            "integrations": owned,
            "access_flows": [flow if f.name == flow.name else f for f in POLICY.access_flows],
        }
    )
    glass = GlassWorld(store=feature_store, policy=policy)
    request_id = used(glass)
    assert DAVE.id in {c for c, _ in alarms(glass, request_id)}

    outcome = glass.acknowledging.acknowledge(request_id=request_id, flow_claim=None, by=DAVE.id)

    assert isinstance(outcome, Done)
    assert outcome.summary.acknowledged_by == DAVE.id


def test_a_normal_request_cannot_be_acknowledged(glass: GlassWorld) -> None:
    request_id = glass.pending_request()

    outcome = glass.acknowledging.acknowledge(request_id=request_id, flow_claim=None, by=BOB.id)

    assert isinstance(outcome, NotAllowed)
    assert "not a break-glass request" in outcome.reason


# -- Home, details and reports say so -------------------------------------------------------------


def test_home_rows_details_and_reports_mark_the_request_as_break_glass(glass: GlassWorld) -> None:
    request_id = used(glass)
    normal = glass.pending_request()

    with glass.store.read() as uow:
        page = uow.requests.page(number=0, size=10, requester=ALICE.id)
        summary = uow.requests.summary(request_id)
    triggers = {row.id: row.trigger for row in page.rows}
    assert triggers == {request_id: Trigger.BREAK_GLASS, normal: Trigger.NORMAL}
    assert summary is not None
    assert summary.break_glass

    out = io.StringIO(newline="")
    glass.reports.write_csv(spec=parse_filters(""), out=out)
    rows = {r["Request ID"]: r["Trigger"] for r in csv.DictReader(io.StringIO(out.getvalue()))}
    assert rows[request_id] == TRIGGER_BREAK_GLASS
    assert rows[normal] == "manual request"


# -- pure rules -----------------------------------------------------------------------------------


def test_break_glass_lasts_at_most_its_ceiling_and_days_are_utc_days() -> None:
    hour = timedelta(hours=1)
    assert clamp_duration(requested=2 * hour, ceiling=hour) == hour
    assert clamp_duration(requested=hour / 2, ceiling=hour) == hour / 2
    start, end = day_of(START)
    assert start.hour == 0
    assert end - start == timedelta(days=1)
    assert start <= START < end


def test_the_policy_refuses_a_daily_limit_below_one() -> None:
    with pytest.raises(ValueError, match="greater than or equal to 1"):
        BreakGlass.model_validate({"max_duration": "1h", "daily_limit": 0})
    assert Policy.model_validate(GLASS_POLICY.model_dump(mode="json")) == GLASS_POLICY
