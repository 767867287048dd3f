"""Every admin change is one audit event and one audit-channel line, in its own transaction."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from app.core.notifier import Notifier
from blocks.admin import admin_change_line
from domain.audit import AuditEvent, AuditKind
from domain.clock import Clock
from domain.ids import UserId
from domain.objects import AccessObject
from store.unit_of_work import UnitOfWork

AUDIT_LIST_LIMIT: Final = 200
"""Before/after object lists are audited in full up to this size; beyond, counts and a diff."""


class AdminAudit:
    def __init__(self, *, notifier: Notifier, clock: Clock) -> None:
        self._notifier = notifier
        self._clock = clock

    def record(
        self,
        uow: UnitOfWork,
        *,
        by: UserId,
        what: str,
        target: str,
        before: Any,
        after: Any,
        summary: str,
        **extra: Any,
    ) -> None:
        """One audit event and one audit-channel line, in the change's own transaction."""
        now = self._clock.now()
        uow.audit.append(
            AuditEvent(
                kind=AuditKind.ADMIN_CHANGE,
                at=now,
                actor=by,
                data={
                    "by": by,
                    "what": what,
                    "target": target,
                    "before": before,
                    "after": after,
                    **extra,
                },
            )
        )
        self._notifier.audit_notice(uow, text=admin_change_line(by=by, summary=summary), at=now)


def audit_objects(objects: Sequence[AccessObject]) -> dict[str, Any]:
    counts: dict[str, int] = {}
    for obj in objects:
        counts[obj.integration] = counts.get(obj.integration, 0) + 1
    listed = [str(o) for o in objects] if len(objects) <= AUDIT_LIST_LIMIT else None
    return {"count": len(objects), "per_integration": counts, "objects": listed}
