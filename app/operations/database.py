"""Gauges read from the database when Prometheus scrapes: it is the truth about requests and
the outbox (docs/architecture.md, "Durable time"), and every instance reports the same values.

Three small queries, each on an index (``ix_outbox_status_next_attempt_at`` and
``ix_requests_status_expires_at``) or one GROUP BY over the requests. If the database cannot be
asked, ``jit_database_up`` is 0 and the other gauges are left out rather than failing the scrape.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from typing import Final

from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from app.operations.metrics import PREFIX
from domain.clock import Clock
from domain.lifecycle import Status
from store.models import OutboxRow, RequestRow
from store.unit_of_work import Store

_log = logging.getLogger(__name__)

_UNSENT: Final = ("pending", "dead")
"""Outbox statuses counted (``store/repositories/outbox.py``); sent rows are history."""


class DatabaseGauges(Collector):
    def __init__(self, *, store: Store, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    def describe(self) -> Iterable[Metric]:
        # Registering must not query the database (it may not be migrated yet).
        return []

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            f"{PREFIX}_database_up", "1 if the scrape could read the database, else 0."
        )
        try:
            found = list(self._read())
        except SQLAlchemyError as error:
            _log.warning("metrics could not read the database: %s", type(error).__name__)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from found

    def _read(self) -> Iterator[Metric]:
        now = self._clock.now()
        with self._store.read() as uow:
            by_status = uow.session.execute(
                select(RequestRow.status, RequestRow.flow, func.count()).group_by(
                    RequestRow.status, RequestRow.flow
                )
            ).all()
            outbox = uow.session.execute(
                select(OutboxRow.status, func.count(), func.min(OutboxRow.created_at))
                .where(OutboxRow.status.in_(_UNSENT))
                .group_by(OutboxRow.status)
            ).all()
            overdue_since = uow.session.scalar(
                select(func.min(RequestRow.expires_at)).where(
                    RequestRow.status == Status.ACTIVE.value, RequestRow.expires_at < now
                )
            )
        requests = GaugeMetricFamily(
            f"{PREFIX}_requests",
            "Requests in the database, by status and access flow.",
            labels=["status", "flow"],
        )
        for status, flow, count in by_status:
            requests.add_metric([status, flow], count)
        yield requests

        unsent = {status: (count, oldest) for status, count, oldest in outbox}
        pending, oldest = unsent.get("pending", (0, None))
        yield GaugeMetricFamily(
            f"{PREFIX}_outbox_pending",
            "Slack calls queued in the outbox and not sent yet.",
            value=pending,
        )
        yield GaugeMetricFamily(
            f"{PREFIX}_outbox_oldest_pending_age_seconds",
            "Age of the oldest unsent Slack call (0 when the outbox is empty).",
            value=max((now - oldest).total_seconds(), 0.0) if oldest is not None else 0.0,
        )
        yield GaugeMetricFamily(
            f"{PREFIX}_outbox_dead",
            "Slack calls the relay gave up on (an error retrying cannot fix).",
            value=unsent.get("dead", (0, None))[0],
        )
        yield GaugeMetricFamily(
            f"{PREFIX}_expiry_overdue_seconds",
            "How long the most overdue active request is past its expires_at (0 when none).",
            value=(now - overdue_since).total_seconds() if overdue_since is not None else 0.0,
        )
