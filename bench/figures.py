"""What a benchmark measures (an outcome) and the one JSON line the runner prints for it."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal, get_args

from bench.stats import median, percentile

Unit = Literal["ms", "s", "MB", "per_s"]
UNITS: Final[tuple[str, ...]] = get_args(Unit)
DECIMALS: Final = 3
"""Microseconds for ``ms``: finer digits would only be noise on this machine."""


@dataclass(frozen=True, slots=True)
class Distribution:
    """Many samples of one quantity, in the benchmark's unit, with the baseline's if any.

    Take ``floor`` samples in the same run, interleaved with ``samples``, so that both see the
    same machine (see :func:`bench.sampling.interleaved`).
    """

    samples: Sequence[float]
    floor: Sequence[float] | None = None


@dataclass(frozen=True, slots=True)
class Single:
    """One figure (a throughput, a peak size, a total time), from ``n`` underlying samples."""

    value: float
    n: int = 1
    floor: float | None = None


Outcome = Distribution | Single


@dataclass(frozen=True, slots=True)
class Figure:
    """One line of output. ``floor`` is the baseline's median measured in the same run."""

    name: str
    unit: Unit
    p50: float | None
    p99: float | None
    value: float | None
    floor: float | None
    n: int

    @classmethod
    def of(cls, *, name: str, unit: Unit, outcome: Outcome) -> Figure:
        if isinstance(outcome, Single):
            return cls(
                name=name,
                unit=unit,
                p50=None,
                p99=None,
                value=_round(outcome.value),
                floor=_round(outcome.floor),
                n=outcome.n,
            )
        if not outcome.samples:
            raise ValueError(f"{name}: a distribution needs at least one sample")
        return cls(
            name=name,
            unit=unit,
            p50=_round(median(outcome.samples)),
            p99=_round(percentile(outcome.samples, q=99)),
            value=None,
            floor=_round(median(outcome.floor)) if outcome.floor else None,
            n=len(outcome.samples),
        )

    @property
    def typical(self) -> float | None:
        """The figure to compare with the floor: the median, or the single value."""
        return self.p50 if self.p50 is not None else self.value

    def to_json(self) -> str:
        # Key order is part of the format: people diff these lines between runs.
        return json.dumps(
            {
                "name": self.name,
                "unit": self.unit,
                "p50": self.p50,
                "p99": self.p99,
                "value": self.value,
                "floor": self.floor,
                "n": self.n,
            }
        )

    @classmethod
    def from_json(cls, line: str) -> Figure:
        data: dict[str, Any] = json.loads(line)
        unit = data["unit"]
        if unit not in UNITS:
            raise ValueError(f"unknown unit {unit!r}")
        return cls(
            name=str(data["name"]),
            unit=unit,
            p50=_number(data["p50"]),
            p99=_number(data["p99"]),
            value=_number(data["value"]),
            floor=_number(data["floor"]),
            n=int(data["n"]),
        )


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, DECIMALS)


def _number(value: Any) -> float | None:
    return None if value is None else float(value)


def ms(seconds: float) -> float:
    return seconds * 1000.0
