"""Admin use cases: bundles and access flows managed from Slack, every change audited.

:class:`AdminService` is the entry point; callers import from ``app.services.admin`` and not
from its modules.
"""

from __future__ import annotations

from app.services.admin.audit import AUDIT_LIST_LIMIT
from app.services.admin.console import AdminService
from app.services.admin.contents import ACTIVE_STATUSES
from app.services.admin.editor import RECENT
from app.services.admin.flows import FlowChange
from app.services.admin.outcomes import (
    EXPIRED,
    NOT_ADMIN,
    SUGGESTIONS,
    Changed,
    FlowChanged,
    Invalid,
    Rejected,
)
from app.services.admin.views import flow_line

__all__ = [
    "ACTIVE_STATUSES",
    "AUDIT_LIST_LIMIT",
    "EXPIRED",
    "NOT_ADMIN",
    "RECENT",
    "SUGGESTIONS",
    "AdminService",
    "Changed",
    "FlowChange",
    "FlowChanged",
    "Invalid",
    "Rejected",
    "flow_line",
]
