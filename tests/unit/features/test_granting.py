"""Granting (``app/granting/provisioning.py``): all or nothing, every grant written down before
it is made, and eligibility checked once more just before (docs/architecture.md, "No standing
access")."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from app.integrations.base import AccessDetails, GrantItem
from domain.audit import AuditKind
from domain.ids import account_name
from domain.lifecycle import Status
from domain.policy import BundleSpec
from store.repositories.grants import GrantStatus
from tests.fakes import RecordingIntegration
from tests.unit.features.world import (
    ALICE,
    CACHE,
    DAVE,
    DB,
    ONCALL_DB,
    ORDERS,
    World,
    object_specs,
)


@dataclass
class Observing(RecordingIntegration):
    """Calls ``before_grant`` with the account just before granting it."""

    before_grant: Callable[[str], None] = lambda account: None

    def grant(self, *, account: str, items: Sequence[GrantItem], until: datetime) -> AccessDetails:
        self.before_grant(account)
        return super().grant(account=account, items=items, until=until)


def credentials_sent(world: World) -> int:
    return sum(1 for m in world.outbox(channel=ALICE.id) if m.sealed is not None)


def test_an_approved_request_is_granted_in_every_integration_and_becomes_active(
    world: World,
) -> None:
    request_id = world.approved_request()

    assert world.provisioning.run_due() == 1

    account = account_name(request_id)
    assert world.status(request_id) is Status.ACTIVE
    assert world.grants(request_id) == {DB: GrantStatus.GRANTED, CACHE: GrantStatus.GRANTED}
    assert {i.resource for i in world.integrations[DB].granted[account]} == {
        "sales.orders",
        "sales.customers",
    }
    assert [i.resource for i in world.integrations[CACHE].granted[account]] == ["orders:*"]
    assert world.audit_kinds(request_id).count(AuditKind.ACCESS_GRANTED) == 2
    assert credentials_sent(world) == 2
    row = world.request_row(request_id)
    assert row["expires_at"] == world.clock.now() + timedelta(hours=1)
    assert row["lease_owner"] is None


def test_every_grant_is_written_uncertain_before_any_integration_is_called(
    make_world: Callable[..., World],
) -> None:
    seen: list[dict[str, GrantStatus]] = []
    db, cache = Observing(name=DB), Observing(name=CACHE)
    world = make_world(integrations={DB: db, CACHE: cache})
    request_id = world.approved_request()
    db.before_grant = cache.before_grant = lambda account: seen.append(world.grants(request_id))

    world.provisioning.run_due()

    assert len(seen) == 2
    assert seen[0] == {DB: GrantStatus.UNCERTAIN, CACHE: GrantStatus.UNCERTAIN}
    assert world.status(request_id) is Status.ACTIVE


def test_when_one_integration_refuses_the_others_are_rolled_back_and_the_request_fails(
    world: World,
) -> None:
    world.integrations[DB].fail_grants = 3  # every retry
    request_id = world.approved_request()

    world.provisioning.run_due()

    account = account_name(request_id)
    assert world.status(request_id) is Status.FAILED
    # prod-cache was granted first (objects come in integration order), then taken back.
    assert world.integrations[CACHE].grant_calls == [account]
    assert world.integrations[CACHE].revoke_calls == [account]
    assert world.grants(request_id) == {CACHE: GrantStatus.REVOKED, DB: GrantStatus.FAILED}
    assert account not in world.integrations[CACHE].granted
    assert account not in world.integrations[DB].granted
    assert AuditKind.GRANT_FAILED in world.audit_kinds(request_id)
    assert AuditKind.ACCESS_GRANTED not in world.audit_kinds(request_id)
    assert credentials_sent(world) == 0
    assert world.sleeps == [0.5, 1.0]


def test_a_refusal_that_passes_within_the_retries_still_grants(world: World) -> None:
    world.integrations[DB].fail_grants = 1
    request_id = world.approved_request()

    world.provisioning.run_due()

    assert world.status(request_id) is Status.ACTIVE
    assert world.sleeps == [0.5]


def test_a_grant_that_timed_out_is_revoked_in_the_rollback(world: World) -> None:
    world.integrations[CACHE].uncertain_grants = 3
    request_id = world.approved_request()

    world.provisioning.run_due()

    assert world.status(request_id) is Status.FAILED
    assert account_name(request_id) in world.integrations[CACHE].revoke_calls
    assert account_name(request_id) not in world.integrations[CACHE].granted
    assert world.grants(request_id)[CACHE] is GrantStatus.REVOKED
    assert AuditKind.GRANT_UNCERTAIN in world.audit_kinds(request_id)


def test_a_timed_out_grant_whose_revoke_fails_stays_uncertain_and_is_announced(
    world: World,
) -> None:
    world.integrations[CACHE].uncertain_grants = 3
    world.integrations[CACHE].fail_revokes = 3
    request_id = world.approved_request()

    world.provisioning.run_due()

    assert world.status(request_id) is Status.FAILED
    assert world.grants(request_id)[CACHE] is GrantStatus.UNCERTAIN
    assert AuditKind.REVOKE_FAILING in world.audit_kinds(request_id)
    with world.store.read() as uow:
        assert uow.removals.get(request_id) is not None


def test_an_integration_missing_from_the_configuration_fails_the_request(
    make_world: Callable[..., World],
) -> None:
    world = make_world(integrations={DB: RecordingIntegration(name=DB)})
    request_id = world.approved_request()

    world.provisioning.run_due()

    assert world.status(request_id) is Status.FAILED
    assert account_name(request_id) not in world.integrations[DB].granted


def test_a_request_whose_flow_was_deactivated_after_approval_is_never_granted(
    world: World,
) -> None:
    request_id = world.approved_request()
    world.catalog.save_flow(ONCALL_DB.model_copy(update={"active": False}), by="U0ERIN")

    world.provisioning.run_due()

    assert world.status(request_id) is Status.FAILED
    assert world.integrations[DB].grant_calls == []
    assert world.integrations[CACHE].grant_calls == []
    assert world.grants(request_id) == {}
    assert AuditKind.ELIGIBILITY_REFUSED in world.audit_kinds(request_id)


def test_a_requester_who_left_the_grantee_group_after_approval_is_never_granted(
    world: World,
) -> None:
    world.directory.add(DAVE, groups=["@oncall"])
    request_id = world.approved_request(user=DAVE)
    world.directory.leave(DAVE.id, "@oncall")

    world.provisioning.run_due()

    assert world.status(request_id) is Status.FAILED
    assert world.integrations[DB].grant_calls == []


def test_a_bundle_changed_after_approval_is_never_granted_stale(world: World) -> None:
    request_id = world.approved_request()
    world.catalog.save_bundle(
        BundleSpec(name="db-read", objects=object_specs([ORDERS])), by="U0ERIN"
    )

    world.provisioning.run_due()

    assert world.status(request_id) is Status.FAILED
    assert world.integrations[DB].grant_calls == []


def test_a_request_is_granted_once_however_often_the_worker_runs(world: World) -> None:
    request_id = world.approved_request()

    world.provisioning.run_due()
    world.provisioning.run_due()

    assert world.integrations[DB].grant_calls == [account_name(request_id)]
    assert world.status(request_id) is Status.ACTIVE
