"""Active requests written straight into the app's tables, thousands at a time.

The expiry benchmarks need up to 10,000 requests that are active with one grant each: through
the repositories (a transaction per status change) that takes minutes, and what is measured is
their ending, not their making. So, as ``bench/report_seeding.py`` does for the report,
rows are bulk-inserted in the shape the app's own transitions leave them: the request active
with its expiry, its four status changes (pending, approved, granting, active), its one object
and its one granted grant.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy import insert, update

from domain.ids import RequestId, account_name
from domain.lifecycle import Status
from store.models import GrantRow, RequestObjectRow, RequestRow, StatusChangeRow
from store.unit_of_work import Store

CHUNK: Final = 2_000
APPROVER: Final = "U0SEEDAPPROVER"
STEPS: Final = (Status.PENDING, Status.APPROVED, Status.GRANTING, Status.ACTIVE)


@dataclass(frozen=True, slots=True)
class ActiveRequest:
    id: RequestId
    requester: str
    expires_at: datetime
    integration: str
    resource: str
    permission: str = "read_only"

    @property
    def account(self) -> str:
        return account_name(self.id)


def _rows(request: ActiveRequest) -> dict[Any, list[dict[str, Any]]]:
    duration = timedelta(minutes=10)
    granted = request.expires_at - duration
    created = granted - timedelta(minutes=1)
    return {
        RequestRow: [
            {
                "id": request.id,
                "requester_id": request.requester,
                "requester_name": f"Requester {request.requester}",
                "requester_email": f"{request.requester.lower()}@example.com",
                "flow": "expiry",
                "bundle": None,
                "bundle_version": None,
                "automatic": False,
                "duration_seconds": int(duration.total_seconds()),
                "justification": "Benchmark: expiry",
                "object_count": 1,
                "status": Status.ACTIVE.value,
                "created_at": created,
                "last_actor": None,
                "last_change_at": granted,
                "decided_by": APPROVER,
                "decided_at": created,
                "granted_at": granted,
                "expires_at": request.expires_at,
                "reminders_sent": 0,
            }
        ],
        RequestObjectRow: [
            {
                "request_id": request.id,
                "integration": request.integration,
                "resource": request.resource,
                "permission": request.permission,
            }
        ],
        StatusChangeRow: [
            {
                "request_id": request.id,
                "from_status": None if before is None else before.value,
                "to_status": after.value,
                "actor": APPROVER if after is Status.APPROVED else None,
                "at": created if after in (Status.PENDING, Status.APPROVED) else granted,
                "reason": None,
            }
            for before, after in zip((None, *STEPS[:-1]), STEPS, strict=True)
        ],
        GrantRow: [
            {
                "request_id": request.id,
                "integration": request.integration,
                "account": request.account,
                "status": "granted",
                "granted_at": granted,
                "revoked_at": None,
            }
        ],
    }


def seed_active(store: Store, requests: Sequence[ActiveRequest]) -> None:
    """Insert ``requests`` as active, in chunks (one transaction each)."""
    for start in range(0, len(requests), CHUNK):
        tables: dict[Any, list[dict[str, Any]]] = {
            RequestRow: [],
            RequestObjectRow: [],
            StatusChangeRow: [],
            GrantRow: [],
        }
        for request in requests[start : start + CHUNK]:
            for table, rows in _rows(request).items():
                tables[table].extend(rows)
        with store.engine.begin() as connection:
            for table, rows in tables.items():
                connection.execute(insert(table), rows)


def make_due(store: Store, ids: Sequence[RequestId], *, at: datetime) -> None:
    """Move the expiry of ``ids`` to ``at`` in one transaction: they all fall due together."""
    with store.engine.begin() as connection:
        for start in range(0, len(ids), CHUNK):
            connection.execute(
                update(RequestRow)
                .where(RequestRow.id.in_(ids[start : start + CHUNK]))
                .values(expires_at=at)
            )
