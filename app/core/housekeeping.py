"""Forgetting what is no longer needed: abandoned request forms and long-sent messages."""

from __future__ import annotations

from datetime import timedelta
from typing import Final

from domain.clock import Clock
from store.unit_of_work import Store

DRAFTS_KEPT: Final = timedelta(days=1)
"""A request form left open this long is abandoned (Slack closes modals long before)."""
SENT_KEPT: Final = timedelta(days=7)
"""Sent outbox rows stay a week for diagnosis; the audit log is the lasting record."""


class Housekeeping:
    def __init__(self, *, store: Store, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    def run(self) -> tuple[int, int]:
        now = self._clock.now()
        with self._store.write() as uow:
            drafts = uow.drafts.purge(before=now - DRAFTS_KEPT)
            sent = uow.outbox.purge_sent(before=now - SENT_KEPT)
        return drafts, sent
