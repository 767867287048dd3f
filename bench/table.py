"""The figures as a Markdown table, for the README."""

from __future__ import annotations

from collections.abc import Sequence

from bench.figures import Figure
from bench.stats import ratio

HEADER = (
    "| figure | median | p99 | floor | ratio |",
    "|---|---:|---:|---:|---:|",
)


def _amount(value: float | None, unit: str) -> str:
    if value is None:
        return "–"
    shown = f"{value:,.1f}" if abs(value) >= 10 else f"{value:,.2f}"
    return f"{shown} {unit}"


def markdown_table(*, figures: Sequence[Figure]) -> str:
    """One row per figure; ``median`` is the single value for figures that have no spread."""
    lines = list(HEADER)
    for figure in figures:
        times = ratio(value=figure.typical, floor=figure.floor)
        lines.append(
            f"| `{figure.name}` | {_amount(figure.typical, figure.unit)} "
            f"| {_amount(figure.p99, figure.unit)} | {_amount(figure.floor, figure.unit)} "
            f"| {'–' if times is None else f'{times:.1f}×'} |"
        )
    return "\n".join(lines) + "\n"
