"""The admin console's shares of Slack's limits (Slack's own are in :mod:`blocks.limits`)."""

from __future__ import annotations

from typing import Final

MAX_SECTION_BLOCKS: Final = 40
"""The Admin section's share of the Home tab's :data:`~blocks.limits.VIEW_BLOCKS` (100)."""
HOME_ROWS: Final = 5
LIST_ROWS: Final = 10
MAX_INTEGRATION_LINES: Final = 10
MAX_SHARES_SHOWN: Final = 20
MAX_FLOW_BUNDLES_SHOWN: Final = 20
MAX_SAMPLES: Final = 10
RECENT_SHOWN: Final = 5
MAX_DESCRIPTION: Final = 300
MAX_RESOURCE: Final = 200
MAX_NAME: Final = 63

FILE_MARKER: Final = "📄 _from the policy file_"
FILE_EDIT_NOTE: Final = (
    "📄 This is defined in the policy file. An edit made here is kept over the file until the "
    "file changes it too; then Slack's version stays and a conflict is announced in the audit "
    "channel (`python -m app policy export` brings the file up to date)."
)
