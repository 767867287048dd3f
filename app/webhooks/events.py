"""One request event as the receivers get it: ``docs/schemas/request-event.v1.schema.json``.

A payload is built from the audit log up to its own event, so it says what was known when the
event happened however late it is delivered, and a retry sends the very same body.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from domain.audit import AuditKind
from domain.lifecycle import AccessRequest, Status
from domain.objects import AccessObject
from domain.policy import REQUEST_EVENT_NAMES
from store.repositories.request_webhooks import RequestEntry
from store.repositories.requests import AskedApprover, RequesterSnapshot

SCHEMA_VERSION: Final = 1
SCHEMA_ID: Final = "https://jit-access-bot.invalid/schemas/request-event.v1.schema.json"
EVENT_TYPE_PREFIX: Final = "request."
_EVENT_IDS: Final = uuid.UUID("5b0f3d0e-7a4e-4c1b-9a7e-2f6c1d9e8a11")
"""Namespace of the event IDs: a name-based UUID of the audit event's hash, the same on every
retry and from every instance."""


_NAMED: Final = {
    AuditKind.REQUEST_SUBMITTED: "created",
    AuditKind.EXTENDED: "extended",
    AuditKind.BREAK_GLASS_USED: "break_glass",
}
"""Events named after what happened rather than after the status they reached."""


def event_name(entry: RequestEntry) -> str | None:
    """``created`` for a submission, ``extended`` when an end moved, ``break_glass`` when the
    glass was broken, the new status for a status change; ``None`` for anything a webhook is
    not told about."""
    named = _NAMED.get(entry.kind)
    if named is not None:
        return named
    to = entry.data.get("to")
    return to if entry.kind is AuditKind.REQUEST_STATUS and to in REQUEST_EVENT_NAMES else None


def event_id(entry: RequestEntry) -> str:
    return str(uuid.uuid5(_EVENT_IDS, entry.hash or f"audit-{entry.id}"))


@dataclass(frozen=True, slots=True)
class RequestFacts:
    """What the store knows of the request an event is about."""

    request: AccessRequest
    requester: RequesterSnapshot
    objects: Sequence[AccessObject]
    approvers: Sequence[AskedApprover]
    history: Sequence[RequestEntry]
    """The request's events up to and including the one delivered."""


def payload(*, entry: RequestEntry, facts: RequestFacts) -> dict[str, Any]:
    name = event_name(entry)
    assert name is not None
    request = facts.request
    changes = [e for e in facts.history if e.kind is AuditKind.REQUEST_STATUS]
    if entry.kind is AuditKind.REQUEST_STATUS:
        status, previous = str(entry.data.get("to")), entry.data.get("from")
    else:  # the request stays where its last status change (if any) left it
        reached = [str(e.data.get("to")) for e in changes if e.id < entry.id]
        status = reached[-1] if reached else Status.PENDING.value
        previous = None if name == "created" else status
    return {
        "schema_version": SCHEMA_VERSION,
        "id": event_id(entry),
        "type": EVENT_TYPE_PREFIX + name,
        "occurred_at": _time(entry.at),
        "sequence": entry.id,
        "actor": entry.actor,
        "reason": entry.data.get("reason"),
        "request": {
            "id": request.id,
            "status": status,
            "previous_status": previous,
            "requester": {
                "id": facts.requester.id,
                "name": facts.requester.name,
                "email": facts.requester.email,
            },
            "flow": request.flow,
            "bundle": request.bundle,
            "automatic": request.automatic,
            "justification": request.justification,
            "duration_seconds": int(request.duration.total_seconds()),
            "objects": _grouped(facts.objects),
            "approvers": [
                {"id": a.id, "name": a.name, "email": a.email, "reasons": list(a.reasons)}
                for a in facts.approvers
                if a.step <= _started_step(facts.history)
            ],
            "decisions": _decisions(facts.history),
            "times": _times(request=request, changes=changes),
        },
    }


def _started_step(history: Sequence[RequestEntry]) -> int:
    """The last approval step (0-based) begun by the end of ``history``: a step begins when the
    one before reaches its quorum. Those asked later are left out, so a retry of an earlier event
    sends the same body (README, "Approval steps")."""
    return max(
        (
            int(e.data["step"])
            for e in history
            if e.kind is AuditKind.APPROVAL_RECORDED
            and isinstance(e.data.get("step"), int)
            and int(e.data.get("approvals") or 0) >= int(e.data.get("needed") or 1)
        ),
        default=0,
    )


def _decisions(history: Sequence[RequestEntry]) -> list[dict[str, Any]]:
    """Every approval counted in a step and the decision that ended the request, oldest first;
    ``step`` is 1-based, absent for a request decided without steps (automatic, the bot)."""
    found: list[dict[str, Any]] = []
    for e in history:
        if e.kind is AuditKind.APPROVAL_RECORDED:
            decision: str = Status.APPROVED.value
        elif e.kind is AuditKind.REQUEST_STATUS and e.data.get("to") in (
            Status.APPROVED.value,
            Status.DENIED.value,
        ):
            decision = str(e.data["to"])
        else:
            continue
        step = e.data.get("step")
        found.append(
            {
                "decision": decision,
                "by": e.actor,
                "at": _time(e.at),
                "reason": e.data.get("reason"),
                **({"step": step} if isinstance(step, int) else {}),
            }
        )
    return found


def body_of(event: dict[str, Any]) -> bytes:
    """The bytes that are signed and sent: compact, keys sorted, UTF-8."""
    return json.dumps(event, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _grouped(objects: Sequence[AccessObject]) -> list[dict[str, Any]]:
    grouped: dict[str, list[dict[str, str]]] = {}
    for item in objects:
        grouped.setdefault(item.integration, []).append(
            {"resource": item.resource, "permission": item.permission}
        )
    return [{"integration": name, "objects": items} for name, items in sorted(grouped.items())]


def _times(*, request: AccessRequest, changes: Sequence[RequestEntry]) -> dict[str, str | None]:
    reached: dict[str, datetime] = {}
    for change in changes:
        reached.setdefault(str(change.data.get("to")), change.at)
    granted = reached.get(Status.ACTIVE.value)
    ended = next(
        (c.at for c in changes if Status(str(c.data.get("to"))).terminal),
        None,
    )
    expires = granted + request.duration if granted is not None else None
    return {
        "created_at": _time(request.created_at),
        "approved_at": _time(reached.get(Status.APPROVED.value)),
        "granted_at": _time(granted),
        "expires_at": _time(expires),
        "ended_at": _time(ended),
    }


def _time(value: datetime | None) -> str | None:
    # Whole seconds would merge events of one instant; microseconds keep what was stored.
    return value.isoformat().replace("+00:00", "Z") if value is not None else None
