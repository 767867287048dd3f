"""The benchmark registry: a decorator to add one, discovery of every module under ``bench/``."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bench.figures import Outcome, Unit

if TYPE_CHECKING:
    from bench.context import Context

BenchFunction = Callable[["Context"], Outcome]


class UnknownBenchmarkError(LookupError):
    """A name or prefix on the command line matches no registered benchmark."""


@dataclass(frozen=True, slots=True)
class Benchmark:
    name: str
    unit: Unit
    function: BenchFunction
    description: str
    on_demand: bool = False
    """Too long for every full run: runs only when named in full on the command line."""

    @property
    def group(self) -> str:
        """``modal`` for ``modal.open``: benchmarks of one group may share set-up."""
        return self.name.split(".", 1)[0]


_REGISTRY: dict[str, Benchmark] = {}


def benchmark(
    *, name: str, unit: Unit, on_demand: bool = False
) -> Callable[[BenchFunction], BenchFunction]:
    """Register ``function(ctx) -> Distribution | Single`` under ``name`` (``group.figure``).

    ``on_demand``: left out of a full run and of a prefix's, run only when ``name`` itself is
    given (a figure that takes far longer than the rest, whose README entry says so)."""

    def register(function: BenchFunction) -> BenchFunction:
        if name in _REGISTRY:
            raise ValueError(f"benchmark {name!r} is registered twice")
        doc = (function.__doc__ or "").strip()
        _REGISTRY[name] = Benchmark(
            name=name,
            unit=unit,
            function=function,
            description=doc.split("\n", 1)[0],
            on_demand=on_demand,
        )
        return function

    return register


def registered() -> list[Benchmark]:
    return sorted(_REGISTRY.values(), key=lambda b: b.name)


def discover(*, package: str = "bench") -> list[tuple[str, BaseException]]:
    """Import every module of ``package`` (helpers too: importing them is harmless), so that
    each ``@benchmark`` registers itself; returns the modules that failed to import.

    A broken module must not hide everybody else's figures, so failures are returned, not raised.
    """
    root = importlib.import_module(package)
    failures: list[tuple[str, BaseException]] = []
    for info in pkgutil.iter_modules(root.__path__):
        if info.name.startswith("_"):  # __main__, and helpers their owners keep private
            continue
        module = f"{package}.{info.name}"
        try:
            importlib.import_module(module)
        except Exception as error:
            failures.append((module, error))
    return failures


def select(*, patterns: Sequence[str], available: Sequence[Benchmark]) -> list[Benchmark]:
    """Benchmarks whose name equals or starts with one of ``patterns`` (all when none given);
    an on-demand one only when its whole name is given.

    Raises UnknownBenchmarkError naming every pattern that matches nothing, so a typo is not
    mistaken for a fast run.
    """

    def chosen(bench: Benchmark, pattern: str) -> bool:
        return bench.name == pattern or (not bench.on_demand and bench.name.startswith(pattern))

    if not patterns:
        return [b for b in available if not b.on_demand]
    unknown = [p for p in patterns if not any(chosen(b, p) for b in available)]
    if unknown:
        raise UnknownBenchmarkError(", ".join(unknown))
    return [b for b in available if any(chosen(b, p) for p in patterns)]
