"""Ending (``app/expiry/ending.py``): due requests revoked everywhere, only then recorded as
ended; a revoke that keeps failing keeps its claim and is announced with doubling intervals
(docs/architecture.md, "Durable time" and "No standing access")."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from app.core.removal_alerts import LONGEST_REPEAT, repeat_after
from domain.audit import AuditKind
from domain.lifecycle import Status
from store.repositories.grants import GrantStatus
from tests.fakes import RecordingIntegration
from tests.unit.features.world import AUDIT_CHANNEL, CACHE, DB, ERIN, LEASE, World

HOUR = timedelta(hours=1)


def alerts_to(world: World, channel: str) -> int:
    return len(world.outbox(channel=channel))


def test_an_active_request_is_not_ended_before_it_expires(world: World) -> None:
    request_id = world.active_request()
    world.clock.advance(HOUR - timedelta(seconds=1))

    assert world.ending.run_due() == 0

    assert world.status(request_id) is Status.ACTIVE
    assert world.account_of(request_id) in world.integrations[DB].granted


def test_a_due_request_is_revoked_everywhere_then_recorded_expired(world: World) -> None:
    request_id = world.active_request()
    account = world.account_of(request_id)
    world.clock.advance(HOUR)

    assert world.ending.run_due() == 1

    assert world.status(request_id) is Status.EXPIRED
    assert world.integrations[DB].revoke_calls == [account]
    assert world.integrations[CACHE].revoke_calls == [account]
    assert account not in world.integrations[DB].granted
    assert world.grants(request_id) == {DB: GrantStatus.REVOKED, CACHE: GrantStatus.REVOKED}
    kinds = world.audit_kinds(request_id)
    assert kinds.count(AuditKind.ACCESS_REVOKED) == 2
    # The end is recorded after (never before) every grant is confirmed gone.
    assert kinds[-1] is AuditKind.REQUEST_STATUS
    assert world.audit(request_id)[-1].data["to"] == "expired"
    row = world.request_row(request_id)
    assert row["ended_at"] == world.clock.now()
    assert row["lease_owner"] is None


def test_a_failing_revoke_keeps_the_request_active_and_claimed(world: World) -> None:
    request_id = world.active_request()
    world.integrations[CACHE].fail_revokes = 3
    world.clock.advance(HOUR)

    assert world.ending.run_due() == 0

    assert world.status(request_id) is Status.ACTIVE
    row = world.request_row(request_id)
    assert row["lease_owner"] == world.ending.owner
    assert row["lease_until"] == world.clock.now() + LEASE
    assert world.grants(request_id)[CACHE] is GrantStatus.GRANTED
    assert AuditKind.REQUEST_STATUS not in world.audit_kinds(request_id)[-1:]
    [failing] = [e for e in world.audit(request_id) if e.kind is AuditKind.REVOKE_FAILING]
    assert set(failing.data["failures"]) == {CACHE}
    assert alerts_to(world, ERIN.id) == 1


def test_a_claimed_request_is_not_retried_before_its_lease_lapses(world: World) -> None:
    request_id = world.active_request()
    world.integrations[CACHE].fail_revokes = 1_000
    world.clock.advance(HOUR)
    world.ending.run_due()
    calls = len(world.integrations[CACHE].revoke_calls)

    world.clock.advance(LEASE)
    world.ending.run_due()
    assert len(world.integrations[CACHE].revoke_calls) == calls

    world.clock.advance(timedelta(seconds=1))
    world.ending.run_due()
    assert len(world.integrations[CACHE].revoke_calls) > calls
    assert world.status(request_id) is Status.ACTIVE


def test_the_removal_alert_repeats_with_doubling_intervals(world: World) -> None:
    request_id = world.active_request()
    world.integrations[CACHE].fail_revokes = 1_000_000
    world.clock.advance(HOUR)
    first = world.clock.now()
    for _ in range(40):  # one round per minute, each after the 30 s lease lapsed
        world.ending.run_due()
        world.clock.advance(timedelta(minutes=1))

    alerted = [e.at for e in world.audit(request_id) if e.kind is AuditKind.REVOKE_FAILING]
    minutes = [int((at - first).total_seconds() // 60) for at in alerted]
    assert minutes == [0, 2, 6, 14, 30]
    assert alerts_to(world, ERIN.id) == 5
    assert alerts_to(world, AUDIT_CHANNEL) >= 5
    with world.store.read() as uow:
        problem = uow.removals.get(request_id)
    assert problem is not None
    assert problem.attempts == 40


def test_the_alert_interval_stops_doubling_at_four_hours() -> None:
    assert [repeat_after(n) for n in range(4)] == [
        timedelta(minutes=2),
        timedelta(minutes=4),
        timedelta(minutes=8),
        timedelta(minutes=16),
    ]
    assert repeat_after(30) == LONGEST_REPEAT == timedelta(hours=4)


def test_when_the_revoke_finally_succeeds_the_request_ends_and_recovery_is_announced(
    world: World,
) -> None:
    request_id = world.active_request()
    world.integrations[CACHE].fail_revokes = 3
    world.clock.advance(HOUR)
    world.ending.run_due()
    alerts_before = alerts_to(world, ERIN.id)

    world.clock.advance(LEASE + timedelta(seconds=1))
    assert world.ending.run_due() == 1

    assert world.status(request_id) is Status.EXPIRED
    assert AuditKind.REVOKE_RECOVERED in world.audit_kinds(request_id)
    assert alerts_to(world, ERIN.id) == alerts_before + 1
    with world.store.read() as uow:
        assert uow.removals.get(request_id) is None


def test_an_integration_removed_from_the_configuration_keeps_the_request_active(
    make_world: Callable[..., World],
) -> None:
    cache = RecordingIntegration(name=CACHE)
    world = make_world(integrations={DB: RecordingIntegration(name=DB), CACHE: cache})
    request_id = world.active_request()
    world.integrations.pop(CACHE)
    world.build()  # the next start, without prod-cache
    world.clock.advance(HOUR)

    assert world.ending.run_due() == 0

    assert world.status(request_id) is Status.ACTIVE
    assert AuditKind.REVOKE_FAILING in world.audit_kinds(request_id)
    assert world.grants(request_id)[CACHE] is GrantStatus.GRANTED


def test_what_a_failed_rollback_left_is_removed_by_the_ending_sweep(world: World) -> None:
    world.integrations[DB].fail_grants = 3
    world.integrations[CACHE].fail_revokes = 3
    request_id = world.approved_request()
    world.provisioning.run_due()
    assert world.status(request_id) is Status.FAILED
    assert world.grants(request_id)[CACHE] is GrantStatus.GRANTED
    account = world.account_of(request_id)

    world.clock.advance(LEASE + timedelta(seconds=1))
    world.ending.run_due()

    assert world.grants(request_id)[CACHE] is GrantStatus.REVOKED
    assert account not in world.integrations[CACHE].granted
    assert world.status(request_id) is Status.FAILED
    leftovers = [
        e for e in world.audit(request_id)
        if e.kind is AuditKind.ACCESS_REVOKED and e.data.get("leftover")
    ]  # fmt: skip
    assert [e.data["integration"] for e in leftovers] == [CACHE]
