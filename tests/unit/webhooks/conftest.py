"""A real store (SQLite) where requests are submitted and change status the way the services
do it (the audit log is what request webhooks follow), and a manual clock."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest

from app.core.notifier import Notifier
from app.core.sealing import Sealer
from app.core.transitions import Transitions
from domain.audit import AuditEvent, AuditKind
from domain.clock import ManualClock
from domain.ids import RequestId, UserId, new_request_id
from domain.lifecycle import AccessRequest, Status
from domain.objects import AccessObject
from store.engine import make_engine
from store.migrate import upgrade
from store.repositories.requests import AskedApprover, RequesterSnapshot
from store.unit_of_work import Store

ALICE = UserId("U0ALICE")
BOB = UserId("U0BOB")


@dataclass
class World:
    store: Store
    clock: ManualClock
    transitions: Transitions

    def submit(self, *, flow: str = "developers", bundle: str | None = "incident") -> RequestId:
        now = self.clock.now()
        request = AccessRequest(
            id=new_request_id(),
            requester=ALICE,
            flow=flow,
            bundle=bundle,
            duration=timedelta(hours=1),
            justification="INC-7",
            status=Status.PENDING,
            created_at=now,
            last_actor=ALICE,
            last_change_at=now,
        )
        with self.store.write() as uow:
            uow.requests.add(
                request=request,
                requester=RequesterSnapshot(id=ALICE, name="Alice Doe", email="alice@example.com"),
                objects=[
                    AccessObject("prod-postgres", "sales.orders", "read_write"),
                    AccessObject("prod-redis", "orders:*", "read_only"),
                    AccessObject("prod-postgres", "sales.customers", "read_only"),
                ],
            )
            uow.audit.append(
                AuditEvent(
                    kind=AuditKind.REQUEST_SUBMITTED,
                    at=now,
                    actor=ALICE,
                    request_id=request.id,
                    data={"flow": flow},
                )
            )
            uow.requests.add_approvers(
                request_id=request.id,
                approvers=[AskedApprover(BOB, "Bob Stone", "bob@example.com", ("manager",))],
                at=now,
            )
        return request.id

    def move(self, request_id: RequestId, to: Status) -> None:
        """One status change, as the services record it (request, audit event, messages)."""
        self.clock.advance(timedelta(seconds=1))
        now = self.clock.now()
        with self.store.write() as uow:
            request = uow.requests.get(request_id)
            assert request is not None
            updated, change = {
                Status.APPROVED: lambda: request.approve(by=BOB, at=now),
                Status.DENIED: lambda: request.deny(by=BOB, at=now, reason="not now"),
                Status.CANCELED: lambda: request.cancel(by=ALICE, at=now),
                Status.GRANTING: lambda: request.start_granting(at=now),
                Status.ACTIVE: lambda: request.activate(at=now),
                Status.REVOKED: lambda: request.revoke(by=ALICE, at=now),
                Status.FAILED: lambda: request.fail(at=now, reason="boom"),
            }[to]()
            self.transitions.record(uow, request=updated, change=change)

    def through(self, request_id: RequestId, *statuses: Status) -> None:
        for status in statuses:
            self.move(request_id, status)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    engine = make_engine(f"sqlite:///{tmp_path / 'hooks.db'}")
    upgrade(engine)
    notifier = Notifier(audit_channel="C0AUDIT", sealer=Sealer.derived_from(secret="xapp-test"))
    yield World(
        store=Store(engine=engine),
        clock=ManualClock(),
        transitions=Transitions(notifier=notifier),
    )
    engine.dispose()
