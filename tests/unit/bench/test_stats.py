"""Percentiles as NumPy's default (linear) method computes them."""

from __future__ import annotations

import pytest

from bench.stats import median, percentile, ratio


def test_the_median_of_an_even_count_is_the_mean_of_the_middle_two() -> None:
    assert median([4.0, 1.0, 3.0, 2.0]) == 2.5


def test_p99_of_a_hundred_samples_lies_between_the_two_largest() -> None:
    samples = [float(i) for i in range(1, 101)]
    assert percentile(samples, q=99) == pytest.approx(99.01)


def test_the_extremes_are_the_smallest_and_largest_sample() -> None:
    samples = [5.0, 1.0, 9.0]
    assert (percentile(samples, q=0), percentile(samples, q=100)) == (1.0, 9.0)


def test_one_sample_is_every_percentile() -> None:
    assert percentile([7.0], q=50) == percentile([7.0], q=99) == 7.0


def test_no_samples_or_a_percentile_outside_0_to_100_is_an_error() -> None:
    with pytest.raises(ValueError, match="no samples"):
        percentile([], q=50)
    with pytest.raises(ValueError, match="outside"):
        percentile([1.0], q=101)


def test_the_ratio_to_the_floor_is_missing_without_a_floor() -> None:
    assert ratio(value=6.0, floor=2.0) == 3.0
    assert ratio(value=6.0, floor=None) is None
    assert ratio(value=None, floor=2.0) is None
    assert ratio(value=6.0, floor=0.0) is None
