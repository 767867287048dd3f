"""Benchmark of the CSV report: 100,000 requests of 3 integrations each (``report.csv_100k``).

Seeding goes straight to the tables with bulk inserts: through the repositories it would take
minutes, and what is measured is the export, not the seeding. This is a benchmark fixture, the
one place outside ``store/`` and the tests that writes the tables directly.
"""

from __future__ import annotations

import json
import resource
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final, TextIO

import psycopg
from psycopg import sql
from sqlalchemy import Connection, insert, text

from app.reports.csv import ReportService
from domain.clock import SystemClock
from domain.reports import ReportSpec
from store.models import ApprovalRow, GrantRow, RequestObjectRow, RequestRow, StatusChangeRow
from store.unit_of_work import Store

BENCH_START: Final = datetime(2026, 1, 1, tzinfo=UTC)
_CHUNK: Final = 5_000
_ALPHABET: Final = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_OUTCOMES: Final = ("expired", "expired", "expired", "revoked", "active", "denied")


def bench_request_id(index: int) -> str:
    """``AR-000001``...: unique, valid request IDs for up to 32**6 seeded requests."""
    digits = []
    for _ in range(6):
        index, digit = divmod(index, len(_ALPHABET))
        digits.append(_ALPHABET[digit])
    return "AR-" + "".join(reversed(digits))


def seed_report_rows(
    *,
    store: Store,
    requests: int = 100_000,
    integrations: int = 3,
    objects_per_integration: int = 2,
) -> None:
    """Bulk-insert ``requests`` decided bundle requests, each with a grant per integration."""
    with store.engine.begin() as connection:
        for start in range(0, requests, _CHUNK):
            _seed_chunk(
                connection,
                indexes=range(start, min(start + _CHUNK, requests)),
                integrations=integrations,
                objects_per_integration=objects_per_integration,
            )
    # A live database has planner statistics (autovacuum keeps them); tables bulk-loaded a
    # moment ago have none, and PostgreSQL would then hash-join whole tables for every page.
    with store.engine.begin() as connection:
        for table in ("requests", "request_objects", "grants", "approvals", "status_changes"):
            connection.execute(text(f"ANALYZE {table}"))


def _seed_chunk(
    connection: Connection, *, indexes: range, integrations: int, objects_per_integration: int
) -> None:
    tables: dict[Any, list[dict[str, Any]]] = {
        RequestRow: [],
        RequestObjectRow: [],
        GrantRow: [],
        ApprovalRow: [],
        StatusChangeRow: [],
    }
    for index in indexes:
        for table, row in _rows_of(index, integrations, objects_per_integration):
            tables[table].append(row)
    for table, rows in tables.items():
        if rows and connection.dialect.name == "postgresql":
            _copy(connection, table=table.__tablename__, rows=rows)
        elif rows:
            connection.execute(insert(table), rows)


def _copy(connection: Connection, *, table: str, rows: list[dict[str, Any]]) -> None:
    """PostgreSQL's COPY: several times faster than multi-row INSERTs for a million rows."""
    columns = list(rows[0])
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    # The driver connection is the one this transaction runs on, so COPY joins it.
    driver = connection.connection.driver_connection
    assert isinstance(driver, psycopg.Connection)
    with driver.cursor() as cursor, cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row([json.dumps(v) if isinstance(v, list) else v for v in row.values()])


