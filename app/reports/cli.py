"""``python -m app report [filters] --out FILE``: the CSV report from the command line.

Filters are the words of ``/apono report`` (``last 7d bundle prod-incident``) or the same as
options (``--last 7d --bundle prod-incident``), freely mixed. Exit status: 0 written, 2 bad
arguments or filters, 1 the database or the file could not be used; every failure is one readable
line on ``err``.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Final, NoReturn, TextIO

from dotenv import dotenv_values
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from app.reports.csv import ReportService
from app.settings import DEFAULT_DATABASE_URL
from domain.clock import Clock, SystemClock
from domain.report_filters import FILTER_HELP, FilterError, parse_filter_words
from domain.reports import ReportSpec
from store.engine import make_engine
from store.migrate import current_revision
from store.unit_of_work import Store

EXIT_OK: Final = 0
EXIT_FAILED: Final = 1
EXIT_USAGE: Final = 2
PROG: Final = "python -m app report"
_OPTIONS: Final = (
    ("last", "SPAN", "e.g. 7d or 24h: requests made in that span before now"),
    ("from", "DATE", "first day (UTC) of requests to include, e.g. 2026-01-01"),
    ("to", "DATE", "last day (UTC) of requests to include, e.g. 2026-01-31"),
    ("bundle", "NAMES", "only requests for these bundles (comma-separated)"),
    ("requester", "WHO", "only requests by these people (emails or Slack IDs)"),
    ("integration", "NAMES", "only rows of these integrations"),
    ("status", "STATUSES", "only requests in these statuses, e.g. active,expired"),
    ("flow", "NAMES", "only requests through these access flows"),
    ("columns", "COLUMNS", "only these columns, in this order"),
)


class _UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    """Reports a usage error to the caller instead of printing and exiting the process."""

    def error(self, message: str) -> NoReturn:
        raise _UsageError(message)


def _parser() -> _Parser:
    parser = _Parser(
        prog=PROG,
        description="Write the access report (one row per request and integration) as CSV.",
        epilog=FILTER_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        add_help=False,
    )
    parser.add_argument(
        "filters", nargs="*", metavar="FILTER", help="filter words, e.g. last 7d bundle x"
    )
    parser.add_argument(
        "-o", "--out", required=True, metavar="FILE", help="CSV file to write ('-': stdout)"
    )
    for keyword, metavar, text in _OPTIONS:
        parser.add_argument(
            f"--{keyword}", action="append", default=[], dest=keyword, metavar=metavar, help=text
        )
    parser.add_argument("-h", "--help", action="store_true", help="show this help")
    return parser


def report_command(
    argv: Sequence[str],
    *,
    out: TextIO,
    err: TextIO,
    env: Mapping[str, str],
    clock: Clock | None = None,
) -> int:
    """Run ``python -m app report`` with ``argv`` (the words after ``report``).

    ``env`` supplies ``DATABASE_URL`` (else ``.env``, else the default SQLite file); ``clock``
    is where "last 7d" ends (the system clock unless a test moves it).
    """
    parser = _parser()
    if "-h" in argv or "--help" in argv:
        out.write(parser.format_help())
        return EXIT_OK
    try:
        args = parser.parse_intermixed_args(argv)
        words = list(args.filters)
        for keyword, _, _ in _OPTIONS:
            for value in getattr(args, keyword):
                words += [keyword, value]
        spec = parse_filter_words(words)
    except (_UsageError, FilterError) as error:
        err.write(f"{PROG}: error: {error}\n{parser.format_usage()}")
        return EXIT_USAGE
    return _export(
        spec=spec, target=args.out, out=out, err=err, env=env, clock=clock or SystemClock()
    )


def _export(
    *,
    spec: ReportSpec,
    target: str,
    out: TextIO,
    err: TextIO,
    env: Mapping[str, str],
    clock: Clock,
) -> int:
    url = database_url(env)
    shown = make_url(url).render_as_string(hide_password=True)
    problem = _missing_sqlite_file(url)
    if problem:
        err.write(f"error: {problem}\n")
        return EXIT_FAILED
    engine = make_engine(url)
    try:
        if current_revision(engine) is None:
            err.write(
                f"error: the database {shown} has no tables yet;"
                " run `python -m app migrate` (or start the bot) first\n"
            )
            return EXIT_FAILED
        service = ReportService(store=Store(engine=engine), clock=clock)
        if target == "-":
            result = service.write_csv(spec=spec, out=out)
            summary = err
        else:
            result = service.write_file(spec=spec, path=Path(target))
            summary = out
    except SQLAlchemyError as error:
        reason = getattr(error, "orig", None) or error
        one_line = " ".join(str(reason).split())  # drivers add indented hint lines
        err.write(f"error: cannot read the database {shown}: {one_line}\n")
        return EXIT_FAILED
    except OSError as error:
        err.write(f"error: cannot write {target}: {error.strerror or error}\n")
        return EXIT_FAILED
    finally:
        engine.dispose()
    where = "standard output" if target == "-" else target
    summary.write(
        f"wrote {_count(result.rows, 'row')} ({_count(result.requests, 'request')}) to {where}\n"
    )
    return EXIT_OK


def database_url(env: Mapping[str, str]) -> str:
    """``DATABASE_URL`` from ``env``, else from ``.env``, else the default (as ``migrate``)."""
    from_file = dotenv_values(".env").get("DATABASE_URL") if Path(".env").exists() else None
    return env.get("DATABASE_URL") or from_file or DEFAULT_DATABASE_URL


def _missing_sqlite_file(url: str) -> str | None:
    """Opening a missing SQLite file would create an empty one; say so instead."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    if Path(parsed.database).exists():
        return None
    return (
        f"no database at {parsed.database}; set DATABASE_URL, or run the bot or"
        " `python -m app migrate` first"
    )


def _count(number: int, noun: str) -> str:
    return f"{number:,} {noun}{'' if number == 1 else 's'}"
