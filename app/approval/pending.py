"""Pending requests must not wait forever: reminders with back-off, then a timeout."""

from __future__ import annotations

import logging
from typing import Final

from app.core.catalog import CatalogService
from app.core.notifier import Notifier
from app.core.transitions import Transitions
from domain.clock import Clock
from domain.lifecycle import Status, TransitionError
from store.repositories.requests import ConcurrentChange, RequestColumns
from store.unit_of_work import Store

_log = logging.getLogger(__name__)
BACKOFF: Final = 2
BATCH: Final = 200


class PendingSweeper:
    def __init__(
        self,
        *,
        store: Store,
        catalog: CatalogService,
        notifier: Notifier,
        transitions: Transitions,
        clock: Clock,
    ) -> None:
        self._store = store
        self._catalog = catalog
        self._notifier = notifier
        self._transitions = transitions
        self._clock = clock

    def sweep(self) -> tuple[int, int]:
        """Time out what is overdue, then remind; returns ``(timed_out, reminded)``."""
        return self.time_out_due(), self.remind_due()

    def time_out_due(self) -> int:
        now = self._clock.now()
        with self._store.read() as uow:
            due = uow.requests.due_timeouts(now=now, limit=BATCH)
        done = 0
        for request_id in due:
            try:
                with self._store.write() as uow:
                    request = uow.requests.get(request_id)
                    if request is None:
                        continue
                    updated, change = request.time_out(at=now)
                    summary = self._transitions.record(
                        uow,
                        request=updated,
                        change=change,
                        columns=RequestColumns(next_reminder_at=None),
                    )
                    self._notifier.decision_made(
                        uow, summary=summary, approvers=uow.requests.approvers(request_id), at=now
                    )
                done += 1
            except (TransitionError, ConcurrentChange):
                continue  # decided meanwhile, or another instance timed it out
        return done

    def remind_due(self) -> int:
        now = self._clock.now()
        with self._store.read() as uow:
            due = uow.requests.due_reminders(now=now, limit=BATCH)
        reminded = 0
        for request_id, scheduled, sent in due:
            record = None
            with self._store.read() as uow:
                request = uow.requests.get(request_id)
            if request is not None:
                record = self._catalog.flow(request.flow)
            interval = record.flow.remind_after if record else None
            next_at = now + interval * (BACKOFF ** (sent + 1)) if interval else None
            with self._store.write() as uow:
                # Claim: only the instance whose UPDATE matches the old schedule reminds.
                if not uow.requests.claim_reminder(
                    request_id=request_id, scheduled=scheduled, next_at=next_at
                ):
                    continue
                summary = uow.requests.summary(request_id)
                if summary is None or summary.status is not Status.PENDING:
                    continue
                self._notifier.remind(
                    uow, summary=summary, approvers=uow.requests.approvers(request_id), at=now
                )
            reminded += 1
        return reminded
