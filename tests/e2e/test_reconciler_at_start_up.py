"""The reconciler and the sweepers at start-up, against the real servers of this machine: what a
bot that was down, or a database that lost rows, left on the targets is gone within one pass."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from app.bootstrap import integrations_from
from app.integrations.base import GrantItem, Integration
from demo.targets import Targets, demo_targets
from domain.audit import AuditKind
from domain.clock import SystemClock
from domain.ids import RequestId, UserId, account_name, new_request_id
from domain.lifecycle import AccessRequest, Status
from domain.objects import AccessObject
from domain.policy import Policy
from store.engine import make_engine
from store.migrate import upgrade
from store.repositories.grants import GrantStatus
from store.repositories.requests import RequesterSnapshot
from store.unit_of_work import Store
from tests.e2e.conftest import StartBot
from tests.e2e.harness import ALICE, AUDIT
from tests.e2e.messages import text_of, wait_status

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def targets() -> Iterator[Targets]:
    with demo_targets() as found:
        if set(found.kinds.values()) != {"postgresql", "mysql", "redis"}:
            pytest.fail(f"the real servers must run on this machine: {found.notes}")
        yield found


def real(targets: Targets) -> dict[str, Integration]:
    return integrations_from(Policy.model_validate({"integrations": targets.integrations}), env={})


def items_by_integration(targets: Targets) -> dict[str, list[GrantItem]]:
    grouped: dict[str, list[GrantItem]] = {}
    for o in targets.objects:
        grouped.setdefault(o["integration"], []).append(GrantItem(o["resource"], o["permission"]))
    return grouped


def migrated(database_url: str) -> Store:
    store = Store(engine=make_engine(database_url))
    upgrade(store.engine)
    return store


def seed_active_on_servers(
    store: Store, targets: Targets, integrations: dict[str, Integration], *, ago: timedelta
) -> RequestId:
    """An active request whose accounts really exist on the servers, due ``ago`` ago."""
    now = SystemClock().now()
    request_id = new_request_id()
    request = AccessRequest(
        id=request_id, requester=UserId(ALICE), flow="developers", bundle=None,
        duration=timedelta(minutes=1), justification="seeded", status=Status.PENDING,
        created_at=now - ago - timedelta(minutes=5), last_actor=UserId(ALICE),
        last_change_at=now - ago - timedelta(minutes=5),
    )  # fmt: skip
    objects = [
        AccessObject(o["integration"], o["resource"], o["permission"]) for o in targets.objects
    ]
    for name, items in items_by_integration(targets).items():
        integrations[name].grant(account=account_name(request_id), items=items, until=now + ago)
    with store.write() as uow:
        uow.requests.add(
            request=request,
            requester=RequesterSnapshot(id=UserId(ALICE), name="Alice Doe", email=None),
            objects=objects,
        )
        at = now - ago - timedelta(minutes=1)
        for step in ("approve", "start_granting", "activate"):
            kwargs: dict[str, Any] = {"at": at}
            if step == "approve":
                kwargs["by"] = UserId("U0BOB")
            request, change = getattr(request, step)(**kwargs)
            uow.requests.apply(change=change, request=request)
        for name in integrations:
            uow.grants.record(
                request_id=request_id, integration=name, account=account_name(request_id),
                status=GrantStatus.GRANTED, at=at,
            )  # fmt: skip
    return request_id


def holders(integrations: dict[str, Integration], account: str) -> list[str]:
    return sorted(name for name, i in integrations.items() if account in (i.accounts() or []))


def test_accounts_whose_request_rows_were_deleted_are_removed_at_start_up(
    start: StartBot, targets: Targets, tmp_path: Path
) -> None:
    integrations = real(targets)
    orphan = account_name(new_request_id())  # a request the bot's database never heard of
    until = SystemClock().now() + timedelta(hours=1)
    for name, items in items_by_integration(targets).items():
        integrations[name].grant(account=orphan, items=items, until=until)
    assert holders(integrations, orphan) == sorted(integrations)

    started = time.monotonic()
    bot = start(database_url=f"sqlite:///{tmp_path}/rows-lost.db", integrations=integrations)
    bot.sim.wait_for(lambda: not holders(integrations, orphan), timeout=30)
    assert time.monotonic() - started < 30

    def audited() -> list[str]:
        """Integrations whose removal is in the audit log: each is written just after its
        server's removal, so the last may land a moment after the servers are clear."""
        with bot.app.store.read() as uow:
            events = uow.audit.kinds(kind=AuditKind.RECONCILED)
        return sorted(e.data["integration"] for e in events if e.data["account"] == orphan)

    bot.sim.wait_for(lambda: audited() == sorted(integrations), timeout=10)
    bot.sim.wait_for(lambda: len([m for m in bot.sim.messages(AUDIT) if orphan in text_of(m)]) == 3)


def test_mariadb_and_redis_accounts_left_by_a_bot_that_was_down_past_expiry_are_gone_at_start_up(
    start: StartBot, targets: Targets, tmp_path: Path
) -> None:
    integrations = real(targets)
    database_url = f"sqlite:///{tmp_path}/was-down.db"
    store = migrated(database_url)
    request_id = seed_active_on_servers(store, targets, integrations, ago=timedelta(hours=2))
    store.dispose()
    account = account_name(request_id)
    assert holders(integrations, account) == sorted(integrations)

    bot = start(database_url=database_url, integrations=integrations)
    wait_status(bot, request_id, Status.EXPIRED, timeout=30)
    assert holders(integrations, account) == []