def _rows_of(
    index: int, integrations: int, objects_per_integration: int
) -> Iterator[tuple[Any, dict[str, Any]]]:
    request_id = bench_request_id(index)
    created = BENCH_START + timedelta(seconds=30 * index)
    status = _OUTCOMES[index % len(_OUTCOMES)]
    decided = created + timedelta(minutes=5)
    ended = None if status == "active" else decided + timedelta(hours=1)
    approver = f"U{index % 50:08d}"
    yield (
        RequestRow,
        {
            "id": request_id,
            "requester_id": f"U{index % 997:08d}",
            "requester_name": f"Person {index % 997}",
            "requester_email": f"person{index % 997}@example.com",
            "flow": "developers",
            "bundle": "prod-incident",
            "bundle_version": 1,
            "automatic": False,
            "duration_seconds": 3600,
            "justification": f"INC-{index}: orders stuck, see runbook",
            "object_count": integrations * objects_per_integration,
            "status": status,
            "created_at": created,
            "decided_by": approver,
            "decided_at": decided,
            "reason": "not during the freeze" if status == "denied" else None,
            "ended_at": ended,
            "reminders_sent": 0,
        },
    )
    yield (
        ApprovalRow,
        {
            "request_id": request_id,
            "approver_id": approver,
            "approver_name": f"Approver {index % 50}",
            "approver_email": f"approver{index % 50}@example.com",
            "reasons": ["manager"],
            "asked_at": created,
        },
    )
    for to_status in ("pending", "denied" if status == "denied" else "approved"):
        yield (
            StatusChangeRow,
            {
                "request_id": request_id,
                "from_status": None if to_status == "pending" else "pending",
                "to_status": to_status,
                "actor": approver,
                "at": decided,
                "reason": "not during the freeze" if to_status == "denied" else None,
            },
        )
    for number in range(integrations):
        integration = f"integration-{number}"
        for item in range(objects_per_integration):
            yield (
                RequestObjectRow,
                {
                    "request_id": request_id,
                    "integration": integration,
                    "resource": f"sales.table_{item}",
                    "permission": "read_write",
                },
            )
        if status != "denied":
            yield (
                GrantRow,
                {
                    "request_id": request_id,
                    "integration": integration,
                    "account": "jit_" + request_id[3:].lower(),
                    "status": "granted" if status == "active" else "revoked",
                    "granted_at": decided + timedelta(seconds=2),
                    "revoked_at": ended,
                },
            )


def bench_export(
    *,
    store: Store,
    out: TextIO = sys.stdout,
    requests: int = 100_000,
    integrations: int = 3,
    seed: bool = True,
) -> dict[str, float]:
    """Seed (unless ``seed`` is false), export everything to a temporary file, print and return
    the figures: ``seconds`` and ``cpu_seconds`` (export, untraced), ``peak_mb`` (Python heap
    peak during a second, traced export), ``max_rss_mb`` (the process's high-water mark so far,
    seeding included), ``rows``, ``csv_mb`` and ``seed_seconds``.

    ``store`` should be empty and migrated: the seeded request IDs are fixed."""
    figures: dict[str, float] = {"requests": float(requests), "integrations": float(integrations)}
    if seed:
        started = time.perf_counter()
        seed_report_rows(store=store, requests=requests, integrations=integrations)
        figures["seed_seconds"] = time.perf_counter() - started
    service = ReportService(store=store, clock=SystemClock())
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "report.csv"
        started, cpu_started = time.perf_counter(), time.process_time()
        result = service.write_file(spec=ReportSpec(), path=path)
        figures["seconds"] = time.perf_counter() - started
        # This process's CPU only (the database server's work is not in it): steadier than the
        # wall clock on a busy machine.
        figures["cpu_seconds"] = time.process_time() - cpu_started
        figures["rows"] = float(result.rows)
        figures["csv_mb"] = path.stat().st_size / 1e6
        # Traced separately: tracemalloc slows allocation-heavy code several times over.
        tracemalloc.start()
        try:
            service.write_file(spec=ReportSpec(), path=path)
            figures["peak_mb"] = tracemalloc.get_traced_memory()[1] / 1e6
        finally:
            tracemalloc.stop()
    # ru_maxrss is in KiB on Linux.
    figures["max_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out.write(
        f"report.csv_{requests // 1000}k [{store.engine.dialect.name}]: "
        f"{figures['rows']:.0f} rows, {figures['csv_mb']:.1f} MB of CSV in "
        f"{figures['seconds']:.2f} s ({figures['cpu_seconds']:.2f} s CPU); "
        f"peak Python heap {figures['peak_mb']:.1f} MB, "
        f"process max RSS {figures['max_rss_mb']:.0f} MB"
        + (f" (seeding took {figures['seed_seconds']:.1f} s)" if seed else "")
        + "\n"
    )
    return figures
