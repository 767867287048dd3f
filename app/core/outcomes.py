"""What a click on a request can come to, and refusals that are always audited."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from domain.approval_steps import ApprovalProgress
from domain.audit import AuditEvent, AuditKind
from domain.ids import RequestId, UserId
from domain.summary import RequestSummary
from store.unit_of_work import Store

_log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Done:
    summary: RequestSummary
    progress: ApprovalProgress | None = None
    """For an approval counted in a step that did not yet decide the request."""


@dataclass(frozen=True, slots=True)
class AlreadyDecided:
    """Nothing changed: the request had left the state the click expected."""

    summary: RequestSummary


@dataclass(frozen=True, slots=True)
class NotAllowed:
    reason: str
    """Safe to show to the clicker."""


Outcome = Done | AlreadyDecided | NotAllowed


def refuse(
    store: Store,
    *,
    at: datetime,
    kind: AuditKind,
    actor: UserId,
    request_id: str | None,
    reason: str,
    detail: str,
) -> NotAllowed:
    """Audit a refusal (who tried what, and why not) and say no."""
    with store.write() as uow:
        uow.audit.append(
            AuditEvent(
                kind=kind,
                at=at,
                actor=actor,
                request_id=RequestId(request_id) if request_id else None,
                data={"refused": detail},
            )
        )
    _log.warning("refused", extra={"kind": kind.value, "actor": actor, "detail": detail})
    return NotAllowed(reason)
