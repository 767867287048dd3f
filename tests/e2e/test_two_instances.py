"""Two app instances on one PostgreSQL: every due request ends exactly once (issue 5)."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import pytest

from app.integrations.base import (
    AccessDetails,
    GrantItem,
    Integration,
    Resource,
    RevokeOutcome,
)
from app.integrations.redis import RedisIntegration
from domain.clock import SystemClock
from domain.connections import RESOLVED, RedisConnection
from domain.ids import RequestId, UserId, account_name, new_request_id
from domain.lifecycle import AccessRequest, Status
from domain.objects import AccessObject
from slacksim.pytest_plugin import SimulatorFactory
from store.repositories.grants import GrantStatus
from store.repositories.requests import RequesterSnapshot
from store.unit_of_work import Store
from tests.e2e.conftest import StartBot
from tests.e2e.harness import ALICE, AUDIT, standard_policy, workspace
from tests.e2e.messages import outbox_empty

pytestmark = [pytest.mark.e2e, pytest.mark.integration]


class Counting:
    """Wraps a real integration and counts revokes per account, across both instances."""

    def __init__(self, inner: Integration) -> None:
        self._inner = inner
        self.revokes: Counter[str] = Counter()
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return self._inner.name

    @property
    def type_name(self) -> str:
        return self._inner.type_name

    def permissions(self) -> Sequence[str]:
        return self._inner.permissions()

    def discover(self) -> list[Resource]:
        return self._inner.discover()

    def grant(self, *, account: str, items: Sequence[GrantItem], until: datetime) -> AccessDetails:
        return self._inner.grant(account=account, items=items, until=until)

    def revoke(self, *, account: str) -> None:
        self._inner.revoke(account=account)
        with self._lock:
            self.revokes[account] += 1

    def revoke_many(self, *, accounts: Sequence[str]) -> RevokeOutcome:
        outcome = self._inner.revoke_many(accounts=accounts)
        with self._lock:
            self.revokes.update(a for a, error in outcome.items() if error is None)
        return outcome

    def extend(self, *, account: str, until: datetime) -> None:
        self._inner.extend(account=account, until=until)

    def accounts(self) -> list[str] | None:
        return self._inner.accounts()

    def preflight(self) -> list[str]:
        return self._inner.preflight()

    def safeguard_problem(self) -> str | None:
        return self._inner.safeguard_problem()

    def check(self) -> None:
        self._inner.check()


def seed_active(store: Store, redis: Integration, *, count: int, due: datetime) -> list[RequestId]:
    """Active requests whose Redis users really exist and whose time is up."""
    ids: list[RequestId] = []
    for _ in range(count):
        request_id = new_request_id()
        request = AccessRequest(
            id=request_id, requester=UserId(ALICE), flow="developers", bundle=None,
            duration=timedelta(minutes=1), justification="load", status=Status.PENDING,
            created_at=due - timedelta(minutes=2), last_actor=UserId(ALICE),
            last_change_at=due - timedelta(minutes=2),
        )  # fmt: skip
        item = AccessObject("prod-redis", f"load:{request_id}:*", "read_only")
        redis.grant(
            account=account_name(request_id), items=[GrantItem(item.resource, item.permission)],
            until=due,
        )  # fmt: skip
        with store.write() as uow:
            uow.requests.add(
                request=request,
                requester=RequesterSnapshot(id=UserId(ALICE), name="Alice Doe", email=None),
                objects=[item],
            )
            at = due - timedelta(minutes=1)
            for step in ("approve", "start_granting", "activate"):
                kwargs: dict[str, Any] = {"at": at}
                if step == "approve":
                    kwargs["by"] = UserId("U0BOB")
                request, change = getattr(request, step)(**kwargs)
                uow.requests.apply(change=change, request=request)
            uow.grants.record(
                request_id=request_id, integration="prod-redis",
                account=account_name(request_id), status=GrantStatus.GRANTED, at=at,
            )  # fmt: skip
        ids.append(request_id)
    return ids


def test_two_instances_on_postgresql_end_200_due_requests_exactly_once(
    start: StartBot, slack_sim_factory: SimulatorFactory, pg_database_url: str
) -> None:
    from tests.conftest import _reset_postgres

    _reset_postgres(pg_database_url)
    sim = slack_sim_factory(workspace=workspace())
    policy = standard_policy()
    redis = Counting(
        RedisIntegration(
            name="prod-redis",
            connection=RedisConnection.model_validate(
                {"url": "redis://127.0.0.1:6379/0"}, context={RESOLVED: True}
            ),
        )
    )
    integrations: dict[str, Integration] = {"prod-redis": redis}
    first = start(sim=sim, policy=policy, database_url=pg_database_url, integrations=integrations,
                  sweeps=False)  # fmt: skip
    ids = seed_active(first.app.store, redis, count=200, due=SystemClock().now())
    second = start(sim=sim, policy=policy, database_url=pg_database_url,
                   integrations=integrations, sweeps=False, connections=2)  # fmt: skip

    ended: dict[str, int] = {}

    def sweep(name: str, bot: Any) -> None:
        ended[name] = bot.app.services.ending.run_due()

    racers = [
        threading.Thread(target=sweep, args=(name, bot))
        for name, bot in (("first", first), ("second", second))
    ]
    for racer in racers:
        racer.start()
    for racer in racers:
        racer.join()

    with first.app.store.read() as uow:
        histories = {i: [c.to_status for c in uow.requests.history(i)] for i in ids}
    assert all(h.count(Status.EXPIRED) == 1 for h in histories.values())
    assert all(h[-1] is Status.EXPIRED for h in histories.values())
    assert sorted(redis.revokes.values()) == [1] * 200
    assert redis.revokes.keys() == {account_name(i) for i in ids}
    assert sum(ended.values()) == 200, ended
    # Each message went out once, whichever instance's relay sent it.
    sim.wait_for(
        lambda: len(sim.messages(AUDIT)) >= 200 and len(sim.messages(ALICE)) >= 200, timeout=30
    )
    sim.wait_for(lambda: outbox_empty(first), timeout=30)
    assert len(sim.messages(AUDIT)) == 200
    assert len(sim.messages(ALICE)) == 200
