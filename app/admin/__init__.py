"""Admin use cases: bundles and access flows managed from Slack, every change audited.

:class:`AdminConsole` holds the parts; callers import from ``app.admin`` and not from its
modules.
"""

from __future__ import annotations

from app.admin.audit import AUDIT_LIST_LIMIT
from app.admin.console import AdminConsole
from app.admin.contents import ACTIVE_STATUSES
from app.admin.editor import RECENT
from app.admin.flows import FlowChange
from app.admin.outcomes import (
    EXPIRED,
    NOT_ADMIN,
    SUGGESTIONS,
    Changed,
    FlowChanged,
    Invalid,
    Rejected,
)
from app.admin.views import flow_line

__all__ = [
    "ACTIVE_STATUSES",
    "AUDIT_LIST_LIMIT",
    "EXPIRED",
    "NOT_ADMIN",
    "RECENT",
    "SUGGESTIONS",
    "AdminConsole",
    "Changed",
    "FlowChange",
    "FlowChanged",
    "Invalid",
    "Rejected",
    "flow_line",
]
