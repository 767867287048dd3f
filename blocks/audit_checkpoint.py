"""The audit channel's line for a signed checkpoint of the audit log (README, "Audit log")."""

from __future__ import annotations

import json

from blocks.text import date_token
from domain.audit import Checkpoint


def checkpoint_json(checkpoint: Checkpoint) -> str:
    """The checkpoint as one compact JSON text, which `audit verify --checkpoint` accepts."""
    return json.dumps(checkpoint.to_json(), sort_keys=True, separators=(",", ":"))


def checkpoint_text(checkpoint: Checkpoint) -> str:
    return (
        f"🔏 Audit log checkpoint: event #{checkpoint.seq:,} is the head as of "
        f"{date_token(checkpoint.at)}. `python -m app audit verify --checkpoint '…'` checks "
        f"the log against it:\n`{checkpoint_json(checkpoint)}`"
    )
