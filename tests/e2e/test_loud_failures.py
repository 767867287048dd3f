"""Access that cannot be removed is never silent, and a grant that may have happened is revoked.

A revoke that keeps failing leaves the request active (the access still exists) and is
announced to the audit channel and the admins, shown on the request's details, and announced
again when it finally succeeds. A grant that timed out ("maybe granted") is revoked until its
server confirms, however long that takes.
"""

from __future__ import annotations

from typing import Any

import pytest

from domain.audit import AuditKind
from domain.ids import RequestId, UserId, account_name
from domain.lifecycle import Status
from store.repositories.grants import GrantStatus
from tests.e2e.conftest import StartBot
from tests.e2e.harness import ALICE, AUDIT, BOB, CAROL, Bot, standard_policy
from tests.e2e.messages import approval_requests, status, text_of, wait_status
from tests.e2e.modal_steps import request_bundle
from tests.fakes import RecordingIntegration

pytestmark = pytest.mark.e2e

FOREVER = 10**6
FAST_RETRIES: dict[str, Any] = {"work_lease_seconds": 1}
"""A failed revoke is tried again one lease later: a second here, a minute by default."""


def fakes(bot: Bot) -> dict[str, RecordingIntegration]:
    found = {}
    for name, integration in bot.app.integrations.items():
        assert isinstance(integration, RecordingIntegration)
        found[name] = integration
    return found


def approve(bot: Bot, request_id: str) -> None:
    bot.sim.wait_for(lambda: len(approval_requests(bot, BOB, request_id)) == 1)
    [ask] = approval_requests(bot, BOB, request_id)
    bot.sim.click(BOB, action_id="request.approve", message=(ask.channel, ask.ts))


def active_request(bot: Bot) -> RequestId:
    request_id = RequestId(request_bundle(bot, ALICE, "prod-incident"))
    approve(bot, request_id)
    wait_status(bot, request_id, Status.ACTIVE)
    return request_id


def alerts(bot: Bot, channel: str, words: str) -> list[str]:
    return [text_of(m) for m in bot.sim.messages(channel) if words in text_of(m)]


def audit_kinds(bot: Bot, request_id: str) -> list[AuditKind]:
    with bot.app.store.read() as uow:
        return [e.kind for e in uow.audit.for_request(RequestId(request_id))]


def grant_statuses(bot: Bot, request_id: str) -> dict[str, GrantStatus]:
    with bot.app.store.read() as uow:
        return {g.integration: g.status for g in uow.grants.for_request(RequestId(request_id))}


def test_a_revoke_that_keeps_failing_is_announced_until_it_succeeds(start: StartBot) -> None:
    bot = start(**FAST_RETRIES)
    request_id = active_request(bot)
    redis = fakes(bot)["prod-redis"]
    redis.fail_revokes = FOREVER
    bot.sim.slash_command(ALICE, text=f"revoke {request_id}")

    failing = "could not be removed yet"
    bot.sim.wait_for(lambda: alerts(bot, AUDIT, failing) and alerts(bot, CAROL, failing))
    [to_audit] = alerts(bot, AUDIT, failing)
    assert request_id in to_audit
    assert "prod-redis: unreachable" in to_audit
    assert status(bot, request_id) is Status.ACTIVE
    details = bot.app.services.home.details(request_id=request_id, viewer=UserId(ALICE))
    assert details is not None
    assert details.removal_problem == "access could not be removed yet: prod-redis: unreachable"
    # Retried every lease, but announced again only after the back-off (minutes).
    bot.sim.wait_for(lambda: redis.revoke_calls.count(account_name(request_id)) >= 6, timeout=20)
    assert len(alerts(bot, AUDIT, failing)) == 1

    redis.fail_revokes = 0
    wait_status(bot, request_id, Status.REVOKED)
    recovered = "is removed now"
    bot.sim.wait_for(lambda: alerts(bot, AUDIT, recovered) and alerts(bot, CAROL, recovered))
    kinds = audit_kinds(bot, request_id)
    assert kinds.count(AuditKind.REVOKE_FAILING) == 1
    assert kinds.count(AuditKind.REVOKE_RECOVERED) == 1
    details = bot.app.services.home.details(request_id=request_id, viewer=UserId(ALICE))
    assert details is not None
    assert details.removal_problem is None


def test_an_integration_gone_from_the_configuration_while_holding_grants_is_reported(
    start: StartBot, tmp_path: Any
) -> None:
    database_url = f"sqlite:///{tmp_path}/gone.db"
    first = start(database_url=database_url)
    request_id = active_request(first)
    first.app.stop(wait_for_socket=False)

    policy = standard_policy()
    kept = {i.name: RecordingIntegration(name=i.name) for i in policy.integrations}
    del kept["prod-redis"]
    second = start(
        sim=first.sim, database_url=database_url, integrations=kept, connections=2, **FAST_RETRIES
    )
    second.sim.slash_command(ALICE, text=f"revoke {request_id}")
    failing = "prod-redis is no longer configured"
    second.sim.wait_for(lambda: alerts(second, AUDIT, failing))
    assert status(second, request_id) is Status.ACTIVE
    assert grant_statuses(second, request_id)["prod-redis"] is GrantStatus.GRANTED


def test_a_grant_that_timed_out_is_revoked_and_the_request_fails(start: StartBot) -> None:
    bot = start(**FAST_RETRIES)
    redis = fakes(bot)["prod-redis"]
    redis.uncertain_grants = FOREVER
    request_id = RequestId(request_bundle(bot, ALICE, "prod-incident"))
    approve(bot, request_id)
    wait_status(bot, request_id, Status.FAILED)

    account = account_name(request_id)
    assert account in redis.revoke_calls
    assert account not in redis.granted
    assert grant_statuses(bot, request_id)["prod-redis"] is GrantStatus.REVOKED
    assert AuditKind.GRANT_UNCERTAIN in audit_kinds(bot, request_id)
    assert not alerts(bot, AUDIT, "could not be removed yet")


def test_a_grant_that_timed_out_is_revoked_until_its_server_confirms(start: StartBot) -> None:
    bot = start(**FAST_RETRIES)
    redis = fakes(bot)["prod-redis"]
    redis.uncertain_grants = FOREVER
    redis.fail_revokes = FOREVER
    request_id = RequestId(request_bundle(bot, ALICE, "prod-incident"))
    approve(bot, request_id)
    wait_status(bot, request_id, Status.FAILED)

    account = account_name(request_id)
    assert grant_statuses(bot, request_id)["prod-redis"] is GrantStatus.UNCERTAIN
    failing = "could not be removed yet"
    bot.sim.wait_for(lambda: alerts(bot, AUDIT, failing))
    assert account in redis.granted  # the fake did apply it: that is what "uncertain" means

    redis.fail_revokes = 0
    bot.sim.wait_for(lambda: grant_statuses(bot, request_id)["prod-redis"] is GrantStatus.REVOKED)
    assert account not in redis.granted
    bot.sim.wait_for(lambda: alerts(bot, AUDIT, "is removed now"))
    assert status(bot, request_id) is Status.FAILED
