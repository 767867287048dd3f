"""Ending (``app/expiry/ending.py``): due requests revoked everywhere, only then recorded as
ended; a revoke that keeps failing keeps its claim and is announced with doubling intervals
(docs/architecture.md, "Durable time" and "No standing access")."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update
from sqlalchemy.exc import OperationalError

from app.core.removal_alerts import LONGEST_REPEAT, repeat_after
from app.integrations.base import RevokeOutcome
from domain.audit import AuditKind
from domain.lifecycle import Status
from store.models import RequestRow
from store.repositories.grants import GrantStatus
from tests.fakes import RecordingIntegration
from tests.unit.features.test_on_behalf import TEAM_POLICY, asked_for, status_posts
from tests.unit.features.world import ALICE, AUDIT_CHANNEL, CACHE, DAVE, DB, ERIN, LEASE, World

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


def status_messages_about(world: World, request_id: str) -> list[str]:
    """The text of every status message queued about ``request_id``."""
    return [
        str(m.payload.get("text", ""))
        for m in world.outbox()
        if m.payload is not None and m.ordering_key.startswith(f"{request_id}:")
    ]


def test_requests_due_together_are_revoked_one_batch_per_integration_and_each_ends_once(
    world: World,
) -> None:
    ids = [world.active_request() for _ in range(6)]
    accounts = sorted(world.account_of(i) for i in ids)
    world.clock.advance(HOUR)

    assert world.ending.run_due() == 6

    for name in (DB, CACHE):
        assert [sorted(b) for b in world.integrations[name].revoke_batches] == [accounts]
    for request_id in ids:
        assert world.status(request_id) is Status.EXPIRED
        assert world.grants(request_id) == {DB: GrantStatus.REVOKED, CACHE: GrantStatus.REVOKED}
        kinds = world.audit_kinds(request_id)
        assert kinds.count(AuditKind.ACCESS_REVOKED) == 2
        assert kinds[-1] is AuditKind.REQUEST_STATUS
        with world.store.read() as uow:
            history = [c.to_status for c in uow.requests.history(request_id)]
        assert history.count(Status.EXPIRED) == 1
        row = world.request_row(request_id)
        assert row["ended_at"] == world.clock.now()
        assert row["lease_owner"] is None
    assert world.ending.run_due() == 0


def test_each_request_of_a_batch_gets_its_own_expired_messages(world: World) -> None:
    ids = [world.active_request() for _ in range(3)]
    before = {i: len(status_messages_about(world, i)) for i in ids}
    world.clock.advance(HOUR)

    world.ending.run_due()

    for request_id in ids:
        added = status_messages_about(world, request_id)[before[request_id] :]
        assert len(added) == 2  # the requester and the audit channel
        assert all(request_id in text and "expired" in text for text in added)


def test_one_account_that_cannot_be_revoked_holds_back_only_its_own_request(
    world: World,
) -> None:
    stuck, *others = [world.active_request() for _ in range(4)]
    world.integrations[CACHE].refused.add(world.account_of(stuck))
    world.clock.advance(HOUR)

    assert world.ending.run_due() == 3

    assert world.status(stuck) is Status.ACTIVE
    assert world.grants(stuck)[CACHE] is GrantStatus.GRANTED
    assert AuditKind.REVOKE_FAILING in world.audit_kinds(stuck)
    for request_id in others:
        assert world.status(request_id) is Status.EXPIRED
        assert world.account_of(request_id) not in world.integrations[CACHE].granted
        assert AuditKind.REVOKE_FAILING not in world.audit_kinds(request_id)


def test_a_revoke_asked_for_and_an_expiry_in_one_batch_each_end_as_they_should(
    world: World,
) -> None:
    revoked = world.active_request()
    expired = world.active_request()
    with world.store.write() as uow:
        assert uow.grants.ask_revoke(request_id=revoked, by=ERIN.id, at=world.clock.now())
    world.clock.advance(HOUR)

    assert world.ending.run_due() == 2

    assert world.status(revoked) is Status.REVOKED
    assert world.status(expired) is Status.EXPIRED
    [by_erin] = [e for e in world.audit(revoked) if e.kind is AuditKind.REQUEST_STATUS][-1:]
    assert by_erin.actor == ERIN.id
    assert all(
        e.actor == ERIN.id for e in world.audit(revoked) if e.kind is AuditKind.ACCESS_REVOKED
    )


def test_a_request_ended_meanwhile_is_not_ended_twice_nor_holds_back_the_batch(
    world: World,
) -> None:
    ended, *others = [world.active_request() for _ in range(3)]
    world.clock.advance(HOUR)
    cache = world.integrations[CACHE]
    original = cache.revoke_many

    def end_one_first(*, accounts: Sequence[str]) -> RevokeOutcome:
        # Another instance records the end of one request while this one revokes.
        with world.store.write() as uow:
            uow.session.execute(
                update(RequestRow).where(RequestRow.id == ended).values(status="revoked")
            )
        return original(accounts=accounts)

    cache.revoke_many = end_one_first  # type: ignore[method-assign]

    assert world.ending.run_due() == 2

    with world.store.read() as uow:
        assert Status.EXPIRED not in [c.to_status for c in uow.requests.history(ended)]
    assert all(world.status(i) is Status.EXPIRED for i in others)


class _Deadlock(Exception):
    sqlstate = "40P01"


def test_a_batch_whose_record_loses_a_deadlock_is_recorded_again_not_revoked_again(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = [world.active_request() for _ in range(3)]
    world.clock.advance(HOUR)
    original = world.transitions.record_ends
    raced: list[int] = []

    def deadlocked_once(*args: Any, **kwargs: Any) -> Any:
        if not raced:
            raced.append(1)
            raise OperationalError("UPDATE requests ...", {}, _Deadlock())
        return original(*args, **kwargs)

    monkeypatch.setattr(world.transitions, "record_ends", deadlocked_once)

    assert world.ending.run_due() == 3

    assert raced == [1]
    assert all(world.status(i) is Status.EXPIRED for i in ids)
    assert len(world.integrations[CACHE].revoke_calls) == 3


def test_a_request_made_for_a_teammate_ends_in_a_batch_telling_both_and_naming_both(
    make_world: Callable[..., World],
) -> None:
    team = make_world(policy=TEAM_POLICY)
    team.directory.add(DAVE, groups=["@oncall"])
    for_dave = asked_for(team)
    team.approve(for_dave)
    team.provisioning.run_due()
    own = team.active_request()
    before = len(status_posts(team, DAVE.id))
    team.clock.advance(HOUR)

    assert team.ending.run_due() == 2

    assert team.status(for_dave) is Status.EXPIRED
    assert len(status_posts(team, DAVE.id)) == before + 1
    [ended] = [e for e in team.audit(for_dave) if e.kind is AuditKind.REQUEST_STATUS][-1:]
    assert ended.data["to"] == "expired"
    assert (ended.data["requested_by"], ended.data["grantee"]) == (ALICE.id, DAVE.id)
    [own_end] = [e for e in team.audit(own) if e.kind is AuditKind.REQUEST_STATUS][-1:]
    assert "grantee" not in own_end.data


def test_the_batch_reads_each_requests_approval_progress_as_the_single_path_does(
    world: World,
) -> None:
    ids = [world.active_request() for _ in range(3)]

    with world.store.read() as uow:
        many = uow.requests.progress_many(ids)
        single = {i: uow.requests.progress(i) for i in ids}

    assert many == single
    assert all(p is not None and p.steps for p in many.values())
