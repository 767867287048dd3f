"""Loud failures: access that could not be removed when due is announced, again and again.

A revoke that fails is retried every lease (see ``ending``), silently for the log alone until
now; an operator needs to hear of it. The first failed round raises an audit event and a message
to the audit channel and every admin; the alert repeats with doubling intervals while the
failure lasts, and one more message says when the access is finally gone.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Final

from app.core.notifier import Notifier
from blocks.alerts import removal_failing_message, removal_recovered_message
from blocks.reasons import not_removed_yet
from domain.audit import AuditEvent, AuditKind
from domain.ids import RequestId
from store.unit_of_work import UnitOfWork

FIRST_REPEAT: Final = timedelta(minutes=2)
LONGEST_REPEAT: Final = timedelta(hours=4)
MAX_PROBLEM: Final = 500


def describe(failures: Mapping[str, str]) -> str:
    """``access could not be removed yet: <integration>: <error>; ...`` (errors are safe)."""
    parts = "; ".join(
        error if error.startswith(f"{name}:") else f"{name}: {error}"
        for name, error in sorted(failures.items())
    )
    text = not_removed_yet(parts)
    return text if len(text) <= MAX_PROBLEM else text[: MAX_PROBLEM - 1] + "…"


def repeat_after(alerts_sent: int) -> timedelta:
    return min(FIRST_REPEAT * (1 << min(alerts_sent, 16)), LONGEST_REPEAT)


class RemovalAlerts:
    def __init__(self, *, notifier: Notifier, admins: Callable[[], Sequence[str]]) -> None:
        """``admins``: the user IDs to DM, asked at each alert (admins change)."""
        self._notifier = notifier
        self._admins = admins

    def failed(
        self, uow: UnitOfWork, *, request_id: RequestId, failures: Mapping[str, str], at: datetime
    ) -> None:
        """One more failed round; alert when the back-off says it is time."""
        problem = uow.removals.failed(request_id=request_id, problem=describe(failures), at=at)
        if problem.next_alert_at > at:
            return
        uow.audit.append(
            AuditEvent(
                kind=AuditKind.REVOKE_FAILING,
                at=at,
                request_id=request_id,
                data={
                    "failures": dict(sorted(failures.items())),
                    "since": problem.first_failed_at.isoformat(),
                    "attempts": problem.attempts,
                },
            )
        )
        self._notifier.alert(
            uow,
            message=removal_failing_message(
                request_id=request_id,
                problem=problem.problem,
                since=problem.first_failed_at,
                attempts=problem.attempts,
            ),
            admins=self._admins(),
            at=at,
        )
        uow.removals.alerted(request_id=request_id, next_alert_at=at + repeat_after(problem.alerts))

    def resolved(self, uow: UnitOfWork, *, request_id: RequestId, at: datetime) -> None:
        """The access is gone: say so if anyone was told it was not."""
        problem = uow.removals.resolved(request_id)
        if problem is None:
            return
        uow.audit.append(
            AuditEvent(
                kind=AuditKind.REVOKE_RECOVERED,
                at=at,
                request_id=request_id,
                data={"since": problem.first_failed_at.isoformat(), "attempts": problem.attempts},
            )
        )
        if problem.alerts:
            self._notifier.alert(
                uow,
                message=removal_recovered_message(
                    request_id=request_id, since=problem.first_failed_at, attempts=problem.attempts
                ),
                admins=self._admins(),
                at=at,
            )
