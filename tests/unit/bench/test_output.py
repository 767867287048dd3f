"""The runner's output: one JSON object per figure on stdout, in a fixed shape."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from bench.cli import EXIT_USAGE, main
from bench.context import Context
from bench.figures import Distribution, Figure, Single
from bench.registry import Benchmark, UnknownBenchmarkError, select
from bench.runner import run
from bench.table import markdown_table

KEYS = ["name", "unit", "p50", "p99", "value", "floor", "n"]


def _bench(name: str, outcome: Distribution | Single) -> Benchmark:
    return Benchmark(name=name, unit="ms", function=lambda ctx: outcome, description="")


def _failing(name: str) -> Benchmark:
    def fail(ctx: Context) -> Distribution:
        raise RuntimeError("the app did not answer")

    return Benchmark(name=name, unit="ms", function=fail, description="")


def _lines(out: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_a_distribution_prints_p50_p99_and_the_floors_median_with_value_null() -> None:
    out, err = io.StringIO(), io.StringIO()
    samples = [float(i) for i in range(1, 101)]
    outcome = Distribution(samples=samples, floor=[1.0, 2.0, 3.0])
    run(benchmarks=[_bench("modal.open", outcome)], context=Context(err=err), out=out)
    [line] = _lines(out)
    assert list(line) == KEYS
    assert line == {
        "name": "modal.open",
        "unit": "ms",
        "p50": 50.5,
        "p99": 99.01,
        "value": None,
        "floor": 2.0,
        "n": 100,
    }
    assert "modal.open" in err.getvalue()  # progress goes to stderr


def test_a_single_figure_prints_its_value_with_p50_and_p99_null() -> None:
    out = io.StringIO()
    outcome = Single(value=1234.56789, n=3)
    run(benchmarks=[_bench("report.rows", outcome)], context=Context(err=io.StringIO()), out=out)
    [line] = _lines(out)
    assert line == {
        "name": "report.rows",
        "unit": "ms",
        "p50": None,
        "p99": None,
        "value": 1234.568,
        "floor": None,
        "n": 3,
    }


def test_a_failing_benchmark_is_reported_on_stderr_and_the_others_still_run() -> None:
    out, err = io.StringIO(), io.StringIO()
    report = run(
        benchmarks=[_failing("a.broken"), _bench("b.fine", Single(value=1.0))],
        context=Context(err=err),
        out=out,
    )
    assert report.failed == ["a.broken"]
    assert [line["name"] for line in _lines(out)] == ["b.fine"]
    assert "the app did not answer" in err.getvalue()


def test_shared_set_up_lasts_for_its_group_and_is_closed_before_the_next() -> None:
    events: list[str] = []

    @contextmanager
    def world() -> Iterator[str]:
        events.append("open")
        yield "world"
        events.append("close")

    def uses_world(ctx: Context) -> Single:
        assert ctx.shared(key="w", factory=world) == "world"
        events.append("measure")
        return Single(value=1.0)

    benches = [
        Benchmark(name=n, unit="s", function=uses_world, description="")
        for n in ("a.one", "a.two", "b.one")
    ]
    run(benchmarks=benches, context=Context(err=io.StringIO()), out=io.StringIO())
    assert events == ["open", "measure", "measure", "close", "open", "measure", "close"]


def test_figures_survive_a_round_trip_through_their_json_line() -> None:
    figure = Figure.of(
        name="modal.open", unit="ms", outcome=Distribution(samples=[1.0, 2.0], floor=None)
    )
    assert Figure.from_json(figure.to_json()) == figure


def test_names_select_by_exact_name_or_prefix_and_a_typo_is_an_error() -> None:
    available = [_bench(n, Single(value=1.0)) for n in ("grant.pg", "modal.open", "modal.submit")]
    assert [b.name for b in select(patterns=["modal"], available=available)] == [
        "modal.open",
        "modal.submit",
    ]
    assert [b.name for b in select(patterns=["grant.pg"], available=available)] == ["grant.pg"]
    assert len(select(patterns=[], available=available)) == 3
    with pytest.raises(UnknownBenchmarkError, match="modle"):
        select(patterns=["modle"], available=available)


def test_an_unknown_name_on_the_command_line_exits_with_a_usage_error() -> None:
    out, err = io.StringIO(), io.StringIO()
    assert main(["no-such-benchmark"], out=out, err=err) == EXIT_USAGE
    assert out.getvalue() == ""
    assert "no-such-benchmark" in err.getvalue()


def test_list_names_the_request_modal_benchmarks() -> None:
    out = io.StringIO()
    main(["--list", "modal"], out=out, err=io.StringIO())
    names = [line.split("\t")[0] for line in out.getvalue().splitlines()]
    assert names == [
        "modal.bundle_pick_10k",
        "modal.open",
        "modal.submit_1000",
        "modal.typeahead_100k",
    ]


def test_the_markdown_table_shows_the_ratio_of_median_to_floor() -> None:
    figures = [
        Figure(name="modal.open", unit="ms", p50=6.0, p99=9.5, value=None, floor=2.0, n=300),
        Figure(name="report.size", unit="MB", p50=None, p99=None, value=1.5, floor=None, n=1),
    ]
    table = markdown_table(figures=figures).splitlines()
    assert table[0] == "| figure | median | p99 | floor | ratio |"
    assert table[2] == "| `modal.open` | 6.00 ms | 9.50 ms | 2.00 ms | 3.0× |"
    assert table[3] == "| `report.size` | 1.50 MB | – | – | – |"


def test_a_failed_shared_set_up_fails_the_rest_of_its_group_without_a_retry() -> None:
    attempts: list[str] = []

    @contextmanager
    def broken() -> Iterator[str]:
        attempts.append("open")
        raise RuntimeError("no database")
        yield "never"

    def uses_broken(ctx: Context) -> Single:
        ctx.shared(key="w", factory=broken)
        return Single(value=1.0)

    benches = [
        Benchmark(name=n, unit="s", function=uses_broken, description="")
        for n in ("a.one", "a.two", "b.one")
    ]
    report = run(benchmarks=benches, context=Context(err=io.StringIO()), out=io.StringIO())
    assert report.failed == ["a.one", "a.two", "b.one"]
    assert attempts == ["open", "open"]  # once for group a, once for group b


def test_an_on_demand_benchmark_runs_only_when_named_in_full() -> None:
    long = Benchmark(
        name="scale.huge",
        unit="per_s",
        function=lambda ctx: Single(value=1.0),
        description="long",
        on_demand=True,
    )
    available = [_bench("scale.small", Single(value=1.0)), long]
    assert [b.name for b in select(patterns=[], available=available)] == ["scale.small"]
    assert [b.name for b in select(patterns=["scale"], available=available)] == ["scale.small"]
    assert [b.name for b in select(patterns=["scale.huge"], available=available)] == ["scale.huge"]
