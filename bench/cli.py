"""``python -m bench [NAME ...] [--list] [--quick] [--table FILE]``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from bench.context import Context
from bench.registry import UnknownBenchmarkError, discover, registered, select
from bench.runner import run
from bench.table import markdown_table

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m bench",
        description="Run benchmarks; print one JSON object per figure on stdout.",
    )
    p.add_argument(
        "names",
        nargs="*",
        metavar="NAME",
        help="benchmark names or prefixes (e.g. modal, modal.open); all when omitted",
    )
    p.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    p.add_argument(
        "--quick", action="store_true", help="few samples: a smoke test, not figures to quote"
    )
    p.add_argument(
        "--table", type=Path, metavar="FILE", help="also write the figures as a Markdown table"
    )
    return p


def main(
    argv: Sequence[str] | None = None, *, out: TextIO = sys.stdout, err: TextIO = sys.stderr
) -> int:
    args = parser().parse_args(argv)
    failures = discover()
    for module, error in failures:
        print(f"[bench] cannot import {module}: {error!r}", file=err)
    try:
        chosen = select(patterns=args.names, available=registered())
    except UnknownBenchmarkError as error:
        print(f"[bench] no benchmark matches: {error}", file=err)
        return EXIT_USAGE
    if args.list:
        for bench in chosen if args.names else registered():
            note = " (on demand: runs only when named)" if bench.on_demand else ""
            print(f"{bench.name}\t{bench.unit}\t{bench.description}{note}", file=out)
        return EXIT_FAILED if failures else EXIT_OK
    report = run(benchmarks=chosen, context=Context(quick=args.quick, err=err), out=out)
    if args.table is not None:
        args.table.write_text(markdown_table(figures=report.figures), encoding="utf-8")
        print(f"[bench] table written to {args.table}", file=err)
    return EXIT_FAILED if failures or report.failed else EXIT_OK
