"""The request lifecycle (docs/architecture.md, "Lifecycle") as a pure state machine.

``pending → approved → granting → active → expired | revoked``;
``pending → denied | canceled | timed_out | failed``; ``approved | granting → failed``
(``approved → failed`` when eligibility is lost before anything was granted).
Every change is a :class:`StatusChange`; the store applies it as a compare-and-swap on the
status, so of two racing decisions exactly one wins.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Final

from domain.break_glass import Trigger
from domain.errors import DomainError
from domain.ids import RequestId, UserId


class Status(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    GRANTING = "granting"
    ACTIVE = "active"
    EXPIRED = "expired"
    REVOKED = "revoked"
    DENIED = "denied"
    CANCELED = "canceled"
    TIMED_OUT = "timed_out"
    FAILED = "failed"

    @property
    def terminal(self) -> bool:
        return not TRANSITIONS[self]

    @property
    def label(self) -> str:
        return self.value.replace("_", " ")


TRANSITIONS: Final[dict[Status, frozenset[Status]]] = {
    Status.PENDING: frozenset(
        {Status.APPROVED, Status.DENIED, Status.CANCELED, Status.TIMED_OUT, Status.FAILED}
    ),
    # An approved request whose requester is no longer eligible fails before any grant.
    Status.APPROVED: frozenset({Status.GRANTING, Status.FAILED}),
    Status.GRANTING: frozenset({Status.ACTIVE, Status.FAILED}),
    Status.ACTIVE: frozenset({Status.EXPIRED, Status.REVOKED}),
    Status.EXPIRED: frozenset(),
    Status.REVOKED: frozenset(),
    Status.DENIED: frozenset(),
    Status.CANCELED: frozenset(),
    Status.TIMED_OUT: frozenset(),
    Status.FAILED: frozenset(),
}

DECISIONS: Final = frozenset({Status.APPROVED, Status.DENIED})


class TransitionError(DomainError):
    """The request is not in a state that allows the change (e.g. already decided)."""

    def __init__(self, *, request: AccessRequest, wanted: Status) -> None:
        self.request = request
        self.wanted = wanted
        super().__init__(_explain(request=request, wanted=wanted))


def _explain(*, request: AccessRequest, wanted: Status) -> str:
    current = request.status
    if current is Status.PENDING:
        return f"{request.id} is still pending; it cannot become {wanted.label} yet."
    by = f" by <@{request.last_actor}>" if request.last_actor else ""
    return f"{request.id} is already {current.label}{by}; it cannot become {wanted.label}."


@dataclass(frozen=True, slots=True)
class StatusChange:
    """One transition: what the store writes, audits and announces, in one transaction."""

    request_id: RequestId
    from_status: Status | None
    """``None`` for the submission itself."""
    to_status: Status
    actor: UserId | None
    """Who caused it; ``None`` when the system did (expiry, timeout, a failed grant)."""
    at: datetime
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class AccessRequest:
    """One submission, without its (possibly 1,000) objects, which the store keeps apart."""

    id: RequestId
    requester: UserId
    flow: str
    bundle: str | None
    duration: timedelta
    justification: str
    status: Status
    created_at: datetime
    automatic: bool = False
    last_actor: UserId | None = None
    last_change_at: datetime | None = None
    decided_by: UserId | None = None
    decided_at: datetime | None = None
    reason: str | None = None
    expires_at: datetime | None = None
    trigger: Trigger = Trigger.NORMAL
    """Break-glass requests are approved by nobody and announced loudly."""
    grantee: UserId | None = None
    """The teammate the access is for, when ``requester`` asked on their behalf; ``None``:
    for the requester (docs/architecture.md, "Vocabulary")."""

    @property
    def holder(self) -> UserId:
        """Who holds the access and gets its credentials: the grantee, else the requester."""
        return self.grantee or self.requester

    def _change(
        self, *, to: Status, actor: UserId | None, at: datetime, reason: str | None = None
    ) -> tuple[AccessRequest, StatusChange]:
        if to not in TRANSITIONS[self.status]:
            raise TransitionError(request=self, wanted=to)
        change = StatusChange(
            request_id=self.id,
            from_status=self.status,
            to_status=to,
            actor=actor,
            at=at,
            reason=reason,
        )
        updated = replace(self, status=to, last_actor=actor, last_change_at=at, reason=reason)
        return updated, change

    def approve(self, *, by: UserId | None, at: datetime) -> tuple[AccessRequest, StatusChange]:
        """``by`` is ``None`` for an automatic flow."""
        updated, change = self._change(to=Status.APPROVED, actor=by, at=at)
        return replace(updated, decided_by=by, decided_at=at), change

    def deny(
        self, *, by: UserId | None, at: datetime, reason: str | None = None
    ) -> tuple[AccessRequest, StatusChange]:
        """``by`` is ``None`` when the system denies (the requester is no longer eligible)."""
        updated, change = self._change(to=Status.DENIED, actor=by, at=at, reason=reason)
        return replace(updated, decided_by=by, decided_at=at), change

    def cancel(self, *, by: UserId, at: datetime) -> tuple[AccessRequest, StatusChange]:
        if by != self.requester:
            raise DomainError(f"Only the requester can cancel {self.id}.")
        return self._change(to=Status.CANCELED, actor=by, at=at)

    def time_out(self, *, at: datetime) -> tuple[AccessRequest, StatusChange]:
        return self._change(to=Status.TIMED_OUT, actor=None, at=at, reason="no decision in time")

    def start_granting(self, *, at: datetime) -> tuple[AccessRequest, StatusChange]:
        return self._change(to=Status.GRANTING, actor=None, at=at)

    def activate(self, *, at: datetime) -> tuple[AccessRequest, StatusChange]:
        """Access exists from ``at`` for the requested duration."""
        updated, change = self._change(to=Status.ACTIVE, actor=None, at=at)
        return replace(updated, expires_at=at + self.duration), change

    def fail(self, *, at: datetime, reason: str) -> tuple[AccessRequest, StatusChange]:
        return self._change(to=Status.FAILED, actor=None, at=at, reason=reason)

    def expire(self, *, at: datetime) -> tuple[AccessRequest, StatusChange]:
        if self.expires_at is not None and at < self.expires_at:
            raise DomainError(f"{self.id} is not due until {self.expires_at.isoformat()}.")
        return self._change(to=Status.EXPIRED, actor=None, at=at)

    def revoke(
        self, *, by: UserId | None, at: datetime, reason: str | None = None
    ) -> tuple[AccessRequest, StatusChange]:
        """``by`` is ``None`` when the bot ends it (credentials that cannot be delivered)."""
        return self._change(to=Status.REVOKED, actor=by, at=at, reason=reason)
