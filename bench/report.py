"""CSV report benchmarks (issue 6): 100,000 requests of three integrations each, on PostgreSQL.

Seeding and the export are the app's own benchmark fixture,
``bench.report_seeding.bench_export``: it bulk-loads the rows (COPY), exports everything
once timed and once under ``tracemalloc``, and returns both figures. They are printed as two
lines, ``report.csv_100k`` (seconds, the untraced export) and ``report.csv_100k_peak`` (MB, the
Python heap's peak during the traced export); one export serves both, so the run pays for the
100,000 requests once. PostgreSQL because reports are what a production (multi-instance)
deployment runs; ``--quick`` exports 10,000 requests instead.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from typing import Final

from bench.context import Context
from bench.figures import Single
from bench.pgdb import temporary_pg_database
from bench.registry import benchmark
from bench.report_seeding import bench_export
from bench.simcalls import BenchError
from store.engine import make_engine
from store.migrate import upgrade
from store.unit_of_work import Store

INTEGRATIONS: Final = 3


@dataclass
class ReportRun:
    """The export, run by whichever of the two benchmarks asks first."""

    export: Callable[[], dict[str, float]]
    _figures: dict[str, float] | None = field(default=None, init=False)

    def figures(self) -> dict[str, float]:
        if self._figures is None:
            self._figures = self.export()
        return self._figures


def _report_run(
    *, requests: int, log: Callable[[str], None]
) -> Callable[[], AbstractContextManager[ReportRun]]:
    @contextmanager
    def factory() -> Iterator[ReportRun]:
        with temporary_pg_database() as url:
            store = Store(engine=make_engine(url))
            try:
                upgrade(store.engine)

                def export() -> dict[str, float]:
                    summary = io.StringIO()
                    figures = bench_export(
                        store=store, out=summary, requests=requests, integrations=INTEGRATIONS
                    )
                    log(f"[bench] {summary.getvalue().strip()}")
                    expected = requests * INTEGRATIONS
                    # Denied requests have no grant, but still one row per integration.
                    if figures["rows"] != expected:
                        raise BenchError(f"{figures['rows']:.0f} rows, not {expected:,}")
                    return figures

                yield ReportRun(export=export)
            finally:
                store.dispose()

    return factory


def _run(ctx: Context) -> ReportRun:
    requests = ctx.samples(full=100_000, quick=10_000)
    return ctx.shared(key="report.run", factory=_report_run(requests=requests, log=ctx.log))


@benchmark(name="report.csv_100k", unit="s")
def report_csv_100k(ctx: Context) -> Single:
    """CSV of 100,000 requests × 3 integrations (300,000 rows) written to a file, on PostgreSQL."""
    return Single(value=_run(ctx).figures()["seconds"])


@benchmark(name="report.csv_100k_peak", unit="MB")
def report_csv_100k_peak(ctx: Context) -> Single:
    """Peak Python heap while writing that CSV (tracemalloc): the export streams in pages."""
    return Single(value=_run(ctx).figures()["peak_mb"])
