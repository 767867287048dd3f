"""The admin console: every admin use case, each served by its own part.

The parts share one gate (only admins may do any of it; anything else is refused and audited)
and one audit helper (every change is an audit event and an audit-channel line, in its
transaction). The wiring point builds them; listeners call the part that does the job.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.admin.bundles import BundleSaving
from app.admin.deletion import BundleDeletion
from app.admin.editor import BundleEditing
from app.admin.flows import FlowAdmin
from app.admin.views import AdminViews


@dataclass(frozen=True, slots=True)
class AdminConsole:
    views: AdminViews
    """What admins see: their Home section, the bundle and flow lists."""
    editing: BundleEditing
    """The bundle editor: objects added and removed in a draft."""
    saving: BundleSaving
    """Reviewing a draft and saving it as the bundle."""
    deletion: BundleDeletion
    """What deleting a bundle would end, and deleting it."""
    flows: FlowAdmin
    """Turning flows on and off, and the bundles they offer."""
