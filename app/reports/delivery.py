"""Reports delivered in Slack: ``/apono report`` for admins, and scheduled reports.

The CSV is written when the message is sent, by the outbox relay (a report can take seconds to
write and must never hold up a listener); the outbox row only carries the filters.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger

from app.core.admins import Admins
from app.core.approvers import ApproverResolver
from app.core.notifier import UPLOAD
from app.core.outcomes import NotAllowed, refuse
from blocks.help import REPORT_TITLE
from blocks.refusals import REPORTS_FOR_ADMINS
from domain.audit import AuditEvent, AuditKind
from domain.clock import Clock
from domain.ids import UserId
from domain.policy import ScheduledReport
from domain.report_filters import FILTER_HELP, FilterError, format_filters, parse_filters
from store.unit_of_work import Store, UnitOfWork

_log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Queued:
    filters: str


def report_payload(*, filters: str, at: datetime, title: str) -> dict[str, str]:
    stamp = at.strftime("%Y%m%dT%H%M%SZ")
    return {
        "report": filters,
        "filename": f"access-report-{stamp}.csv",
        "title": title,
        "initial_comment": f"📄 {title}" + (f" — `{filters}`" if filters else ""),
    }


def _queue(uow: UnitOfWork, *, channel: str, filters: str, at: datetime, title: str) -> None:
    uow.outbox.add(
        at=at,
        ordering_key=f"report:{channel}",
        channel=channel,
        kind=UPLOAD,
        payload=report_payload(filters=filters, at=at, title=title),
    )


class ReportRequests:
    """``/apono report [filters]``: the file goes to the admin's DM; anyone else is refused."""

    def __init__(self, *, store: Store, admins: Admins, clock: Clock) -> None:
        self._store = store
        self._admins = admins
        self._clock = clock

    def request(self, *, by: UserId, text: str) -> Queued | NotAllowed:
        now = self._clock.now()
        if not self._admins.is_admin(by):
            return refuse(
                self._store,
                at=now,
                kind=AuditKind.REPORT_REFUSED,
                actor=by,
                request_id=None,
                reason=REPORTS_FOR_ADMINS,
                detail=f"not an admin; filters: {text[:200]}",
            )
        try:
            spec = parse_filters(text)
        except FilterError as error:
            return NotAllowed(f"{error}\n{FILTER_HELP}")
        filters = format_filters(spec)
        with self._store.write() as uow:
            _queue(uow, channel=by, filters=filters, at=now, title=REPORT_TITLE)
            uow.audit.append(
                AuditEvent(kind=AuditKind.REPORT_SENT, at=now, actor=by, data={"filters": filters})
            )
        return Queued(filters=filters)


class ScheduledReports:
    """Sends each named report when its cron schedule comes due; one missed while the bot was
    down is sent once at start-up (not once per missed slot). The last slot sent is kept in the
    database and moved by compare-and-swap, so of several instances exactly one sends it."""

    def __init__(
        self,
        *,
        store: Store,
        reports: list[ScheduledReport],
        approvers: ApproverResolver,
        clock: Clock,
    ) -> None:
        self._store = store
        self._reports = reports
        self._approvers = approvers
        self._clock = clock

    def run_due(self) -> int:
        sent = 0
        for report in self._reports:
            if self._deliver_if_due(report):
                sent += 1
        return sent

    def _deliver_if_due(self, report: ScheduledReport) -> bool:
        now = self._clock.now()
        key = f"report:last:{report.name}"
        with self._store.read() as uow:
            last_text = uow.meta.get(key)
        if last_text is None:
            # First time this report is known: start counting from now, send nothing old.
            with self._store.write() as uow:
                uow.meta.swap(key, expected=None, value=now.isoformat())
            return False
        due = latest_slot(report, after=datetime.fromisoformat(last_text), until=now)
        if due is None:
            return False
        with self._store.write() as uow:
            if not uow.meta.swap(key, expected=last_text, value=due.isoformat()):
                return False  # another instance sent it
            targets = [*report.deliver_to.channels, *self._people(report)]
            for target in targets:
                _queue(uow, channel=target, filters=report.filters, at=now, title=report.name)
            uow.audit.append(
                AuditEvent(
                    kind=AuditKind.REPORT_SENT,
                    at=now,
                    data={"report": report.name, "slot": due.isoformat(), "to": targets},
                )
            )
        return True

    def _people(self, report: ScheduledReport) -> list[str]:
        people: list[str] = []
        for entry in report.deliver_to.users:
            person = self._approvers.person_for(entry)
            if person is None or not person.can_act:
                _log.warning("report recipient unknown", extra={"report": report.name})
                continue
            people.append(person.id)
        return people


def latest_slot(report: ScheduledReport, *, after: datetime, until: datetime) -> datetime | None:
    """The last time the schedule fired in (``after``, ``until``], or ``None``."""
    trigger = CronTrigger.from_crontab(report.schedule, timezone=ZoneInfo(report.timezone))
    slot: datetime | None = None
    current = trigger.get_next_fire_time(None, after + timedelta(microseconds=1))
    while current is not None and current <= until:
        slot = current
        current = trigger.get_next_fire_time(current, current + timedelta(seconds=1))
    return slot
