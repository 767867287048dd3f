"""``python -m app audit export``: the log as JSON Lines, each entry with its proof, then the
latest published checkpoint, for a SIEM (README, "Audit log", how a SIEM verifies it)."""

from __future__ import annotations

import json
from datetime import UTC
from typing import Any, TextIO

from app.audit.checkpoints import LAST
from store.repositories.audit import StoredEvent
from store.unit_of_work import Store


def entry_line(stored: StoredEvent) -> dict[str, Any]:
    event = stored.event
    return {
        "type": "audit_event",
        "seq": stored.id,
        # Exactly the fields, and the time in exactly the form, the link is computed over.
        "at": event.at.astimezone(UTC).isoformat(),
        "kind": event.kind.value,
        "actor": event.actor,
        "request_id": event.request_id,
        "data": event.data,
        "proof": {
            "seq": stored.id,
            "key_id": stored.key_id,
            "prev": stored.prev_hash,
            "link": stored.hash,
        },
    }


def export_log(*, store: Store, since: int, out: TextIO) -> int:
    """Write entries with ``seq >= since`` and the latest checkpoint; returns the entry count."""
    count = 0
    with store.read() as uow:
        for stored in uow.audit.iter_all(after=max(since - 1, 0)):
            out.write(json.dumps(entry_line(stored), sort_keys=True, separators=(",", ":")) + "\n")
            count += 1
        checkpoint = uow.meta.get(LAST)
    if checkpoint is not None:
        out.write(checkpoint + "\n")
    return count
