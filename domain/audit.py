"""What the audit log records. Event data never holds a secret."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from domain.ids import RequestId, UserId


class AuditKind(StrEnum):
    REQUEST_SUBMITTED = "request.submitted"
    REQUEST_STATUS = "request.status_changed"
    SUBMISSION_REFUSED = "request.submission_refused"
    DECISION_REFUSED = "decision.refused"
    ELIGIBILITY_REFUSED = "eligibility.refused"
    """A request ended because its requester may no longer have it (flow, grantee, scope)."""
    REVOKE_REFUSED = "revoke.refused"
    CANCEL_REFUSED = "cancel.refused"
    ACCESS_GRANTED = "access.granted"
    ACCESS_REVOKED = "access.revoked"
    GRANT_FAILED = "access.grant_failed"
    GRANT_UNCERTAIN = "access.grant_uncertain"
    REVOKE_FAILING = "access.revoke_failing"
    REVOKE_RECOVERED = "access.revoke_recovered"
    RECONCILED = "access.reconciled"
    REPORT_REFUSED = "report.refused"
    REPORT_SENT = "report.sent"
    ADMIN_CHANGE = "admin.change"
    ADMIN_REFUSED = "admin.refused"
    POLICY_LOADED = "policy.loaded"


@dataclass(frozen=True, slots=True)
class AuditEvent:
    kind: AuditKind
    at: datetime
    actor: UserId | None = None
    request_id: RequestId | None = None
    data: dict[str, Any] = field(default_factory=dict)
