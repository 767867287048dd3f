"""On behalf of a teammate (README, "On behalf of a teammate"): a grantee asks for another
grantee of a flow that allows it; the teammate holds the access and gets the credentials,
both are told, neither decides, either may revoke."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from app.core.outcomes import Done, NotAllowed
from app.core.sealing import Sealer
from app.extension.service import Asked, Decided
from app.requesting.modal import FormInput
from app.requesting.submission import Field, Refused, Submitted
from blocks.messages import approval_message
from blocks.request_modal import on_behalf_input
from domain.audit import AuditKind
from domain.ids import RequestId, UserId
from domain.lifecycle import Status
from domain.people import Person
from domain.policy import Policy
from domain.policy_checks import check_policy
from domain.report_filters import parse_filters
from slacksim import texts_of
from tests.unit.features.test_extension import extending
from tests.unit.features.world import (
    ALICE,
    BOB,
    CAROL,
    DAVE,
    LONELY,
    ONCALL_DB,
    POLICY,
    RETIRED,
    SELF_SERVE,
    World,
)

TEAM_POLICY = POLICY.model_copy(
    update={
        "access_flows": [
            ONCALL_DB.model_copy(update={"on_behalf": True}),
            SELF_SERVE,
            LONELY,
            RETIRED,
        ]
    }
)
FRANK = Person(id=UserId("U0FRANK"), name="Frank", email="frank@example.com")
"""Nobody: neither a grantee nor an approver."""


@pytest.fixture
def team(make_world: Callable[..., World]) -> World:
    """``oncall-db`` allows requesting for a teammate; Dave is on call, so a grantee too."""
    world = make_world(policy=TEAM_POLICY)
    world.directory.add(DAVE, groups=["@oncall"])
    world.directory.add(FRANK)
    return world


def ask_for(
    world: World, teammate: UserId | None, *, by: Person = ALICE, break_glass: bool = False
) -> Submitted | Refused:
    return world.submission.submit(
        draft_key=world.bundle_form(user=by),
        user=by.id,
        form=FormInput(
            duration="1h",
            justification="incident 42",
            grantee=teammate,
            break_glass=break_glass,
        ),
    )


def asked_for(world: World, teammate: Person = DAVE) -> RequestId:
    submitted = ask_for(world, teammate.id)
    assert isinstance(submitted, Submitted), submitted
    assert submitted.grantee == teammate.id
    return submitted.request_id


def status_posts(world: World, channel: str) -> list[dict[str, Any]]:
    return [
        m.payload
        for m in world.outbox(channel=channel)
        if m.kind == "post" and m.payload is not None and m.sealed is None
    ]


def text(payload: dict[str, Any]) -> str:
    return " ".join(texts_of(payload["blocks"]))


# -- asking ---------------------------------------------------------------------------------------


def test_a_grantee_asks_for_a_teammate_and_the_request_records_who_asked_and_for_whom(
    team: World,
) -> None:
    request_id = asked_for(team)

    with team.store.read() as uow:
        request = uow.requests.get(request_id)
        summary = uow.requests.summary(request_id)
    assert request is not None
    assert summary is not None
    assert (request.requester, request.grantee, request.holder) == (ALICE.id, DAVE.id, DAVE.id)
    assert (summary.grantee_name, summary.grantee_email) == (DAVE.name, DAVE.email)
    [submitted] = [e for e in team.audit(request_id) if e.kind is AuditKind.REQUEST_SUBMITTED]
    assert submitted.actor == ALICE.id
    assert (submitted.data["requested_by"], submitted.data["grantee"]) == (ALICE.id, DAVE.id)


def test_asking_for_yourself_in_the_for_picker_is_an_ordinary_request(team: World) -> None:
    submitted = ask_for(team, ALICE.id)

    assert isinstance(submitted, Submitted)
    assert submitted.grantee is None
    with team.store.read() as uow:
        request = uow.requests.get(submitted.request_id)
    assert request is not None
    assert request.holder == ALICE.id


def test_a_teammate_who_is_not_a_grantee_of_the_flow_is_refused_and_nothing_is_stored(
    team: World,
) -> None:
    outcome = ask_for(team, FRANK.id)

    assert isinstance(outcome, Refused)
    assert "not a grantee of access flow oncall-db" in outcome.errors[Field.GRANTEE]
    assert team.request_count() == 0
    [refusal] = team.events(AuditKind.SUBMISSION_REFUSED)
    assert (refusal.data["requested_by"], refusal.data["grantee"]) == (ALICE.id, FRANK.id)


def test_a_teammate_who_left_the_grantee_group_is_refused(team: World) -> None:
    team.directory.leave(DAVE.id, "@oncall")

    outcome = ask_for(team, DAVE.id)

    assert isinstance(outcome, Refused)
    assert Field.GRANTEE in outcome.errors


@pytest.mark.parametrize(
    "who",
    [
        Person(id=UserId("U0BOT"), name="Deploy bot", is_bot=True),
        Person(id=UserId("U0GONE"), name="Gone", deleted=True),
    ],
    ids=["a bot", "a deactivated user"],
)
def test_a_bot_or_a_deactivated_user_cannot_be_requested_for_even_in_the_group(
    team: World, who: Person
) -> None:
    team.directory.add(who, groups=["@oncall"])

    outcome = ask_for(team, who.id)

    assert isinstance(outcome, Refused)
    assert "not an active person" in outcome.errors[Field.GRANTEE]


def test_a_flow_without_on_behalf_refuses_a_teammate(world: World) -> None:
    world.directory.add(DAVE, groups=["@oncall"])

    outcome = ask_for(world, DAVE.id)

    assert isinstance(outcome, Refused)
    assert "does not allow requesting for a teammate" in outcome.errors[Field.GRANTEE]
    assert world.request_count() == 0


def test_break_glass_is_never_on_behalf_of_someone_else(team: World) -> None:
    outcome = ask_for(team, DAVE.id, break_glass=True)

    assert isinstance(outcome, Refused)
    assert "only for yourself" in outcome.errors[Field.GRANTEE]


def test_the_modal_offers_the_for_picker_only_in_flows_that_allow_it(team: World) -> None:
    draft_key = team.bundle_form()
    modal = team.modal.render(draft_key=draft_key, user=ALICE.id)

    assert modal.flow is not None
    assert modal.flow.on_behalf
    picker = on_behalf_input().to_dict()
    assert picker["element"]["type"] == "users_select"
    assert picker["optional"] is True


# -- deciding -------------------------------------------------------------------------------------


def test_neither_the_requester_nor_the_teammate_is_asked_or_may_approve(
    team: World,
) -> None:
    # Carol approves oncall-db as a member of @dba; here she is the teammate asked for.
    team.directory.add(CAROL, groups=["@dba", "@oncall"])
    team.directory.add(ALICE, groups=["@dba"])
    request_id = asked_for(team, CAROL)

    asked = {m.channel for m in team.outbox() if m.ref and m.ref.startswith("approval:")}
    assert asked == {BOB.id}
    for clicker in (CAROL, ALICE):
        outcome = team.approve(request_id, by=clicker)
        assert isinstance(outcome, NotAllowed)
    assert team.status(request_id) is Status.PENDING
    refused = [e for e in team.audit(request_id) if e.kind is AuditKind.DECISION_REFUSED]
    assert [(e.actor, e.data["refused"]) for e in refused] == [
        (CAROL.id, "grantee clicked"),
        (ALICE.id, "requester clicked"),
    ]
    assert isinstance(team.approve(request_id, by=BOB), Done)


def test_the_approval_message_says_who_asked_for_whom(team: World) -> None:
    request_id = asked_for(team)
    with team.store.read() as uow:
        summary = uow.requests.summary(request_id)
    assert summary is not None

    message = text(approval_message(summary=summary, reasons=()))

    assert f"<@{ALICE.id}> for <@{DAVE.id}>" in message
    assert f"on behalf of <@{DAVE.id}>" in message


# -- granting -------------------------------------------------------------------------------------


def test_the_credentials_go_to_the_teammate_only_and_both_get_one_status_message_per_change(
    team: World,
) -> None:
    request_id = asked_for(team)
    team.approve(request_id)
    team.provisioning.run_due()
    assert team.status(request_id) is Status.ACTIVE

    sealed = [m for m in team.outbox() if m.sealed is not None]
    assert {m.channel for m in sealed} == {DAVE.id}
    assert len(sealed) == len(TEAM_POLICY.integrations)
    opened = Sealer.derived_from(secret="xapp-unit").open(sealed[0].sealed or b"")
    assert f"Requested for you by <@{ALICE.id}>" in text(opened)
    changes = [e for e in team.audit(request_id) if e.kind is AuditKind.REQUEST_STATUS]
    # The submission plus every status change since, one message each, to each of them; but
    # granting rewrites the approval's message in place rather than posting one more.
    granting = [e for e in changes if e.data["to"] == Status.GRANTING.value]
    assert len(granting) == 1
    for person in (ALICE.id, DAVE.id):
        assert len(status_posts(team, person)) == len(changes) + 1 - len(granting)
        assert [m.kind for m in team.outbox(channel=person) if m.ref and "decision" in m.ref] == [
            "post",
            "update",
        ]
    assert "on your behalf" in text(status_posts(team, DAVE.id)[-1])
    assert f"on behalf of <@{DAVE.id}>" in text(status_posts(team, ALICE.id)[-1])
    assert all(e.data["grantee"] == DAVE.id for e in changes)
    granted = team.events(AuditKind.ACCESS_GRANTED)
    assert {e.data["grantee"] for e in granted} == {DAVE.id}


def test_a_teammate_who_leaves_the_grantees_before_granting_gets_nothing(team: World) -> None:
    request_id = asked_for(team)
    team.approve(request_id)
    team.directory.leave(DAVE.id, "@oncall")

    team.provisioning.run_due()

    assert team.status(request_id) is Status.FAILED
    assert not any(m.sealed for m in team.outbox())
    assert all(not i.granted for i in team.integrations.values())


# -- revoking, Home, reports ----------------------------------------------------------------------


def test_the_teammate_may_revoke_and_someone_uninvolved_may_not(team: World) -> None:
    request_id = asked_for(team)
    team.approve(request_id)
    team.provisioning.run_due()

    assert isinstance(
        team.revocation.revoke(request_id=request_id, flow_claim=None, by=FRANK.id), NotAllowed
    )
    assert isinstance(
        team.revocation.revoke(request_id=request_id, flow_claim=None, by=DAVE.id), Done
    )
    team.clock.advance(timedelta(seconds=1))
    team.ending.run_due()
    assert team.status(request_id) is Status.REVOKED


def test_home_lists_the_request_for_both_and_details_open_for_the_teammate(team: World) -> None:
    request_id = asked_for(team)

    for person in (ALICE, DAVE):
        rows = team.home.home_for(user=person.id).mine.rows
        assert [(r.id, r.requester, r.grantee) for r in rows] == [(request_id, ALICE.id, DAVE.id)]
        assert team.home.details(request_id=request_id, viewer=person.id) is not None
    assert team.home.details(request_id=request_id, viewer=FRANK.id) is None


def test_reports_name_the_requester_and_the_teammate_in_their_own_columns(team: World) -> None:
    asked_for(team)
    team.active_request()  # Alice for herself

    out = io.StringIO(newline="")
    team.reports.write_csv(spec=parse_filters(""), out=out)
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))

    pairs = {(r["Requester Name"], r["Grantee Name"], r["Grantee Email"]) for r in rows}
    assert pairs == {(ALICE.name, DAVE.name, DAVE.email), (ALICE.name, ALICE.name, ALICE.email)}


# -- the policy -----------------------------------------------------------------------------------


def _flow_policy(**flow: Any) -> Policy:
    return Policy.model_validate(
        {
            "integrations": [
                {"name": "db", "type": "redis", "connection": {"url": "redis://127.0.0.1"}}
            ],
            "access_flows": [
                {
                    "name": "team",
                    "objects": [{"integration": "db", "resource": "a:*", "permission": "admin"}],
                    "approvers": {"users": ["U0BOB"]},
                    "duration": {"default": "1h", "max": "1h"},
                    "on_behalf": True,
                    **flow,
                }
            ],
        }
    )


def test_check_refuses_on_behalf_when_the_only_grantee_is_one_person() -> None:
    problems = check_policy(policy=_flow_policy(grantees={"users": ["U0ALICE"]}), env=None)

    [problem] = [p for p in problems if p.code == "on-behalf-without-teammates"]
    assert problem.severity == "error"
    assert problem.path == ("access_flows", 0, "on_behalf")


def test_check_warns_about_on_behalf_in_an_automatic_flow_and_passes_a_team_flow() -> None:
    automatic = _flow_policy(grantees={"groups": ["@team"]}, approvers="automatic")
    team = _flow_policy(grantees={"groups": ["@team"]})

    assert {(p.code, p.severity) for p in check_policy(policy=automatic, env=None)} == {
        ("on-behalf-on-automatic-flow", "warning")
    }
    assert check_policy(policy=team, env=None) == []


def test_on_behalf_is_off_unless_a_flow_says_so() -> None:
    assert ONCALL_DB.on_behalf is False
    assert _flow_policy(grantees={"groups": ["@team"]}).access_flows[0].on_behalf is True


# -- more time ------------------------------------------------------------------------------------


def test_the_teammate_may_ask_for_more_time_and_both_are_told_and_reminded(team: World) -> None:
    ext = extending(team)
    request_id = asked_for(team)
    team.approve(request_id)
    team.provisioning.run_due()
    assert team.status(request_id) is Status.ACTIVE

    asked = ext.ask(request_id, by=DAVE, more="1h")
    assert isinstance(asked, Asked)
    assert isinstance(ext.decide(asked, by=BOB, approve=False), Decided)
    asked = ext.ask(request_id, by=ALICE, more="1h")
    assert isinstance(asked, Asked)
    assert isinstance(ext.decide(asked, by=BOB), Decided)
    assert ext.worker.run_due() == 1
    assert isinstance(ext.ask(request_id, by=FRANK, more="1h"), NotAllowed)

    for person in (ALICE.id, DAVE.id):
        said = [str(m.payload) for m in team.outbox(channel=person) if m.kind == "post"]
        assert sum("was not extended" in t for t in said) == 1, person
        assert sum("was extended until" in t for t in said) == 1, person

    ext.reminders.sweep()
    team.clock.advance(timedelta(hours=1, minutes=51))  # ten minutes before the new end
    ext.reminders.sweep()
    for person in (ALICE.id, DAVE.id):
        reminded = [
            m
            for m in team.outbox(channel=person)
            if m.payload and f"{request_id} ends" in str(m.payload.get("text"))
        ]
        assert len(reminded) == 1, person
