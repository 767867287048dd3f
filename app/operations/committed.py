"""Decisions, reconciler removals and expiry lateness, counted from what transactions commit.

The services already write every one of these facts down (docs/architecture.md, "Lifecycle":
a status change lands with its audit event), so the counters watch the engine instead of the
services: the audit events and request updates a transaction executes are held per connection
and counted only once it commits. A rolled-back transaction (or savepoint: the ending sweeper
keeps one per request) counts nothing, so two instances racing for one click count one decision.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, Final

from sqlalchemy import Engine, event, select
from sqlalchemy.engine import Connection
from sqlalchemy.sql import Insert, Update

from app.operations.metrics import Metrics
from domain.audit import AuditKind
from domain.lifecycle import Status
from store.models import AuditEventRow, RequestRow
from store.repositories.requests import NEW_VALUE

_PENDING: Final = "jit_metrics_pending"
_MARKS: Final = "jit_metrics_savepoints"
# By name: the ORM hands the engine annotated copies of the tables.
_AUDIT: Final = AuditEventRow.__tablename__
_REQUESTS: Final = RequestRow.__tablename__
_DECIDED: Final = {Status.APPROVED.value: "approved", Status.DENIED.value: "denied"}

Count = Callable[[], None]


def count_committed(engine: Engine, *, metrics: Metrics) -> None:
    """Listen on ``engine`` (its write and read engines share the listeners)."""

    def pending(conn: Connection) -> list[Count]:
        found: list[Count] = conn.info.setdefault(_PENDING, [])
        return found

    def marks(conn: Connection) -> list[int]:
        found: list[int] = conn.info.setdefault(_MARKS, [])
        return found

    @event.listens_for(engine, "after_execute")
    def _executed(
        conn: Connection,
        statement: Any,
        multiparams: Sequence[Mapping[str, Any]],
        params: Mapping[str, Any],
        _options: Any,
        _result: Any,
    ) -> None:
        if isinstance(statement, Insert) and _table(statement) == _AUDIT:
            rows = list(multiparams) or [params]
            pending(conn).extend(c for row in rows if (c := _audit_count(row, metrics)))
        elif isinstance(statement, Update) and _table(statement) == _REQUESTS:
            values = _set_values(statement, params)
            count = _end_count(values, metrics) or _batch_end_count(
                conn, values, ids=params.get("ids"), metrics=metrics
            )
            if count is not None:
                pending(conn).append(count)

    @event.listens_for(engine, "savepoint")
    def _savepoint(conn: Connection, _name: str | None) -> None:
        marks(conn).append(len(pending(conn)))

    @event.listens_for(engine, "rollback_savepoint")
    def _rollback_savepoint(conn: Connection, _name: str | None, _context: Any) -> None:
        if marks(conn):
            del pending(conn)[marks(conn).pop() :]

    @event.listens_for(engine, "release_savepoint")
    def _release_savepoint(conn: Connection, _name: str | None, _context: Any) -> None:
        if marks(conn):
            marks(conn).pop()

    @event.listens_for(engine, "commit")
    def _commit(conn: Connection) -> None:
        # Fires just before the database commits; a commit that then fails is rare enough
        # (the connection is lost) that counting it is the smaller error than missing them.
        counts = conn.info.pop(_PENDING, [])
        conn.info.pop(_MARKS, None)
        for count in counts:
            count()

    @event.listens_for(engine, "rollback")
    def _rollback(conn: Connection) -> None:
        conn.info.pop(_PENDING, None)
        conn.info.pop(_MARKS, None)


def _table(statement: Insert | Update) -> str | None:
    return getattr(statement.table, "name", None)


def _audit_count(row: Mapping[str, Any], metrics: Metrics) -> Count | None:
    kind = row.get("kind")
    data = row.get("data") or {}
    if kind == AuditKind.REQUEST_STATUS.value:
        outcome = _DECIDED.get(data.get("to", ""))
        if data.get("from") == Status.PENDING.value and outcome is not None:
            return metrics.decisions.labels(outcome=outcome).inc
    elif kind == AuditKind.APPROVAL_RECORDED.value:
        # An approval counted in a step that did not decide the request (README, "Approval
        # steps"): a click that decided something, but not an approved request.
        return metrics.decisions.labels(outcome="step_approved").inc
    elif kind == AuditKind.DECISION_REFUSED.value:
        return metrics.decisions.labels(outcome="refused").inc
    elif kind == AuditKind.RECONCILED.value:
        return metrics.reconciler_removals.labels(integration=str(data.get("integration"))).inc
    return None


def _set_values(statement: Update, params: Mapping[str, Any]) -> Mapping[str, Any]:
    """What an UPDATE of requests sets: the parameters of a status change built once
    (``RequestRepository.apply``), else the values built into the statement."""
    if NEW_VALUE + "status" in params:
        return {k.removeprefix(NEW_VALUE): v for k, v in params.items() if k.startswith(NEW_VALUE)}
    built: Mapping[str, Any] = statement.compile().params
    return built


def _batch_end_count(
    conn: Connection, values: Mapping[str, Any], *, ids: object, metrics: Metrics
) -> Count | None:
    """A batch of expiries (``RequestRepository.apply_many``): one UPDATE sets ``status`` and
    ``ended_at`` for the list of requests ``ids`` and leaves each one's ``expires_at`` as it
    was, so the lateness is read back from the rows it ended, in the same transaction."""
    ended_at = values.get("ended_at")
    if values.get("status") != Status.EXPIRED.value or not isinstance(ended_at, datetime):
        return None
    if not isinstance(ids, list | tuple) or not ids:
        return None
    rows = conn.execute(
        select(RequestRow.expires_at).where(
            RequestRow.id.in_(ids),
            RequestRow.status == Status.EXPIRED.value,
            RequestRow.ended_at == ended_at,
        )
    ).all()
    lateness = [
        max((ended_at - expires_at).total_seconds(), 0.0)
        for (expires_at,) in rows
        if isinstance(expires_at, datetime)
    ]
    if not lateness:
        return None

    def observe() -> None:
        for late in lateness:
            metrics.expiry_lateness.observe(late)

    return observe


def _end_count(values: Mapping[str, Any], metrics: Metrics) -> Count | None:
    """An expiry is the one update that sets ``status`` to expired: it also writes the
    request's ``expires_at`` and ``ended_at`` (``RequestRepository.apply``)."""
    if values.get("status") != Status.EXPIRED.value:
        return None
    expires_at, ended_at = values.get("expires_at"), values.get("ended_at")
    if not isinstance(expires_at, datetime) or not isinstance(ended_at, datetime):
        return None
    late = max((ended_at - expires_at).total_seconds(), 0.0)
    return lambda: metrics.expiry_lateness.observe(late)
