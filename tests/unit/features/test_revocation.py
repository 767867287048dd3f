"""Revocation (``app/revocation/``): who may revoke an active request, and the reconciler that
removes accounts no live request owns (docs/architecture.md, "No standing access")."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import delete

from app.core.outcomes import AlreadyDecided, Done, NotAllowed, Outcome
from app.integrations.base import GrantItem
from app.revocation.reconciler import Reconciler
from domain.audit import AuditKind
from domain.ids import RequestId, account_name, new_request_id
from domain.lifecycle import Status
from domain.people import Person
from store.models import RequestRow
from store.repositories.grants import GrantStatus
from tests.unit.features.world import (
    ALICE,
    AUDIT_CHANNEL,
    BOB,
    CACHE,
    CAROL,
    DAVE,
    DB,
    ERIN,
    World,
)


def revoke(world: World, request_id: RequestId, *, by: Person) -> Outcome:
    return world.revocation.revoke(request_id=request_id, flow_claim=None, by=by.id)


# -- who may revoke -------------------------------------------------------------------------------


def test_the_requester_may_revoke_and_the_sweeper_ends_the_request_as_revoked(
    world: World,
) -> None:
    request_id = world.active_request()

    assert isinstance(revoke(world, request_id, by=ALICE), Done)
    assert world.end_wakes.count == 1
    assert world.status(request_id) is Status.ACTIVE  # the sweeper does the slow part

    assert world.ending.run_due() == 1

    assert world.status(request_id) is Status.REVOKED
    assert world.account_of(request_id) not in world.integrations[DB].granted
    [end] = [e for e in world.audit(request_id) if e.data.get("to") == "revoked"]
    assert end.actor == ALICE.id


def test_an_approver_of_the_flow_may_revoke(world: World) -> None:
    request_id = world.active_request()

    assert isinstance(revoke(world, request_id, by=CAROL), Done)
    world.ending.run_due()
    assert world.status(request_id) is Status.REVOKED


def test_an_admin_may_revoke(world: World) -> None:
    request_id = world.active_request()

    assert isinstance(revoke(world, request_id, by=ERIN), Done)
    with world.store.read() as uow:
        ask = uow.grants.revoke_ask(request_id)
    assert ask is not None
    assert ask.by == ERIN.id


def test_anyone_else_is_refused_audited_and_nothing_is_revoked(world: World) -> None:
    request_id = world.active_request()

    assert isinstance(revoke(world, request_id, by=DAVE), NotAllowed)

    assert world.end_wakes.count == 0
    [refusal] = [e for e in world.audit(request_id) if e.kind is AuditKind.REVOKE_REFUSED]
    assert refusal.actor == DAVE.id
    with world.store.read() as uow:
        assert uow.grants.revoke_ask(request_id) is None
    world.ending.run_due()
    assert world.status(request_id) is Status.ACTIVE


def test_a_request_that_is_not_active_is_already_decided(world: World) -> None:
    request_id = world.pending_request()

    outcome = revoke(world, request_id, by=ALICE)

    assert isinstance(outcome, AlreadyDecided)
    assert world.end_wakes.count == 0


def test_a_second_revoke_of_the_same_request_wakes_the_sweeper_once(world: World) -> None:
    request_id = world.active_request()

    revoke(world, request_id, by=ALICE)
    revoke(world, request_id, by=BOB)

    assert world.end_wakes.count == 1
    with world.store.read() as uow:
        ask = uow.grants.revoke_ask(request_id)
    assert ask is not None
    assert ask.by == ALICE.id


# -- the reconciler -------------------------------------------------------------------------------


def leftover(world: World, integration: str) -> str:
    """An account the bot could have made, with no request behind it."""
    account = account_name(new_request_id())
    world.integrations[integration].grant(
        account=account, items=[GrantItem("orders:*", "read_only")], until=world.clock.now()
    )
    return account


def test_the_reconciler_removes_an_account_no_request_owns_and_announces_it(
    world: World,
) -> None:
    account = leftover(world, CACHE)

    assert world.reconciler.run() == 1

    assert account not in world.integrations[CACHE].granted
    [event] = world.events(AuditKind.RECONCILED)
    assert event.data["account"] == account
    assert event.data["integration"] == CACHE
    assert len(world.outbox(channel=AUDIT_CHANNEL)) == 1


def test_the_reconciler_keeps_the_accounts_of_active_requests(world: World) -> None:
    request_id = world.active_request()
    account = world.account_of(request_id)

    assert world.reconciler.run() == 0

    assert account in world.integrations[DB].granted
    assert account in world.integrations[CACHE].granted
    assert world.events(AuditKind.RECONCILED) == []


def test_the_reconciler_removes_an_account_whose_request_row_was_deleted(world: World) -> None:
    request_id = world.active_request()
    account = world.account_of(request_id)
    with world.store.write() as uow:
        uow.session.execute(delete(RequestRow).where(RequestRow.id == request_id))

    assert world.reconciler.run() == 2

    assert account not in world.integrations[DB].granted
    assert account not in world.integrations[CACHE].granted


def test_the_reconciler_removes_an_account_an_ended_request_left_and_marks_it_revoked(
    world: World,
) -> None:
    request_id = world.active_request()
    account = world.account_of(request_id)
    world.clock.advance(timedelta(hours=1))
    world.ending.run_due()
    # The server kept (or got back) the account although the bot saw it revoked.
    world.integrations[CACHE].grant(
        account=account, items=[GrantItem("orders:*", "read_only")], until=world.clock.now()
    )

    assert world.reconciler.run() == 1

    assert account not in world.integrations[CACHE].granted
    assert world.grants(request_id)[CACHE] is GrantStatus.REVOKED
    [event] = world.events(AuditKind.RECONCILED)
    assert event.request_id == request_id


def test_the_reconciler_leaves_accounts_the_bot_never_names_alone(world: World) -> None:
    world.integrations[DB].granted["app_user"] = []
    world.integrations[DB].granted["jit_admin"] = []

    assert world.reconciler.run() == 0

    assert set(world.integrations[DB].granted) == {"app_user", "jit_admin"}


def test_an_account_that_cannot_be_removed_is_tried_again_on_the_next_pass(
    world: World,
) -> None:
    account = leftover(world, CACHE)
    world.integrations[CACHE].fail_revokes = 3

    assert world.reconciler.run() == 0
    assert account in world.integrations[CACHE].granted

    assert world.reconciler.run() == 1
    assert account not in world.integrations[CACHE].granted


def test_instances_share_one_reconcile_pass_per_interval(
    make_world: Callable[..., World],
) -> None:
    world = make_world()
    every = timedelta(minutes=5)

    def instance() -> Reconciler:
        return Reconciler(
            store=world.store,
            integrations=world.integrations,
            notifier=world.notifier,
            alerts=world.alerts,
            clock=world.clock,
            retry=world.retry,
            every=every,
        )

    first, second = instance(), instance()
    assert first.run() == 0
    account = leftover(world, CACHE)

    assert second.run() == 0
    assert account in world.integrations[CACHE].granted

    world.clock.advance(every)
    assert second.run() == 1
    assert account not in world.integrations[CACHE].granted
