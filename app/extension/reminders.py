"""The DM shortly before access ends, with *Extend* and *Revoke now* (README, "Extending
access").

Durable like every timer (docs/architecture.md, "Durable time"): the next reminder of each active
request is a column (``end_reminder_at``), planned for one end (``end_reminder_for``). This sweep
plans the requests whose end is new (just granted, or extended), then sends what is due; sending
is a compare-and-swap that moves the schedule on in the transaction that queues the message, so
of several instances exactly one sends each reminder, once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

from app.core.catalog import CatalogService
from app.core.notifier import POST
from blocks.extension import end_reminder_message
from domain.audit import AuditEvent, AuditKind
from domain.clock import Clock
from store.repositories.extensions import EndReminder
from store.unit_of_work import Store

BATCH: Final = 200


class EndReminders:
    def __init__(self, *, store: Store, catalog: CatalogService, clock: Clock) -> None:
        self._store = store
        self._catalog = catalog
        self._clock = clock

    def _times(self, entry: EndReminder) -> list[datetime]:
        record = self._catalog.flow(entry.flow)
        if record is None:
            return []
        return record.flow.end_reminders(granted_at=entry.granted_at, ends_at=entry.expires_at)

    def sweep(self) -> int:
        """Plan new ends, then send what is due; returns how many reminders were sent."""
        self._plan()
        return self._send()

    def _plan(self) -> None:
        while True:
            now = self._clock.now()
            with self._store.read() as uow:
                unplanned = uow.extensions.unplanned_reminders(now=now, limit=BATCH)
            if not unplanned:
                return
            with self._store.write() as uow:
                for entry in unplanned:
                    # Only reminders still ahead of the end are ever sent.
                    times = [t for t in self._times(entry) if now < entry.expires_at]
                    upcoming = [t for t in times if t > now]
                    if upcoming:
                        first: datetime | None = upcoming[0]
                    elif times and entry.planned_for is None:
                        # Granted while the bot was down past the reminder: still worth sending.
                        first = times[-1]
                    else:
                        first = None  # a new end too close to remind of
                    uow.extensions.plan_reminder(plan=entry, at=first)
            if len(unplanned) < BATCH:
                return

    def _send(self) -> int:
        sent = 0
        now = self._clock.now()
        with self._store.read() as uow:
            due = uow.extensions.due_reminders(now=now, limit=BATCH)
        for entry in due:
            assert entry.scheduled is not None
            scheduled = entry.scheduled
            later = [t for t in self._times(entry) if t > max(scheduled, now)]
            with self._store.write() as uow:
                if not uow.extensions.claim_reminder(
                    due=entry, next_at=later[0] if later else None
                ):
                    continue  # another instance sent it
                if now >= entry.expires_at:
                    continue  # too late: the end is here, and the ending sweep takes over
                summary = uow.requests.summary(entry.request_id)
                assert summary is not None
                for person in summary.followers:
                    uow.outbox.add(
                        at=now,
                        ordering_key=f"{summary.id}:{person}",
                        channel=person,
                        kind=POST,
                        payload=end_reminder_message(summary=summary, ends_at=entry.expires_at),
                    )
                uow.audit.append(
                    AuditEvent(
                        kind=AuditKind.END_REMINDED,
                        at=now,
                        request_id=summary.id,
                        data={"ends_at": entry.expires_at.isoformat()},
                    )
                )
            sent += 1
        return sent
