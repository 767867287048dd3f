"""``python -m app report``: writes the file and exits 0, or says what is wrong and exits 1 or 2."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from pathlib import Path

import pytest

from app.reports.cli import EXIT_FAILED, EXIT_OK, EXIT_USAGE, report_command
from domain.clock import ManualClock
from store.engine import make_engine
from store.migrate import upgrade
from store.unit_of_work import Store
from tests.integration.reports.seeding import BOB, T0, activate, submit


@pytest.fixture
def seeded_url(database_url: str) -> str:
    """A migrated database holding one active bundle request and one older pending one."""
    engine = make_engine(database_url)
    upgrade(engine)
    store = Store(engine=engine)
    activate(store, submit(store, at=T0), by=BOB.id, at=T0)
    submit(store, at=T0 - timedelta(days=30), bundle="analytics")
    engine.dispose()
    return database_url


def run(argv: list[str], *, url: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = report_command(
        argv,
        out=out,
        err=err,
        env={"DATABASE_URL": url},
        clock=ManualClock(start=T0 + timedelta(hours=1)),
    )
    return code, out.getvalue(), err.getvalue()


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as file:
        return list(csv.DictReader(file))


def test_the_report_command_writes_the_csv_file_and_exits_0(
    seeded_url: str, tmp_path: Path
) -> None:
    target = tmp_path / "out" / "report.csv"
    target.parent.mkdir()

    code, out, err = run(["--out", str(target)], url=seeded_url)

    assert (code, err) == (EXIT_OK, "")
    assert out == f"wrote 6 rows (2 requests) to {target}\n"
    rows = read_csv(target)
    assert {r["Bundle Name"] for r in rows} == {"prod-incident", "analytics"}


def test_filters_may_be_words_or_options_mixed_freely(seeded_url: str, tmp_path: Path) -> None:
    target = tmp_path / "report.csv"

    code, _, err = run(
        [
            *("last", "7d", "--bundle", "prod-incident", "--out", str(target)),
            *("status", "active", "--columns", "request_id,integration,status"),
        ],
        url=seeded_url,
    )

    assert (code, err) == (EXIT_OK, "")
    rows = read_csv(target)
    assert [(r["Integration"], r["Status"]) for r in rows] == [
        ("prod-mysql", "active"),
        ("prod-postgres", "active"),
        ("prod-redis", "active"),
    ]
    assert list(rows[0]) == ["Request ID", "Integration", "Status"]


def test_out_dash_writes_the_csv_to_standard_output_and_the_summary_to_errors(
    seeded_url: str,
) -> None:
    code, out, err = run(["bundle", "analytics", "--out", "-"], url=seeded_url)

    assert code == EXIT_OK
    assert out.startswith("Request ID,Request Date,")
    assert len(list(csv.DictReader(io.StringIO(out, newline="")))) == 3
    assert err == "wrote 3 rows (1 request) to standard output\n"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["status", "actve"], "error: unknown status 'actve' (did you mean 'active'?)"),
        (["--last", "7x"], "error: 'last 7x' is not a span of time"),
        (["bundel", "x"], "error: unknown filter 'bundel' (did you mean 'bundle'?)"),
        (["--from", "2026-02-01", "--to", "2026-01-01"], "error: 'from 2026-02-01' is not before"),
        (["--nope"], "error: unrecognized arguments: --nope"),
    ],
)
def test_bad_filters_exit_2_with_a_readable_message_and_write_nothing(
    argv: list[str], message: str, tmp_path: Path
) -> None:
    target = tmp_path / "report.csv"

    code, out, err = run([*argv, "--out", str(target)], url="sqlite:///never-opened.db")

    assert (code, out) == (EXIT_USAGE, "")
    first, usage = err.splitlines()[:2]
    assert first.startswith(f"python -m app report: {message}")
    assert usage.startswith("usage: python -m app report")
    assert not target.exists()


def test_without_out_the_command_says_it_is_required() -> None:
    code, _, err = run(["last", "7d"], url="sqlite:///never-opened.db")

    assert code == EXIT_USAGE
    assert "the following arguments are required: -o/--out" in err


def test_help_lists_the_filters_and_exits_0() -> None:
    code, out, _ = run(["--help"], url="sqlite:///never-opened.db")

    assert code == EXIT_OK
    assert "usage: python -m app report" in out
    assert "last 7d | last 24h" in out


def test_a_missing_database_file_is_named_instead_of_created(tmp_path: Path) -> None:
    missing = tmp_path / "nothing.db"

    code, _, err = run(["--out", str(tmp_path / "r.csv")], url=f"sqlite:///{missing}")

    assert code == EXIT_FAILED
    assert err.startswith(f"error: no database at {missing}")
    assert not missing.exists()


def test_a_database_without_tables_asks_for_a_migration(database_url: str, tmp_path: Path) -> None:
    if database_url.startswith("sqlite"):
        make_engine(database_url).connect().close()  # an empty file

    code, _, err = run(["--out", str(tmp_path / "r.csv")], url=database_url)

    assert code == EXIT_FAILED
    assert "has no tables yet; run `python -m app migrate`" in err


def test_an_unreachable_database_is_one_line_without_the_password(tmp_path: Path) -> None:
    url = "postgresql://jit:s3cret@127.0.0.1:1/jit"

    code, _, err = run(["--out", str(tmp_path / "r.csv")], url=url)

    assert code == EXIT_FAILED
    assert err.startswith("error: cannot read the database postgresql://jit:***@127.0.0.1:1/jit: ")
    assert "s3cret" not in err
    assert err.count("\n") == 1


def test_an_unwritable_target_exits_1_and_names_it(seeded_url: str, tmp_path: Path) -> None:
    target = tmp_path / "no-such-directory" / "report.csv"

    code, _, err = run(["--out", str(target)], url=seeded_url)

    assert code == EXIT_FAILED
    assert err == f"error: cannot write {target}: No such file or directory\n"
