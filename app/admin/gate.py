"""Who may: every admin use case asks here first.

Anything from a non-admin is refused and audited: a hand-made payload from a non-admin reaches
the use cases like any click, so the check is in the services, not in the views.
"""

from __future__ import annotations

from app.admin.outcomes import EXPIRED, NOT_ADMIN
from app.core.admins import Admins
from app.core.outcomes import NotAllowed, refuse
from domain.audit import AuditKind
from domain.clock import Clock
from domain.drafts import Draft, Mode
from domain.ids import UserId
from store.unit_of_work import Store


class AdminGate:
    def __init__(self, *, store: Store, admins: Admins, clock: Clock) -> None:
        self._store = store
        self._admins = admins
        self._clock = clock

    def allows(self, by: UserId) -> bool:
        return self._admins.is_admin(by)

    def refuse(self, by: UserId, *, what: str) -> NotAllowed:
        return refuse(
            self._store,
            at=self._clock.now(),
            kind=AuditKind.ADMIN_REFUSED,
            actor=by,
            request_id=None,
            reason=NOT_ADMIN,
            detail=f"not an admin: {what}"[:200],
        )

    def editing(self, key: str, by: UserId, *, what: str) -> Draft | NotAllowed:
        """The admin's own bundle editor draft ``key``; refused (and audited) for anyone else."""
        if not self.allows(by):
            return self.refuse(by, what=what)
        with self._store.read() as uow:
            draft = uow.drafts.get(key)
        if draft is None or draft.user_id != by or draft.mode is not Mode.BUNDLE_EDIT:
            return NotAllowed(EXPIRED)
        return draft
