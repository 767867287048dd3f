"""Runs benchmarks one after another and prints each figure as soon as it exists."""

from __future__ import annotations

import gc
import os
import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TextIO

from bench.context import Context, SharedSetupError
from bench.figures import Figure
from bench.registry import Benchmark


@dataclass
class RunReport:
    figures: list[Figure] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


def run(*, benchmarks: Sequence[Benchmark], context: Context, out: TextIO) -> RunReport:
    """Run ``benchmarks`` in order; one failing benchmark is reported and the rest still run."""
    report = RunReport()
    group: str | None = None
    try:
        for bench in benchmarks:
            if bench.group != group:
                context.close_shared()
                group = bench.group
            # Garbage from the previous benchmark must not be collected inside this one.
            gc.collect()
            started = time.perf_counter()
            context.log(f"[bench] {bench.name} ...")
            try:
                outcome = bench.function(context)
                figure = Figure.of(name=bench.name, unit=bench.unit, outcome=outcome)
            except SharedSetupError as error:
                report.failed.append(bench.name)
                context.log(f"[bench] {bench.name} FAILED: {error}")
                continue
            except Exception:
                report.failed.append(bench.name)
                context.log(f"[bench] {bench.name} FAILED\n{traceback.format_exc()}")
                continue
            report.figures.append(figure)
            print(figure.to_json(), file=out, flush=True)
            context.log(
                f"[bench] {bench.name} done in {time.perf_counter() - started:.1f} s "
                f"(load average {_load():.1f} on {os.cpu_count()} CPUs)"
            )
    finally:
        context.close_shared()
    return report


def _load() -> float:
    """Other work on the machine shows in every tail figure: say how much there was."""
    return os.getloadavg()[0]
