"""Requests for report tests, written the way the app writes them.

Requests, decisions and approvers go through the repositories; grants and end times are plain
inserts and updates, standing in for the provisioning services.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert, update

from app.reports.csv import ReportService
from domain.clock import ManualClock
from domain.ids import RequestId, UserId, new_request_id
from domain.lifecycle import AccessRequest, Status, StatusChange
from domain.objects import AccessObject
from domain.report_filters import parse_filters
from store.models import GrantRow
from store.repositories.requests import AskedApprover, RequestColumns, RequesterSnapshot
from store.unit_of_work import Store

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
ALICE = RequesterSnapshot(id=UserId("U0ALICE"), name="Alice Doe", email="alice@example.com")
CAROL = RequesterSnapshot(id=UserId("U0CAROL"), name="Carol Poe", email="carol@example.com")
BOB = AskedApprover(
    id=UserId("U0BOB"), name="Bob Roe", email="bob@example.com", reasons=("manager",)
)
DAN = AskedApprover(id=UserId("U0DAN"), name="Dan Moe", email="dan@example.com", reasons=())

INCIDENT_OBJECTS = (
    AccessObject("prod-postgres", "sales.orders", "read_write"),
    AccessObject("prod-postgres", "sales.customers", "read_only"),
    AccessObject("prod-postgres", "sales.*", "read_only"),
    AccessObject("prod-mysql", "shop.*", "read_only"),
    AccessObject("prod-redis", "orders:*", "read_write"),
    AccessObject("prod-redis", "carts:*", "read_write"),
)


def submit(
    store: Store,
    *,
    at: datetime = T0,
    requester: RequesterSnapshot = ALICE,
    objects: Sequence[AccessObject] = INCIDENT_OBJECTS,
    bundle: str | None = "prod-incident",
    flow: str = "developers",
    automatic: bool = False,
    justification: str = "INC-42: orders stuck",
    approvers: Sequence[AskedApprover] = (BOB, DAN),
    request_id: RequestId | None = None,
) -> AccessRequest:
    request = AccessRequest(
        id=request_id or new_request_id(),
        requester=requester.id,
        flow=flow,
        bundle=bundle,
        duration=timedelta(hours=1),
        justification=justification,
        status=Status.PENDING,
        created_at=at,
        automatic=automatic,
    )
    with store.write() as uow:
        uow.requests.add(request=request, requester=requester, objects=objects, bundle_version=1)
        if not automatic:
            uow.requests.add_approvers(request_id=request.id, approvers=approvers, at=at)
    return request


def _apply(
    store: Store,
    moved: tuple[AccessRequest, StatusChange],
    *,
    ended: bool = False,
) -> AccessRequest:
    request, change = moved
    with store.write() as uow:
        if ended:
            uow.requests.apply(
                change=change, request=request, columns=RequestColumns(ended_at=change.at)
            )
        else:
            uow.requests.apply(change=change, request=request)
    return request


def deny(store: Store, request: AccessRequest, *, by: UserId, at: datetime, reason: str) -> None:
    _apply(store, request.deny(by=by, at=at, reason=reason), ended=True)


def activate(
    store: Store, request: AccessRequest, *, by: UserId | None, at: datetime
) -> AccessRequest:
    """Approve (``by=None`` for an automatic flow) and grant every integration at ``at``."""
    request = _apply(store, request.approve(by=by, at=at))
    request = _apply(store, request.start_granting(at=at))
    with store.write() as uow:
        integrations = sorted({o.integration for o in uow.requests.objects(request.id)})
        uow.session.execute(
            insert(GrantRow),
            [
                {
                    "request_id": request.id,
                    "integration": integration,
                    "account": "jit_" + request.id[3:].lower(),
                    "status": "granted",
                    "granted_at": at,
                }
                for integration in integrations
            ],
        )
    return _apply(store, request.activate(at=at))


def revoke_grant(store: Store, request: AccessRequest, *, integration: str, at: datetime) -> None:
    with store.write() as uow:
        uow.session.execute(
            update(GrantRow)
            .where(GrantRow.request_id == request.id, GrantRow.integration == integration)
            .values(status="revoked", revoked_at=at)
        )


def expire(store: Store, request: AccessRequest, *, at: datetime) -> None:
    """End the request and revoke every grant it still has, at ``at``."""
    _apply(store, request.expire(at=at), ended=True)
    with store.write() as uow:
        uow.session.execute(
            update(GrantRow)
            .where(GrantRow.request_id == request.id, GrantRow.revoked_at.is_(None))
            .values(status="revoked", revoked_at=at)
        )


def export(store: Store, filters: str = "", *, now: datetime = T0) -> list[dict[str, str]]:
    """The report for ``filters`` as rows of header → cell, read back with the csv module."""
    buffer = io.StringIO(newline="")
    ReportService(store=store, clock=ManualClock(start=now)).write_csv(
        spec=parse_filters(filters), out=buffer
    )
    return list(csv.DictReader(io.StringIO(buffer.getvalue(), newline="")))
