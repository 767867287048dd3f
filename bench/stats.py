"""Order statistics for latency samples.

Medians and high percentiles only: on a noisy 2-core machine a mean is dragged around by the
occasional scheduler hiccup, while the median shows the typical case and p99 the tail.
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def percentile(values: Sequence[float], *, q: float) -> float:
    """The ``q``-th percentile (0-100), interpolating linearly between closest ranks.

    This is NumPy's default ("linear") method, so p50 of an even count is the mean of the two
    middle values, and p99 of 100 samples lies between the 99th and 100th smallest.
    """
    if not values:
        raise ValueError("percentile of no samples")
    if not 0 <= q <= 100:
        raise ValueError(f"percentile {q} is outside 0-100")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def median(values: Sequence[float]) -> float:
    return percentile(values, q=50)


def ratio(*, value: float | None, floor: float | None) -> float | None:
    """How many times the floor a figure is; None when there is nothing to compare."""
    if value is None or floor is None or floor <= 0:
        return None
    return value / floor
