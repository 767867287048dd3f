"""Request webhooks: each subscription's cursor in the audit log, and the request events read
from it.

The audit log is the ordered record of every request's submission and status changes, and its
appends are serialised (a transaction-scoped lock on PostgreSQL, SQLite's write lock), so its ids
become visible in increasing order: a cursor that has read up to an id never misses a smaller one
committed later (docs/architecture.md, "Request webhooks").
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from domain.audit import AuditKind
from domain.ids import RequestId, UserId
from store.models import AuditEventRow, RequestWebhookCursorRow

REQUEST_KINDS: Final = (
    AuditKind.REQUEST_SUBMITTED.value,
    AuditKind.REQUEST_STATUS.value,
    AuditKind.EXTENDED.value,
    AuditKind.BREAK_GLASS_USED.value,
)
HISTORY_KINDS: Final = (*REQUEST_KINDS, AuditKind.APPROVAL_RECORDED.value)
"""What a payload is built from: the delivered kinds and each approval counted in a step that did
not yet decide the request (README, "Approval steps"), which is never delivered on its own."""


@dataclass(frozen=True, slots=True)
class Cursor:
    name: str
    position: int
    failures: int
    last_error: str | None
    next_attempt_at: datetime | None
    delivered_at: datetime | None


@dataclass(frozen=True, slots=True)
class RequestEntry:
    """One audit event about a request: its submission, one status change, ... (the kinds of
    :data:`REQUEST_KINDS`, and in a history :data:`HISTORY_KINDS`)."""

    id: int
    hash: str
    kind: AuditKind
    at: datetime
    actor: UserId | None
    request_id: RequestId
    data: dict[str, Any]


class RequestWebhookRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    # -- cursors ---------------------------------------------------------------------------

    def ensure(self, *, names: Iterable[str], at: datetime) -> list[str]:
        """Give each subscription seen for the first time a cursor at the end of the log (it is
        told about what happens from now on); returns the names that were new."""
        wanted = list(dict.fromkeys(names))
        if not wanted:
            return []
        known = set(
            self._session.scalars(
                select(RequestWebhookCursorRow.name).where(RequestWebhookCursorRow.name.in_(wanted))
            )
        )
        new = [name for name in wanted if name not in known]
        if new:
            end = self.end_of_log()
            for name in new:
                self._session.add(
                    RequestWebhookCursorRow(name=name, position=end, failures=0, created_at=at)
                )
            self._session.flush()
        return new

    def get(self, name: str) -> Cursor | None:
        row = self._session.get(RequestWebhookCursorRow, name)
        return _cursor(row) if row else None

    def claim(self, *, name: str, owner: str, now: datetime, lease: timedelta) -> Cursor | None:
        """Take the subscription for ``lease`` when no one holds it and its next attempt is
        due; ``None`` otherwise. A compare-and-swap, so two instances never both deliver."""
        row = self._session.get(RequestWebhookCursorRow, name)
        if row is None:
            return None
        result = self._session.execute(
            update(RequestWebhookCursorRow)
            .where(RequestWebhookCursorRow.name == name)
            # Not even the same owner twice: two threads of one instance (a timer and a wake-up)
            # must not send for one subscription at once either.
            .where(
                RequestWebhookCursorRow.lease_until.is_(None)
                | (RequestWebhookCursorRow.lease_until < now)
            )
            .where(
                RequestWebhookCursorRow.next_attempt_at.is_(None)
                | (RequestWebhookCursorRow.next_attempt_at <= now)
            )
            .values(lease_owner=owner, lease_until=now + lease)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            return None
        self._session.refresh(row)
        return _cursor(row)

    def advance(
        self, *, name: str, owner: str, position: int, at: datetime, lease: timedelta
    ) -> bool:
        """Record that everything up to ``position`` is done (and renew the lease); ``False``
        when the lease was lost to another instance."""
        result = self._session.execute(
            update(RequestWebhookCursorRow)
            .where(RequestWebhookCursorRow.name == name)
            .where(RequestWebhookCursorRow.lease_owner == owner)
            .where(RequestWebhookCursorRow.position <= position)
            .values(
                position=position,
                failures=0,
                last_error=None,
                next_attempt_at=None,
                delivered_at=at,
                lease_until=at + lease,
            )
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    def failed(self, *, name: str, owner: str, error: str, not_before: datetime) -> None:
        self._session.execute(
            update(RequestWebhookCursorRow)
            .where(RequestWebhookCursorRow.name == name)
            .where(RequestWebhookCursorRow.lease_owner == owner)
            .values(
                failures=RequestWebhookCursorRow.failures + 1,
                last_error=error[:500],
                next_attempt_at=not_before,
                lease_owner=None,
                lease_until=None,
            )
            .execution_options(synchronize_session=False)
        )

    def release(self, *, name: str, owner: str) -> None:
        self._session.execute(
            update(RequestWebhookCursorRow)
            .where(RequestWebhookCursorRow.name == name)
            .where(RequestWebhookCursorRow.lease_owner == owner)
            .values(lease_owner=None, lease_until=None)
            .execution_options(synchronize_session=False)
        )

    # -- the events ------------------------------------------------------------------------

    def end_of_log(self) -> int:
        return int(self._session.scalar(select(func.max(AuditEventRow.id))) or 0)

    def entries_after(self, position: int, *, limit: int) -> list[RequestEntry]:
        """The next request events after ``position``, oldest first."""
        rows = self._session.scalars(
            select(AuditEventRow)
            .where(AuditEventRow.id > position)
            .where(AuditEventRow.kind.in_(REQUEST_KINDS))
            .order_by(AuditEventRow.id)
            .limit(limit)
        )
        return [_entry(row) for row in rows if row.request_id]

    def history(self, request_id: RequestId, *, up_to: int) -> list[RequestEntry]:
        """A request's events up to and including the audit event ``up_to``, oldest first: what
        was known when that event happened, however late it is delivered."""
        rows = self._session.scalars(
            select(AuditEventRow)
            .where(AuditEventRow.request_id == request_id)
            .where(AuditEventRow.id <= up_to)
            .where(AuditEventRow.kind.in_(HISTORY_KINDS))
            .order_by(AuditEventRow.id)
        )
        return [_entry(row) for row in rows]


def _cursor(row: RequestWebhookCursorRow) -> Cursor:
    return Cursor(
        name=row.name,
        position=row.position,
        failures=row.failures,
        last_error=row.last_error,
        next_attempt_at=row.next_attempt_at,
        delivered_at=row.delivered_at,
    )


def _entry(row: AuditEventRow) -> RequestEntry:
    return RequestEntry(
        id=row.id,
        hash=row.hash or "",
        kind=AuditKind(row.kind),
        at=row.at,
        actor=UserId(row.actor) if row.actor else None,
        request_id=RequestId(row.request_id or ""),
        data=dict(row.data or {}),
    )
