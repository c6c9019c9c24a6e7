"""Small statistics for benchmark reports, in plain Python.

The machines are shared and noisy, so reports give medians and quartiles rather
than means, and compare against a baseline measured in the same run as a ratio
with a bootstrap interval. Pure functions with a fixed seed: a report rerun on the
same samples prints the same numbers.
"""

from __future__ import annotations

import random
from collections.abc import Sequence


def quantile(samples: Sequence[float], q: float) -> float:
    """Linear interpolation between order statistics (numpy's default, R type 7).

    Chosen so figures match what a reader gets from ``numpy.percentile``.
    """
    if not samples:
        raise ValueError("quantile of no samples")
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"q must be in [0, 1], got {q}")
    ordered = sorted(samples)
    pos = q * (len(ordered) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def median(samples: Sequence[float]) -> float:
    return quantile(samples, 0.5)


def quartiles(samples: Sequence[float]) -> tuple[float, float, float]:
    """(Q1, median, Q3)."""
    return quantile(samples, 0.25), quantile(samples, 0.5), quantile(samples, 0.75)


def iqr(samples: Sequence[float]) -> float:
    q1, _, q3 = quartiles(samples)
    return q3 - q1


def ratio(numerator: Sequence[float], denominator: Sequence[float]) -> float:
    """Ratio of medians: robust to the odd slow run that a ratio of means is not."""
    return median(numerator) / median(denominator)


def bootstrap_ratio_ci(
    numerator: Sequence[float],
    denominator: Sequence[float],
    *,
    confidence: float = 0.95,
    resamples: int = 2000,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap interval of ``ratio(numerator, denominator)``.

    The two samples are resampled independently: the unpaired, conservative view,
    which still holds when runs were not interleaved. With interleaved runs, the
    paired view (``bootstrap_median_ci`` of per-pair ratios) is tighter, because
    neighbouring runs share the machine's momentary load.
    """
    if not numerator or not denominator:
        raise ValueError("bootstrap of no samples")
    rng = random.Random(seed)
    estimates = []
    for _ in range(resamples):
        a = rng.choices(numerator, k=len(numerator))
        b = rng.choices(denominator, k=len(denominator))
        estimates.append(ratio(a, b))
    alpha = (1.0 - confidence) / 2.0
    return quantile(estimates, alpha), quantile(estimates, 1.0 - alpha)


def bootstrap_median_ci(
    samples: Sequence[float],
    *,
    confidence: float = 0.95,
    resamples: int = 2000,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap interval of the median of ``samples``."""
    if not samples:
        raise ValueError("bootstrap of no samples")
    rng = random.Random(seed)
    estimates = [median(rng.choices(samples, k=len(samples))) for _ in range(resamples)]
    alpha = (1.0 - confidence) / 2.0
    return quantile(estimates, alpha), quantile(estimates, 1.0 - alpha)


def linear_fit(xs: Sequence[float], ys: Sequence[float]) -> tuple[float, float]:
    """Ordinary least-squares line through (xs, ys): returns (slope, intercept).

    Per-task overhead is the slope of wall time against the number of tasks; the
    intercept is what a run costs with no task at all (run creation, scheduling
    loop, clean-up). Needs at least two distinct x values.
    """
    if len(xs) != len(ys):
        raise ValueError(f"{len(xs)} xs but {len(ys)} ys")
    if len(set(xs)) < 2:
        raise ValueError("a line needs at least two distinct x values")
    n = len(xs)
    mean_x = sum(xs) / n
    mean_y = sum(ys) / n
    sxx = sum((x - mean_x) ** 2 for x in xs)
    sxy = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True))
    slope = sxy / sxx
    return slope, mean_y - slope * mean_x
