"""The report's statistics: checked against values worked out by hand."""

from __future__ import annotations

import pytest

from benchmarks import stats


def test_median_odd_and_even() -> None:
    assert stats.median([3.0, 1.0, 2.0]) == 2.0
    assert stats.median([4.0, 1.0, 3.0, 2.0]) == 2.5


def test_quartiles_interpolate_like_numpy() -> None:
    # numpy.percentile([1..8], [25, 50, 75]) == [2.75, 4.5, 6.25]
    assert stats.quartiles([float(x) for x in range(1, 9)]) == (2.75, 4.5, 6.25)
    assert stats.iqr([float(x) for x in range(1, 9)]) == 3.5


def test_quantile_rejects_empty_and_out_of_range() -> None:
    with pytest.raises(ValueError):
        stats.median([])
    with pytest.raises(ValueError):
        stats.quantile([1.0], 1.5)


def test_ratio_is_of_medians_not_means() -> None:
    # One outlier would move a ratio of means to 2.0; the median ignores it.
    assert stats.ratio([1.0, 1.0, 1.0, 1.0, 5.0], [1.0, 1.0, 1.0, 1.0, 1.0]) == 1.0


def test_bootstrap_interval_is_reproducible_and_brackets_the_ratio() -> None:
    a = [10.0, 11.0, 12.0, 10.5, 13.0, 11.5, 12.5, 10.2]
    b = [10.0, 10.4, 9.8, 10.1, 10.6, 9.9, 10.3, 10.2]
    lo, hi = stats.bootstrap_ratio_ci(a, b, seed=7)
    assert (lo, hi) == stats.bootstrap_ratio_ci(a, b, seed=7)
    assert lo <= stats.ratio(a, b) <= hi
    assert lo < hi


def test_bootstrap_of_constant_samples_is_exact() -> None:
    assert stats.bootstrap_ratio_ci([2.0] * 5, [1.0] * 5) == (2.0, 2.0)


def test_bootstrap_median_interval_brackets_the_median() -> None:
    values = [0.9, 0.95, 1.0, 1.02, 1.05, 0.97, 1.1, 0.93]
    lo, hi = stats.bootstrap_median_ci(values, seed=3)
    assert lo <= stats.median(values) <= hi
    assert min(values) <= lo < hi <= max(values)
    assert stats.bootstrap_median_ci([1.5] * 4) == (1.5, 1.5)


def test_linear_fit_recovers_an_exact_line() -> None:
    slope, intercept = stats.linear_fit([1.0, 5.0, 10.0], [2.5, 4.5, 7.0])  # y = 0.5x + 2
    assert slope == pytest.approx(0.5)
    assert intercept == pytest.approx(2.0)


def test_linear_fit_least_squares_by_hand() -> None:
    # Points (0,1) (1,1) (2,3) (2,3): mean x 1.25, mean y 2, Sxx 2.75, Sxy 3.0.
    slope, intercept = stats.linear_fit([0.0, 1.0, 2.0, 2.0], [1.0, 1.0, 3.0, 3.0])
    assert slope == pytest.approx(3.0 / 2.75)
    assert intercept == pytest.approx(2.0 - 1.25 * 3.0 / 2.75)


def test_linear_fit_needs_two_distinct_xs() -> None:
    with pytest.raises(ValueError):
        stats.linear_fit([3.0, 3.0], [1.0, 2.0])
    with pytest.raises(ValueError):
        stats.linear_fit([1.0, 2.0], [1.0])
