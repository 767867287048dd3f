"""The sentences the listeners used to compose, now built in blocks/, read as before."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from blocks.admin.notices import pattern_matches, pattern_suggestion
from blocks.break_glass import break_glass_alarm, break_glass_input
from blocks.decisions import (
    REVOKE_USAGE,
    already_decided,
    approved,
    canceled,
    nothing_to_revoke,
    object_list_modal,
    revoking,
)
from blocks.extension import (
    extension_approval_message,
    extension_decided,
    extension_refused_message,
    not_active,
    revoke_now_button,
)
from blocks.favorites import favorite_saved_modal
from blocks.help import HELP, report_preparing, unknown_command
from blocks.home import HomeModel, HomeState, details_modal, home_view, row_canceled
from blocks.messages import (
    STATUS_SENTENCES,
    approval_message,
    asked_because,
    credentials_message,
    reminder_message,
    status_message,
    what,
)
from blocks.reasons import (
    delivery_gave_up,
    group_approver,
    listed_approver,
    manager_of,
    on_call_approver,
    owner_of,
    request_ended,
)
from blocks.request_modal import (
    BundleChoice,
    BundleDetail,
    FlowChoice,
    RequestModal,
    Selection,
    request_modal,
    request_submitted,
)
from blocks.request_notices import (
    bundle_edited_meanwhile,
    integration_scope,
    left_the_bundle,
    objects_no_longer_offered,
    outside_bundle,
    too_many,
    too_many_selected,
    unavailable_selected,
    whole_bundle_scope,
)
from blocks.simple import refused
from blocks.text import date_token
from domain.catalog import IntegrationShare
from domain.drafts import Mode
from domain.durations import format_duration
from domain.ids import RequestId, UserId
from domain.lifecycle import Status, StatusChange
from domain.objects import AccessObject
from domain.report_filters import format_filters, parse_filters
from domain.summary import Headline, IntegrationPart, Page, RequestSummary
from slacksim import texts_of
from slacksim.limits import check_message, check_view


def _text(view: dict[str, object]) -> str:
    blocks = view["blocks"]
    assert isinstance(blocks, list)
    text: str = blocks[0]["text"]["text"]
    return text


def test_the_submitted_modal_says_what_was_asked_and_what_happens_next() -> None:
    pending = request_submitted(
        request_id="AR-7K3Q9M",
        object_count=1_200,
        bundle="prod-incident",
        status=Status.PENDING,
        approvers=[f"U{i:07d}" for i in range(12)],
    )
    lines = _text(pending).splitlines()
    assert lines[0] == "✅ Request *AR-7K3Q9M* submitted."
    assert lines[1] == "1,200 objects of bundle *prod-incident*"
    assert lines[2].startswith("Waiting for approval by <@U0000000>, ")
    assert lines[2].count("<@") == 10
    assert lines[2].endswith("<@U0000009> and 2 others. You'll get a DM at each step.")
    one = request_submitted(
        request_id="AR-7K3Q9M", object_count=1, bundle=None, status=Status.PENDING,
        approvers=["U0000001"],
    )  # fmt: skip
    assert _text(one).splitlines()[1:] == [
        "1 object",
        "Waiting for approval by <@U0000001>. You'll get a DM at each step.",
    ]

    automatic = request_submitted(
        request_id="AR-7K3Q9M", object_count=3, bundle=None, status=Status.APPROVED, approvers=()
    )
    assert _text(automatic).splitlines()[1:] == [
        "3 objects",
        "Approved automatically; your access details arrive in a DM shortly.",
    ]
    failed = request_submitted(
        request_id="AR-7K3Q9M", object_count=3, bundle=None, status=Status.FAILED, approvers=()
    )
    assert _text(failed).splitlines()[2] == (
        "It could not be sent for approval: nobody but you could approve it."
    )


def test_the_short_answers() -> None:
    assert refused("Only admins can do that.") == "⛔ Only admins can do that."
    assert approved("AR-7K3Q9M") == "✅ You approved AR-7K3Q9M."
    assert canceled("AR-7K3Q9M") == "↩️ You canceled AR-7K3Q9M."
    assert row_canceled("AR-7K3Q9M") == "↩️ AR-7K3Q9M canceled."
    assert revoking("AR-7K3Q9M") == (
        "🔒 Revoking AR-7K3Q9M: its access is being removed now; the requester gets a DM when "
        "it's gone."
    )
    assert REVOKE_USAGE.startswith("Usage: `/apono revoke AR-XXXXXX`")
    assert unknown_command("x" * 40) == f"I don't know `{'x' * 30}`.\n\n{HELP}"
    assert report_preparing(None) == (
        "📄 Preparing your report; I'll send it to you in a DM as a CSV file."
    )
    assert report_preparing("last 7d") == (
        "📄 Preparing your report (`last 7d`); I'll send it to you in a DM as a CSV file."
    )


# -- every text with a count, for one and for many (issue 16, "Words people read") -------------

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
WHEN = date_token(T0)
LATER = T0 + timedelta(minutes=1)


def a_summary(
    status: Status = Status.PENDING,
    *,
    count: int = 1,
    integrations: int = 1,
    bundle: str | None = None,
    decided_by: str | None = None,
) -> RequestSummary:
    shares = [count // integrations] * integrations
    shares[0] += count - sum(shares)
    parts = tuple(
        IntegrationPart(f"db-{i}", (f"t{i}",), ("read_only",), share)
        for i, share in enumerate(shares)
    )
    decided = status not in (Status.PENDING, Status.CANCELED, Status.TIMED_OUT)
    return RequestSummary(
        id=RequestId("AR-7K3Q9M"),
        requester=UserId("U0ALICE"),
        requester_name="Alice Doe",
        requester_email="alice@example.com",
        flow="prod-db",
        bundle=bundle,
        status=status,
        duration=timedelta(hours=1),
        justification="INC-1",
        created_at=T0,
        parts=parts,
        expires_at=T0 + timedelta(hours=1),
        decided_by=UserId(decided_by) if decided_by else None,
        decided_at=T0 if decided else None,
    )


def texts(payload: dict[str, Any]) -> str:
    return str(payload["text"]) + " " + " ".join(texts_of(payload["blocks"]))


def button_texts(payload: dict[str, Any]) -> list[str]:
    return [
        e["text"]["text"]
        for b in payload["blocks"]
        if b["type"] == "actions" or "accessory" in b
        for e in (b.get("elements") or [b.get("accessory")])
        if e and e.get("type") == "button"
    ]


def fits(payload: dict[str, Any]) -> None:
    if payload.get("type") in ("modal", "home"):
        assert check_view(payload) == []
    else:
        assert check_message(text=payload["text"], blocks=payload["blocks"]) == []


def test_what_a_request_holds_is_counted_for_one_and_for_many() -> None:
    assert what(a_summary(count=1)) == "1 object"
    assert what(a_summary(count=1_200)) == "1,200 objects"
    assert what(a_summary(count=1, bundle="oncall")) == "bundle *oncall* (1 object)"
    assert what(a_summary(count=12, bundle="oncall")) == "bundle *oncall* (12 objects)"


def test_an_approver_is_told_why_in_one_natural_sentence() -> None:
    assert asked_because([listed_approver("prod-db")]) == (
        "You're asked because you're listed as an approver of flow prod-db."
    )
    assert asked_because([manager_of("Alice Doe")]) == (
        "You're asked because you're Alice Doe's manager."
    )
    assert asked_because([group_approver(group="@db-owners", flow="prod-db")]) == (
        "You're asked because you're in @db-owners, the approvers of flow prod-db."
    )
    assert asked_because(
        [listed_approver("prod-db"), manager_of("Alice Doe"), group_approver(group="@x", flow="f")]
    ) == (
        "You're asked because you're listed as an approver of flow prod-db, you're Alice Doe's "
        "manager and you're in @x, the approvers of flow f."
    )


def test_the_approval_message_counts_one_object_and_many() -> None:
    one = approval_message(summary=a_summary(count=1), reasons=[manager_of("Alice Doe")])
    assert one["text"] == "Alice Doe requests 1 object (AR-7K3Q9M)"
    assert "<@U0ALICE> asks for 1 object." in texts(one)
    assert "You're asked because you're Alice Doe's manager." in texts(one)
    assert button_texts(one) == ["Approve", "Deny", "Approve with comment", "Show the object"]
    assert "db-0* · 1 object · read_only" in texts(one)
    fits(one)
    many = approval_message(summary=a_summary(count=1_200, integrations=3), reasons=[])
    assert many["text"] == "Alice Doe requests 1,200 objects (AR-7K3Q9M)"
    assert button_texts(many) == [
        "Approve all",
        "Deny all",
        "Approve with comment",
        "Show all 1,200 objects",
    ]
    assert "db-0* · 400 objects · read_only" in texts(many)
    fits(many)
    decided = approval_message(summary=a_summary(Status.APPROVED, decided_by="U0BOB"), reasons=[])
    assert f"*👍 Approved* by <@U0BOB> {WHEN}" in texts(decided)
    assert button_texts(decided) == ["Show the object"]


@pytest.mark.parametrize(
    ("status", "actor", "requester_reads", "audit_reads"),
    [
        (
            Status.PENDING,
            "U0ALICE",
            f"⏳ Your request *AR-7K3Q9M* for WHAT was submitted {WHEN} and is waiting for "
            "approval.",
            f"⏳ <@U0ALICE>'s request *AR-7K3Q9M* for WHAT was submitted {WHEN} and is "
            "waiting for approval.",
        ),
        (
            Status.APPROVED,
            "U0BOB",
            f"👍 Your request *AR-7K3Q9M* for WHAT was approved by <@U0BOB> {WHEN}.",
            f"👍 <@U0ALICE>'s request *AR-7K3Q9M* for WHAT was approved by <@U0BOB> {WHEN}.",
        ),
        (
            Status.GRANTING,
            None,
            f"🔧 Your request *AR-7K3Q9M* for WHAT was approved by <@U0BOB> {WHEN}; access "
            "is being granted.",
            f"🔧 <@U0ALICE>'s request *AR-7K3Q9M* for WHAT was approved by <@U0BOB> {WHEN}; "
            "access is being granted.",
        ),
        (
            Status.ACTIVE,
            None,
            f"🟢 Your request *AR-7K3Q9M* for WHAT is active: access was granted {WHEN}.",
            f"🟢 <@U0ALICE>'s request *AR-7K3Q9M* for WHAT is active: access was granted {WHEN}.",
        ),
        (
            Status.EXPIRED,
            None,
            f"⌛ Your request *AR-7K3Q9M* for WHAT expired {WHEN}; access was removed.",
            f"⌛ <@U0ALICE>'s request *AR-7K3Q9M* for WHAT expired {WHEN}; access was removed.",
        ),
        (
            Status.REVOKED,
            "U0ALICE",
            f"🔒 Your request *AR-7K3Q9M* for WHAT was revoked by you {WHEN}; access was removed.",
            f"🔒 <@U0ALICE>'s request *AR-7K3Q9M* for WHAT was revoked by <@U0ALICE> {WHEN}; "
            "access was removed.",
        ),
        (
            Status.DENIED,
            "U0BOB",
            f"⛔ Your request *AR-7K3Q9M* for WHAT was denied by <@U0BOB> {WHEN}.",
            f"⛔ <@U0ALICE>'s request *AR-7K3Q9M* for WHAT was denied by <@U0BOB> {WHEN}.",
        ),
        (
            Status.CANCELED,
            "U0ALICE",
            f"↩️ Your request *AR-7K3Q9M* for WHAT was canceled by you {WHEN}.",
            f"↩️ <@U0ALICE>'s request *AR-7K3Q9M* for WHAT was canceled by <@U0ALICE> {WHEN}.",
        ),
        (
            Status.TIMED_OUT,
            None,
            f"⏰ Your request *AR-7K3Q9M* for WHAT timed out {WHEN} without a decision.",
            f"⏰ <@U0ALICE>'s request *AR-7K3Q9M* for WHAT timed out {WHEN} without a decision.",
        ),
        (
            Status.FAILED,
            None,
            f"❌ Your request *AR-7K3Q9M* for WHAT failed {WHEN}.",
            f"❌ <@U0ALICE>'s request *AR-7K3Q9M* for WHAT failed {WHEN}.",
        ),
    ],
    ids=lambda v: v.value if isinstance(v, Status) else None,
)
def test_each_status_message_says_what_happened_who_did_it_and_when(
    status: Status, actor: str | None, requester_reads: str, audit_reads: str
) -> None:
    for count, said in ((1, "1 object"), (1_200, "1,200 objects")):
        summary = a_summary(status, count=count, decided_by="U0BOB")
        for_requester = status_message(
            summary=summary, actor=actor, at=T0, reason=None, for_requester=True
        )
        for_audit = status_message(
            summary=summary, actor=actor, at=T0, reason=None, for_requester=False
        )
        assert for_requester["blocks"][0]["text"]["text"] == requester_reads.replace("WHAT", said)
        assert for_audit["blocks"][0]["text"]["text"] == audit_reads.replace("WHAT", said)
        assert for_requester["text"] == f"AR-7K3Q9M {STATUS_SENTENCES[status]}"
        fits(for_requester)
        fits(for_audit)


def test_a_status_message_says_the_duration_and_the_revoke_confirmation_counts() -> None:
    pending = status_message(
        summary=a_summary(), actor="U0ALICE", at=T0, reason=None, for_requester=True
    )
    assert "Access flow *prod-db* · for 1h" in texts(pending)
    for count, said in ((1, "The object of AR-7K3Q9M"), (30, "All 30 objects of AR-7K3Q9M")):
        active = status_message(
            summary=a_summary(Status.ACTIVE, count=count),
            actor=None,
            at=T0,
            reason=None,
            for_requester=True,
        )
        [revoke] = [
            e for b in active["blocks"] if b["type"] == "actions" for e in b["elements"]
            if e["action_id"] == "request.revoke"
        ]  # fmt: skip
        assert revoke["confirm"]["text"]["text"] == f"{said} will be removed now."


def test_the_reminder_and_the_credentials_read_as_sentences() -> None:
    reminder = reminder_message(summary=a_summary(count=1), waiting_since=T0)
    assert reminder["text"] == "Reminder: AR-7K3Q9M is waiting for your decision"
    assert texts(reminder).endswith(
        f"⏰ Reminder: <@U0ALICE>'s request *AR-7K3Q9M* for 1 object has been waiting for your "
        f"decision since {WHEN}. The buttons are on the original message above."
    )
    many = reminder_message(summary=a_summary(count=2), waiting_since=T0)
    assert "for 2 objects has been waiting" in texts(many)
    creds = credentials_message(
        summary=a_summary(), integration="db-0", fields={"user": "jit_x"}, valid_until=None
    )
    assert creds["blocks"][-1]["elements"][0]["text"] == (
        "Keep them to yourself; they stop working when access ends."
    )


def test_a_second_decision_is_told_who_decided_what_and_where_the_request_stands() -> None:
    approved_ = a_summary(Status.APPROVED, decided_by="U0BOB")
    assert already_decided(approved_) == (
        f"AR-7K3Q9M was already approved by <@U0BOB> {WHEN}. Nothing changed."
    )
    active = a_summary(Status.ACTIVE, decided_by="U0BOB")
    assert already_decided(active) == (
        f"AR-7K3Q9M was already approved by <@U0BOB> {WHEN} and is active now. Nothing changed."
    )
    expired = a_summary(Status.EXPIRED, decided_by="U0BOB")
    assert already_decided(expired) == (
        f"AR-7K3Q9M was already approved by <@U0BOB> {WHEN} and has expired now. Nothing changed."
    )
    denied = a_summary(Status.DENIED, decided_by="U0BOB")
    assert already_decided(denied) == (
        f"AR-7K3Q9M was already denied by <@U0BOB> {WHEN}. Nothing changed."
    )
    automatic = a_summary(Status.GRANTING)
    assert already_decided(automatic) == (
        f"AR-7K3Q9M was already approved automatically {WHEN} and is being granted now. "
        "Nothing changed."
    )
    assert already_decided(a_summary(Status.CANCELED)) == (
        "AR-7K3Q9M was canceled already. Nothing changed."
    )
    assert already_decided(a_summary(Status.TIMED_OUT)) == (
        "AR-7K3Q9M timed out without a decision already. Nothing changed."
    )
    assert nothing_to_revoke(a_summary(Status.EXPIRED)) == (
        "AR-7K3Q9M has expired; there is nothing to revoke."
    )
    assert nothing_to_revoke(a_summary(Status.PENDING)) == (
        "AR-7K3Q9M is still waiting for approval; there is nothing to revoke."
    )


def test_the_object_list_counts_objects_and_integrations_for_one_and_for_many() -> None:
    one = object_list_modal(
        summary=a_summary(count=1), objects=[AccessObject("db-0", "t0", "read_only")],
        page=0, pages=1,
    )  # fmt: skip
    assert "Page 1 of 1 · 1 object in 1 integration" in texts_of(one["blocks"])
    fits(one)
    many = object_list_modal(
        summary=a_summary(count=90, integrations=2),
        objects=[AccessObject("db-0", f"t{i}", "read_only") for i in range(40)],
        page=0,
        pages=3,
    )
    assert "Page 1 of 3 · 90 objects in 2 integrations" in texts_of(many["blocks"])
    fits(many)


def test_the_modal_notices_count_one_object_and_many() -> None:
    assert unavailable_selected(integration="pg", why="x", selected=1) == (
        "pg is unavailable until its admin login passes the check: x. Remove its selected "
        "object, or submit again once it is fixed."
    )
    assert left_the_bundle(missing=1, request_id="AR-7K3Q9M", bundle="b") == (
        "1 object of AR-7K3Q9M is no longer in b; the rest is selected."
    )
    assert left_the_bundle(missing=4, request_id="AR-7K3Q9M", bundle="b") == (
        "4 objects of AR-7K3Q9M are no longer in b; the rest is selected."
    )
    assert objects_no_longer_offered(1) == "1 object is no longer offered to you."
    assert objects_no_longer_offered(2) == "2 objects are no longer offered to you."
    assert whole_bundle_scope(1) == "This bundle has 1 object you can select now"
    assert whole_bundle_scope(1_001) == "This bundle has 1,001 objects you can select now"
    assert integration_scope(integration="pg", count=1) == "pg has 1 object in this bundle"
    assert too_many_selected(count=1_001, limit=1_000) == (
        "1,001 objects selected; one request can hold at most 1,000."
    )
    assert too_many_selected(count=1, limit=0) == (
        "1 object selected; one request can hold at most 0."
    )
    assert too_many(count=2, limit=1) == (
        "That would make 2 objects; one request can hold at most 1. Select all of a single "
        "integration, or add objects one by one with the search."
    )
    assert bundle_edited_meanwhile(1) == (
        "This bundle was edited while you were choosing (it now has 1 object). Pick it again "
        "to see what it holds now."
    )
    assert bundle_edited_meanwhile(7) == (
        "This bundle was edited while you were choosing (it now has 7 objects). Pick it again "
        "to see what it holds now."
    )
    assert outside_bundle(count=1, bundle="b", example="x") == (
        "1 selected object is not part of b: x."
    )
    assert outside_bundle(count=3, bundle="b", example="x") == (
        "3 selected objects are not part of b, e.g. x."
    )


def _bundle_modal(
    *, shares: dict[str, int], selected: dict[str, int] | None = None, limit: int = 1_000
) -> dict[str, Any]:
    picked = selected or {}
    return request_modal(
        RequestModal(
            draft_key="d" * 16,
            mode=Mode.BUNDLE,
            limit=limit,
            bundles=(BundleChoice("big", ""),),
            bundle=BundleDetail(
                name="big",
                description="",
                total=sum(shares.values()),
                shares=tuple(
                    IntegrationShare(integration=n, count=c, permissions=("read_only",))
                    for n, c in shares.items()
                ),
            ),
            selection=Selection(total=sum(picked.values()), per_integration=picked),
        )
    )


def test_select_all_is_offered_only_where_it_can_work_and_otherwise_says_what_does() -> None:
    one = _bundle_modal(shares={"pg": 1})
    assert button_texts(one)[-2:] == ["Select it", "Select it"]
    assert "*big*\n1 object in 1 integration" in texts_of(one["blocks"])
    fits(one)

    fitting = _bundle_modal(shares={"pg": 600, "redis": 400})
    assert "Select all 1,000" in button_texts(fitting)
    assert "Select all 600" in button_texts(fitting)

    too_big = _bundle_modal(shares={"pg": 1_000, "redis": 200})
    shown = texts_of(too_big["blocks"])
    assert "Select all 1,200" not in button_texts(too_big)
    assert "Select all 1,000" in button_texts(too_big)
    assert "Select all 200" in button_texts(too_big)
    assert (
        "*big*\n1,200 objects in 2 integrations; more than one request can hold (1,000): pick "
        "objects with the search below or select one integration at a time."
    ) in shown
    fits(too_big)

    # With 900 of redis selected, all of pg would make 1,900: not offered, Clear is.
    crowded = _bundle_modal(shares={"pg": 1_500, "redis": 900}, selected={"redis": 900})
    assert [b for b in button_texts(crowded) if b.startswith("Select")] == []
    assert (
        "*pg* · 1,500 objects · read_only\nMore than one request can hold (1,000): pick "
        "objects with the search below." in shown_of(crowded)
    )
    assert "Clear" in button_texts(crowded)


def shown_of(payload: dict[str, Any]) -> str:
    return " ".join(texts_of(payload["blocks"]))


def test_a_flow_option_names_approvers_in_plain_text_and_mentions_them_in_mrkdwn() -> None:
    choice = FlowChoice(
        name="prod-db",
        automatic=False,
        approvers="<@U0BOB>",
        approvers_plain="Bob Stone",
        max_duration=timedelta(hours=8),
        durations=(timedelta(hours=1),),
        default_duration=timedelta(hours=1),
        justification_required=False,
    )
    assert choice.summary == "approved by <@U0BOB> · up to 8h"
    assert choice.plain_summary == "approved by Bob Stone · up to 8h"


def test_the_reconciler_says_why_an_account_was_left_over() -> None:
    assert request_ended(request_id="AR-7K3Q9M", status="expired") == (
        "its request AR-7K3Q9M has ended (expired)"
    )
    assert request_ended(request_id="AR-7K3Q9M", status="timed_out") == (
        "its request AR-7K3Q9M has ended (timed out)"
    )
    assert request_ended(request_id="AR-7K3Q9M", status="pending") == (
        "its request AR-7K3Q9M is pending, not granting or active"
    )


def test_home_counts_objects_and_waiting_requests_for_one_and_for_many() -> None:
    def headline(count: int) -> Headline:
        return Headline(
            id=RequestId("AR-7K3Q9M"), requester=UserId("U0ALICE"), requester_name="Alice",
            flow="prod-db", bundle=None, status=Status.TIMED_OUT, created_at=T0,
            object_count=count, integrations=("db-0",),
        )  # fmt: skip

    def page(rows: tuple[Headline, ...], total: int) -> Page:
        return Page(rows=rows, number=0, size=10, total=total)

    one = home_view(
        HomeModel(
            user="U0BOB", state=HomeState(), mine=page((headline(1),), 1),
            waiting=page((headline(1),), 1),
        )
    )  # fmt: skip
    shown = shown_of(one)
    assert "db-0 · 1 object" in shown
    assert "timed out" in shown
    assert {"Approve", "Deny"} <= set(button_texts(one))
    assert "Page 1 of 1 · 1 request" in shown
    fits(one)
    many = home_view(
        HomeModel(
            user="U0BOB", state=HomeState(), mine=page((headline(5),), 12),
            waiting=page((headline(5),), 3),
        )
    )  # fmt: skip
    shown = shown_of(many)
    assert "db-0 · 5 objects" in shown
    assert {"Approve all", "Deny all"} <= set(button_texts(many))
    assert "…and 2 more requests waiting." in shown
    assert "Page 1 of 2 · 12 requests" in shown
    fits(many)
    two_waiting = HomeModel(
        user="U0BOB", state=HomeState(), mine=page((), 0), waiting=page((headline(5),), 2)
    )
    assert "…and 1 more request waiting." in shown_of(home_view(two_waiting))


def test_the_admins_status_filter_says_statuses_in_words() -> None:
    view = home_view(
        HomeModel(
            user="U0BOB",
            state=HomeState(),
            mine=Page(rows=(), number=0, size=10, total=0),
            waiting=Page(rows=(), number=0, size=10, total=0),
            activity=Page(rows=(), number=0, size=10, total=0),
        )
    )
    [filters] = [b for b in view["blocks"] if b.get("block_id") == "filters"]
    statuses = {o["text"]["text"]: o["value"] for o in filters["elements"][0]["options"]}
    assert statuses["Timed out"] == "timed_out"
    assert "timed_out" not in statuses


def test_a_details_timeline_names_who_did_each_step_and_nobody_for_the_bots_own() -> None:
    summary = a_summary(Status.ACTIVE, count=1, decided_by="U0BOB")
    history = (
        StatusChange(
            request_id=summary.id, from_status=None, to_status=Status.PENDING,
            actor=UserId("U0ALICE"), at=T0,
        ),
        StatusChange(
            request_id=summary.id, from_status=Status.APPROVED, to_status=Status.GRANTING,
            actor=None, at=T0,
        ),
    )  # fmt: skip
    view = details_modal(summary=summary, history=history, approvers=(UserId("U0BOB"),))
    shown = shown_of(view)
    assert f"⏳ Submitted by <@U0ALICE> · {WHEN}" in shown
    assert f"🔧 Granting started · {WHEN}" in shown
    assert "the system" not in shown
    assert "Show the object" in button_texts(view)
    fits(view)
    many = details_modal(summary=a_summary(Status.ACTIVE, count=3), history=(), approvers=())
    assert "Show all 3 objects" in button_texts(many)


def test_a_saved_favorite_says_how_many_are_kept_for_one_and_for_many() -> None:
    def said(count: int) -> str:
        view = favorite_saved_modal(name="oncall", count=count)
        text: str = view["blocks"][0]["text"]["text"]
        return text

    assert said(1) == (
        "⭐ Saved *oncall*. You keep 1 favorite: it is on the Home tab and at the top of the "
        "request form."
    )
    assert said(4) == (
        "⭐ Saved *oncall*. You keep 4 favorites: they are on the Home tab and at the top of "
        "the request form."
    )


def test_the_break_glass_choice_counts_uses_for_one_and_for_many() -> None:
    one = break_glass_input(flow="f", max_duration=timedelta(hours=1), daily_limit=1).to_dict()
    assert one["hint"]["text"].startswith("Break glass needs a reason below; 1 use a day")
    many = break_glass_input(flow="f", max_duration=timedelta(hours=1), daily_limit=3).to_dict()
    assert many["hint"]["text"].startswith("Break glass needs a reason below; 3 uses a day")


def test_the_alarm_names_the_requester_and_counts_what_a_revoke_removes() -> None:
    for count, said in ((1, "The object of AR-7K3Q9M"), (5, "All 5 objects of AR-7K3Q9M")):
        alarm = break_glass_alarm(summary=a_summary(Status.ACTIVE, count=count))
        assert "🟢 Now active · <@U0ALICE> (alice@example.com)" in shown_of(alarm)
        confirm = [
            e["confirm"]["text"]["text"]
            for b in alarm["blocks"] if b["type"] == "actions" for e in b["elements"]
            if "confirm" in e
        ]  # fmt: skip
        assert confirm == [f"{said} will be removed now."]
        fits(alarm)


def test_admin_texts_count_resources_and_objects_for_one_and_for_many() -> None:
    assert pattern_matches(pattern="sales.*", matches=1, integration="pg") == (
        "sales.* matches 1 discovered resource of pg now, and will match new ones as they are "
        "discovered."
    )
    assert pattern_matches(pattern="sales.*", matches=12, integration="pg").startswith(
        "sales.* matches 12 discovered resources of pg now"
    )
    assert pattern_suggestion(1) == "pattern · matches 1 resource discovered now"
    assert pattern_suggestion(3) == "pattern · matches 3 resources discovered now"


def test_a_period_is_said_in_the_unit_people_write() -> None:
    assert format_duration(timedelta(days=7)) == "7d"
    assert format_duration(timedelta(days=14)) == "14d"
    assert format_duration(timedelta(minutes=90)) == "1h30m"
    assert format_filters(parse_filters("last 7d")) == "last 7d"
    assert format_filters(parse_filters("last 1w")) == "last 7d"
    assert format_filters(parse_filters("last 24h")) == "last 1d"


def test_an_on_call_approver_and_a_lost_delivery_read_as_clauses() -> None:
    assert asked_because([on_call_approver(reference="PagerDuty schedule ops", flow="pager")]) == (
        "You're asked because you're on call for PagerDuty schedule ops, the approvers of flow "
        "pager."
    )
    assert delivery_gave_up(1) == "still not delivered after 1 attempt"
    assert delivery_gave_up(5) == "still not delivered after 5 attempts"


def test_extension_texts_count_objects_and_say_how_an_extension_was_decided() -> None:
    for count, said in ((1, "The object of AR-7K3Q9M"), (8, "All 8 objects of AR-7K3Q9M")):
        button = revoke_now_button(a_summary(Status.ACTIVE, count=count)).to_dict()
        assert button["confirm"]["text"]["text"] == f"{said} will be removed now."
    assert not_active("AR-7K3Q9M", Status.TIMED_OUT.label) == (
        "AR-7K3Q9M is not active (it is timed out); only active access can be extended."
    )
    assert extension_decided(request_id="AR-7K3Q9M", status="done", by="U0BOB") == (
        "The extension of AR-7K3Q9M was already approved by <@U0BOB>. Nothing changed."
    )
    assert extension_decided(request_id="AR-7K3Q9M", status="denied", by="U0BOB") == (
        "The extension of AR-7K3Q9M was already denied by <@U0BOB>. Nothing changed."
    )
    assert extension_decided(request_id="AR-7K3Q9M", status="void", by=None) == (
        "The extension of AR-7K3Q9M was already dropped: it could not be applied. Nothing changed."
    )
    for count, said in ((1, "1 object"), (2, "2 objects")):
        ask = extension_approval_message(
            summary=a_summary(Status.ACTIVE, count=count),
            extension_id=1,
            old_end=T0,
            new_end=LATER,
            reasons=[listed_approver("prod-db")],
        )
        assert f"<@U0ALICE> asks for more time on {said}" in texts(ask)
        assert "You're asked because you're listed as an approver of flow prod-db." in texts(ask)
        fits(ask)
    refused_ = extension_refused_message(
        summary=a_summary(Status.ACTIVE), new_end=LATER, by=None, problem="the request ended first"
    )
    assert refused_["blocks"][0]["text"]["text"].endswith(": the request ended first.")


def test_a_request_for_a_teammate_says_so_to_each_reader_for_one_object_and_many() -> None:
    for count, said in ((1, "1 object"), (3, "3 objects")):
        summary = replace(
            a_summary(Status.REVOKED, count=count), grantee=UserId("U0DAVE"), grantee_name="Dave"
        )
        lines = {
            reader: status_message(
                summary=summary,
                actor="U0DAVE",
                at=T0,
                reason=None,
                for_requester=reader == "requester",
                for_grantee=reader == "grantee",
            )["blocks"][0]["text"]["text"]
            for reader in ("requester", "grantee", "audit")
        }
        assert lines["requester"] == (
            f"🔒 Your request *AR-7K3Q9M* for {said} on behalf of <@U0DAVE> was revoked by "
            f"<@U0DAVE> {WHEN}; access was removed."
        )
        assert lines["grantee"] == (
            f"🔒 <@U0ALICE>'s request *AR-7K3Q9M* for {said} on your behalf was revoked by you "
            f"{WHEN}; access was removed."
        )
        assert lines["audit"].startswith(
            f"🔒 <@U0ALICE>'s request *AR-7K3Q9M* for {said} on behalf of <@U0DAVE> was revoked"
        )
        ask = approval_message(summary=replace(summary, status=Status.PENDING), reasons=[])
        assert ask["text"] == f"Alice Doe requests {said} for Dave (AR-7K3Q9M)"


def test_an_owner_is_told_why_in_one_sentence() -> None:
    assert asked_because([owner_of("integration prod-db")]) == (
        "You're asked because you're an owner of integration prod-db."
    )
