"""Small statistics for benchmark reports, in plain Python.

The machines are shared and noisy, so reports give medians and quartiles rather
than means, and compare against a baseline measured in the same run as a ratio
with a bootstrap interval. Pure functions with a fixed seed: a report rerun on the
same samples prints the same numbers.

Whether a median is worth quoting (issue 13): `median_ci` is its distribution-free
95 % interval from order statistics, `precise` says whether that interval is within
±5 % of it, and `modes` finds samples with two modes, whose median would fall between
them. benchmarks/repeat.py repeats a measurement until its median is precise.
"""

from __future__ import annotations

import math
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


# `growth`: a cost grows faster than linearly when the marginal cost of one more unit
# between the two largest sizes is more than SUPERLINEAR times that between the two
# smallest. 1.5, not 1: single samples of a run on a 2-core machine vary by tens of per
# cent (the served figures' spread in docs/benchmark).
SUPERLINEAR = 1.5


def growth(points: Sequence[tuple[float, float]]) -> str:
    """"linear", "faster than linear", or "" with fewer than three distinct sizes, for
    (size, cost) points (the scale curve's: tasks, s); see SUPERLINEAR."""
    ordered = sorted(dict(points).items())
    if len(ordered) < 3:
        return ""

    def marginal(a: tuple[float, float], b: tuple[float, float]) -> float:
        return (b[1] - a[1]) / (b[0] - a[0])

    low, high = marginal(ordered[0], ordered[1]), marginal(ordered[-2], ordered[-1])
    return "faster than linear" if high > SUPERLINEAR * max(low, 1e-9) else "linear"


# --- precision of a median, and samples with two modes (issue 13) ----------------------

def _binomial_cdf_half(k: int, n: int) -> float:
    """P(B ≤ k) for B ~ Binomial(n, 1/2), exactly (integers, then one division)."""
    if k < 0:
        return 0.0
    return sum(math.comb(n, i) for i in range(min(k, n) + 1)) / 2**n


def median_ci_ranks(n: int, confidence: float = 0.95) -> tuple[int, int] | None:
    """1-based ranks (l, u) of the order statistics bounding the median's interval.

    The distribution-free interval of a median from order statistics: with X(1) ≤ … ≤
    X(n) from any continuous distribution, P(X(l) ≤ median < X(n−l+1)) =
    P(l ≤ B ≤ n−l) for B ~ Binomial(n, 1/2) = 1 − 2·P(B ≤ l−1). l is the largest rank
    whose coverage is still ≥ `confidence` (the shortest such symmetric interval; its
    coverage is conservative: the binomial is discrete). Conover, Practical
    Nonparametric Statistics, 3rd ed. (1999), §3.2, confidence interval for a quantile;
    Hahn & Meeker, Statistical Intervals (1991), §5.2. None when even (X(1), X(n)) covers
    less than `confidence`: at 95 % that is n ≤ 5 (1 − 2/2⁵ = 93.75 %), so n = 6 is the
    smallest sample with an interval.
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    best = None
    for low in range(1, n // 2 + 1):
        if 1.0 - 2.0 * _binomial_cdf_half(low - 1, n) >= confidence:
            best = low
        else:
            break
    return None if best is None else (best, n - best + 1)


def median_ci(samples: Sequence[float],
              confidence: float = 0.95) -> tuple[float, float] | None:
    """(low, high): the median's distribution-free interval (median_ci_ranks), or None
    when there are too few samples for `confidence` (fewer than 6 at 95 %)."""
    ranks = median_ci_ranks(len(samples), confidence)
    if ranks is None:
        return None
    ordered = sorted(samples)
    return ordered[ranks[0] - 1], ordered[ranks[1] - 1]


def precise(samples: Sequence[float], rel: float = 0.05, confidence: float = 0.95) -> bool:
    """Whether the median's interval (median_ci) lies within ±rel of the median.

    False without an interval (too few samples). A median of 0 is precise only if its
    interval is the single point 0; a negative median (an intercept can be) is judged
    by its magnitude.
    """
    ci = median_ci(samples, confidence)
    if ci is None:
        return False
    m = median(samples)
    return m - ci[0] <= rel * abs(m) and ci[1] - m <= rel * abs(m)


# Defaults of the two-mode rule: 3 is the gap being clearly larger than the scatter
# within either group; 10 % keeps two groups that a ±5 % precision band would not tell
# apart from being called two modes.
GAP_RATIO = 3.0
GAP_MIN_REL = 0.10


def modes(samples: Sequence[float], *, ratio: float = GAP_RATIO,
          min_rel: float = GAP_MIN_REL) -> tuple[list[float], list[float]] | None:
    """The samples' two groups (low, high) if they have two modes, else None.

    The rule, for small samples: sort the samples and look at the largest gap between
    neighbours that leaves at least two samples on each side. There are two modes when
    that gap is larger than `ratio` × the larger of the two groups' spreads, and larger
    than `min_rel` × |median| (a gap a reader would notice in the figure). A group's
    spread is its range up to 3 samples, its interquartile range from 4 on (a range grows
    with the group and with one stray sample in it, so two clear modes of 10 samples each
    would go unseen). The gap-to-spread ratio is Dixon's criterion for an outlying sample
    (Dixon, "Analysis of extreme values", Ann. Math. Statist. 21 (1950), 488–506;
    r = gap / range), applied to an inner gap with two samples or more on each side: a
    single sample far from the rest is an outlier, not a second mode, and is left to the
    median's robustness.

    Checked by simulation (2000 draws each): on one-mode samples (normal, log-normal,
    shifted exponential, uniform) it reports two modes in at most 5–10 % of draws at
    n = 5–8 and under 3 % at n ≥ 15; on a 60/40 mix of two modes 30 % apart (each ±3 %)
    it finds them in 58 % of draws at n = 6, 86 % at n = 10, 95 % at n = 20.

    Why not the usual tests: Hartigan's dip test (Ann. Statist. 13, 1985) has almost no
    power below a few tens of samples, and Sarle's bimodality coefficient (SAS/STAT
    User's Guide, 1990; b = (g² + 1) / (κ + 3(n−1)²/((n−2)(n−3))) > 5/9) rises with
    skewness, so one slow outlier among five samples reads as bimodal (Pfister et al.,
    "Good things peak in pairs", Front. Psychol. 4:700, 2013; Freeman & Dale, Behav. Res.
    Methods 45, 2013, 83–97). The figures here have 3 to 20 samples, and their typical
    shape is a tight group with the odd slow run.
    """
    n = len(samples)
    if n < 4:
        return None
    ordered = sorted(samples)
    best = max(range(2, n - 1), key=lambda i: ordered[i] - ordered[i - 1])
    gap = ordered[best] - ordered[best - 1]
    low, high = ordered[:best], ordered[best:]
    spread = max(_group_spread(low), _group_spread(high))
    if gap <= ratio * spread or gap <= min_rel * abs(median(ordered)):
        return None
    return low, high


def _group_spread(group: list[float]) -> float:
    """A sorted group's scatter for the two-mode rule: range up to 3 samples, IQR after."""
    return group[-1] - group[0] if len(group) <= 3 else iqr(group)


def bimodal(samples: Sequence[float], **rule: float) -> bool:
    """Whether the samples have two modes (the rule of `modes`)."""
    return modes(samples, **rule) is not None
