"""Requests whose access could not be removed when due, and when someone was last told."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final, cast

from sqlalchemy import Table, bindparam, delete, select
from sqlalchemy.orm import Session

from domain.ids import RequestId
from store.models import RemovalProblemRow
from store.statements import Prepared

_PROBLEMS: Final = cast(Table, RemovalProblemRow.__table__).c
_PROBLEMS_OF: Final = Prepared(
    select(_PROBLEMS.request_id, _PROBLEMS.problem).where(
        _PROBLEMS.request_id.in_(bindparam("ids", expanding=True))
    )
)


@dataclass(frozen=True, slots=True)
class RemovalProblem:
    request_id: RequestId
    problem: str
    first_failed_at: datetime
    last_failed_at: datetime
    attempts: int
    alerts: int
    next_alert_at: datetime


def _problem(row: RemovalProblemRow) -> RemovalProblem:
    return RemovalProblem(
        request_id=RequestId(row.request_id),
        problem=row.problem,
        first_failed_at=row.first_failed_at,
        last_failed_at=row.last_failed_at,
        attempts=row.attempts,
        alerts=row.alerts,
        next_alert_at=row.next_alert_at,
    )


class RemovalProblemRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def get(self, request_id: RequestId) -> RemovalProblem | None:
        row = self._session.get(RemovalProblemRow, request_id)
        return None if row is None else _problem(row)

    def of(self, request_ids: Sequence[RequestId]) -> dict[RequestId, str]:
        """What failed, for each of ``request_ids`` that has a problem (lists, Home)."""
        if not request_ids:
            return {}
        rows = _PROBLEMS_OF.all(self._session, {"ids": request_ids})
        return {RequestId(request_id): problem for request_id, problem in rows}

    def failed(self, *, request_id: RequestId, problem: str, at: datetime) -> RemovalProblem:
        """Record one more failed round (the first one creates the row, due for an alert now)."""
        row = self._session.get(RemovalProblemRow, request_id, with_for_update=True)
        if row is None:
            row = RemovalProblemRow(
                request_id=request_id,
                problem=problem,
                first_failed_at=at,
                last_failed_at=at,
                attempts=1,
                alerts=0,
                next_alert_at=at,
            )
            self._session.add(row)
        else:
            row.problem, row.last_failed_at, row.attempts = problem, at, row.attempts + 1
        self._session.flush()
        return _problem(row)

    def alerted(self, *, request_id: RequestId, next_alert_at: datetime) -> None:
        row = self._session.get(RemovalProblemRow, request_id)
        if row is not None:
            row.alerts += 1
            row.next_alert_at = next_alert_at

    def resolved(self, request_id: RequestId) -> RemovalProblem | None:
        """Forget the problem (the access is gone now); returns what it was, if any."""
        row = self._session.get(RemovalProblemRow, request_id)
        if row is None:
            return None
        problem = _problem(row)
        self._session.execute(
            delete(RemovalProblemRow).where(RemovalProblemRow.request_id == request_id)
        )
        return problem
