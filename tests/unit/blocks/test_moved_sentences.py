"""Sentences that services under app/ used to compose, now built in blocks/, read as before."""

from __future__ import annotations

from datetime import timedelta

from blocks.admin import (
    Impact,
    bundle_deleted,
    bundle_removed_from_flow,
    bundle_saved,
    durations_offered,
    flow_switched,
)
from blocks.alerts import policy_conflict
from blocks.reasons import duration_over_maximum, not_removed_yet
from blocks.refusals import bundle_changed_since, denied_as_ineligible
from blocks.request_notices import (
    approvers_in_words,
    choose_a_duration,
    integration_scope,
    select_all_refused,
    unavailable_selected,
    unavailable_several,
)
from domain.ids import UserId
from domain.people import Person
from domain.policy import AccessFlow


def _flow(approvers: object) -> AccessFlow:
    return AccessFlow.model_validate(
        {
            "name": "prod-db",
            "grantees": {"groups": ["@eng"]},
            "approvers": approvers,
            "duration": {"default": "1h", "max": "8h"},
        }
    )


def test_the_modal_names_who_approves_a_flow_in_words() -> None:
    assert approvers_in_words(_flow("automatic")) == "nobody (automatic)"
    flow = _flow(
        {
            "users": ["U0000001", "ana@example.com", "zed@example.com"],
            "groups": ["db-owners"],
            "manager": True,
        }
    )
    # Nobody known: IDs are mentioned, an email is all there is to show.
    assert approvers_in_words(flow) == (
        "your manager, <@U0000001>, ana@example.com, zed@example.com, @db-owners"
    )
    # The directory knows Ana and U0000001: mentioned in mrkdwn, by name in plain_text (where
    # mentions do not render), like the confirmation names them; Zed is unknown.
    people = {
        "U0000001": Person(id=UserId("U0000001"), name="Bob Stone"),
        "ana@example.com": Person(id=UserId("U0000ANA"), name="Ana Lima", email="ana@example.com"),
    }
    assert approvers_in_words(flow, people=people) == (
        "your manager, <@U0000001>, <@U0000ANA>, zed@example.com, @db-owners"
    )
    assert approvers_in_words(flow, people=people, plain=True) == (
        "your manager, Bob Stone, Ana Lima, zed@example.com, @db-owners"
    )
    assert approvers_in_words(_flow({"users": []})) == "nobody"


def test_the_modal_says_why_select_all_and_a_submission_are_refused() -> None:
    scope = integration_scope(integration="prod-pg", count=1_500)
    assert select_all_refused(scope=scope, limit=1_000) == (
        "Select all refused: prod-pg has 1,500 objects in this bundle, and one request can hold "
        "at most 1,000. Select all of a single integration that fits, or add objects one by one "
        "with the search."
    )
    assert unavailable_selected(integration="prod-pg", why="login refused", selected=1_200) == (
        "prod-pg is unavailable until its admin login passes the check: login refused. "
        "Remove its 1,200 selected objects, or submit again once it is fixed."
    )
    assert unavailable_several({"a": "x", "b": "y"}) == (
        "These integrations are unavailable until their admin logins pass the check: a (x), "
        "b (y). Remove their objects, or submit again once they are fixed."
    )
    assert choose_a_duration([timedelta(hours=1), timedelta(hours=4)]) == "Choose one of: 1h, 4h."


def test_an_approver_is_told_why_an_approval_was_refused() -> None:
    reason = duration_over_maximum(
        duration=timedelta(hours=8), maximum=timedelta(hours=4), flow="prod-db"
    )
    assert denied_as_ineligible(request_id="AR-7K3Q9M", reason=reason) == (
        "AR-7K3Q9M cannot be approved: 8h is longer than the 4h the access flow prod-db now "
        "allows. It was denied, and the requester was told why."
    )
    assert bundle_changed_since(request_id="AR-7K3Q9M", gone=1_234, sample="a/b/read_only") == (
        "The bundle changed after AR-7K3Q9M was made: 1,234 of its objects are no longer in it "
        "(a/b/read_only). Deny it, and the requester can request the current bundle again."
    )
    assert (
        not_removed_yet("prod-pg: timeout") == "access could not be removed yet: prod-pg: timeout"
    )


def test_the_audit_channel_is_told_what_an_admin_changed() -> None:
    impact = Impact(flows=("oncall",), inactive_flows=(), pending=2, active=0)
    assert bundle_saved(
        name="sales",
        new=False,
        was_file=True,
        written=3,
        objects=40,
        added=2,
        removed=1,
        impact=impact,
    ) == (
        "changed bundle *sales* (defined in the policy file; Slack's version is now kept): "
        "3 objects as written, 40 once patterns are expanded (+2 −1). Flows offering it now: "
        "*oncall*. 2 pending requests made on the old content are checked again at decision "
        "time."
    )
    one = Impact(flows=(), inactive_flows=(), pending=1, active=0)
    assert bundle_saved(
        name="sales", new=True, was_file=False, written=1, objects=1, added=1, removed=0, impact=one
    ) == (
        "created bundle *sales*: 1 object. No flow offers it yet. 1 pending request made on the "
        "old content is checked again at decision time."
    )
    assert bundle_deleted(
        name="sales", was_file=False, flows=("a",), deactivated=(), pending=1
    ) == (
        "deleted bundle *sales*; removed from *a*; 1 pending request of it can no longer be "
        "approved."
    )
    assert bundle_deleted(
        name="sales", was_file=False, flows=("a",), deactivated=(), pending=3
    ) == (
        "deleted bundle *sales*; removed from *a*; 3 pending requests of it can no longer be "
        "approved."
    )
    assert bundle_deleted(name="sales", was_file=False, flows=(), deactivated=(), pending=0) == (
        "deleted bundle *sales*; no flow held it."
    )
    assert bundle_removed_from_flow(flow="oncall", bundle="sales", deactivated=True) == (
        "removed bundle *sales* from access flow *oncall*; *oncall* offers nothing else now, "
        "so it was deactivated."
    )
    assert flow_switched(flow="oncall", active=False) == "deactivated access flow *oncall*."
    assert policy_conflict(kind="bundle", name="sales").startswith(
        "bundle sales: changed both in the policy file and in Slack; the Slack version was kept."
    )


def test_a_flow_line_says_its_durations() -> None:
    hour = timedelta(hours=1)
    assert durations_offered(maximum=8 * hour, offered=[8 * hour], default=8 * hour) == "8h max"
    assert durations_offered(maximum=8 * hour, offered=[hour, 8 * hour], default=hour) == (
        "1h, 8h (default 1h)"
    )
