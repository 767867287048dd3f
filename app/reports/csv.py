"""Reports: filters in, CSV out, one row per (request, integration).

Rows are written as the store streams them, so a report of 100,000 requests never sits in memory;
the CLI, the ``/apono report`` command and scheduled reports all go through :class:`ReportService`.
"""

from __future__ import annotations

import csv
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from domain.clock import Clock
from domain.reports import ReportSpec, RowBuilder, header_row
from store.repositories.reports import ReportRepository
from store.unit_of_work import Store


@dataclass(frozen=True, slots=True)
class ReportResult:
    rows: int
    """CSV rows written, the header not counted."""
    requests: int
    """Distinct requests among them."""


def report_filename(*, now: datetime) -> str:
    """``access-report-20260301T120000Z.csv``: sorts by time, safe on every file system."""
    return f"access-report-{now.astimezone(UTC).strftime('%Y%m%dT%H%M%SZ')}.csv"


class ReportService:
    def __init__(
        self,
        *,
        store: Store,
        clock: Clock,
        integration_types: Mapping[str, str] | None = None,
    ) -> None:
        """``integration_types`` (name → type, from the policy) names resource types exactly;
        without it they are read from the resources' shape (see ``domain.reports``)."""
        self._store = store
        self._clock = clock
        self._integration_types = dict(integration_types or {})

    def write_csv(self, *, spec: ReportSpec, out: TextIO) -> ReportResult:
        """Write the report to ``out`` (open it with ``newline=""``, as the csv module asks).

        A relative period ("last 7d") ends now, by the service's clock.
        """
        since, until = spec.filter.period.bounds(now=self._clock.now())
        builder = RowBuilder(columns=spec.columns, integration_types=self._integration_types)
        writer = csv.writer(out)
        writer.writerow(header_row(spec.columns))
        rows = requests = 0
        previous: str | None = None
        with self._store.read() as uow:
            repository = ReportRepository(uow.session)
            for record in repository.records(filter=spec.filter, since=since, until=until):
                writer.writerow(builder.row(record))
                rows += 1
                if record.request_id != previous:  # a request's rows come together
                    requests += 1
                    previous = record.request_id
        return ReportResult(rows=rows, requests=requests)

    def write_file(self, *, spec: ReportSpec, path: Path) -> ReportResult:
        """Write the report to ``path`` (UTF-8); a reader never sees half a report.

        The CSV goes to a hidden file beside ``path`` and is renamed over it when complete, so a
        failure leaves any earlier report in place. Raises ``OSError`` when ``path`` is not
        writable.
        """
        partial = path.with_name(f".{path.name}.{secrets.token_hex(4)}.partial")
        try:
            with partial.open("w", newline="", encoding="utf-8") as out:
                result = self.write_csv(spec=spec, out=out)
            os.replace(partial, path)
        finally:
            partial.unlink(missing_ok=True)
        return result
