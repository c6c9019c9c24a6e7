"""Repetition until precise (issue 13): take samples until the median is worth quoting.

A figure is measured the plan's fixed number of times, then, if the plan asks for
precision (Plan.precision_rel > 0, the full plan), again one sample at a time while
its median's 95 % interval (stats.median_ci, from order statistics) is wider than
±precision_rel of the median, until it has Plan.max_reps samples or Plan.max_figure_s
seconds went into measuring it. The quick plan has precision off: its repetitions
stay fixed, so CI's run does not grow.

`Budget` is one figure's account (samples taken, seconds spent, whether to take
another); `repeat_until_precise` is the loop for a measurement that returns one
sample. A measurement taken in batches (a probe process running several repetitions)
asks `Budget.next_batch` how many more fit.

The caps bound the cost: a figure gets at most max_figure_s seconds of measuring (plus
the one sample, or batch, that crosses the line), and at most max_reps samples.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import TypeVar

from benchmarks import stats
from benchmarks.plan import Plan

T = TypeVar("T")


class Budget:
    """One figure's repetitions: `reps` first, then more while imprecise and under the caps.

    reps defaults to plan.reps (served runs pass plan.served_triggers); max_reps caps the
    count below the plan's (a slow variant's chain), never below reps. A measurement
    that fails (returns None) counts as taken; once the fixed repetitions are done, a
    failure ends the extra ones: a probe that broke is not retried up to the cap.
    """

    def __init__(self, plan: Plan, reps: int | None = None,
                 max_reps: int | None = None) -> None:
        self.reps = plan.reps if reps is None else reps
        self.rel = plan.precision_rel
        cap = plan.max_reps if max_reps is None else min(max_reps, plan.max_reps)
        self.max_reps = max(cap, self.reps)
        self.max_s = plan.max_figure_s
        self.taken = 0
        self.spent = 0.0  # seconds inside take()/take_batch()
        self.failed = False

    @property
    def extra(self) -> bool:
        """Whether the next sample is beyond the fixed repetitions."""
        return self.taken >= self.reps

    def more(self, *samples: Sequence[float]) -> bool:
        """Whether to take another sample: the fixed repetitions are not all taken, or
        precision is on, one of `samples` (the figure's sample lists: a measurement can
        give several figures) is not precise yet, and no cap is reached."""
        if self.taken < self.reps:
            return True
        if self.rel <= 0 or self.failed:
            return False
        if self.taken >= self.max_reps or self.spent >= self.max_s:
            return False
        return not all(stats.precise(s, self.rel) for s in samples)

    def take(self, measure: Callable[[], T | None]) -> T | None:
        """Run one measurement, counting it and its time."""
        return self.take_batch(measure, 1)

    def take_batch(self, measure: Callable[[], T | None], count: int) -> T | None:
        """Run a measurement of `count` samples (one probe process), counting both."""
        extra = self.extra
        started = time.perf_counter()
        try:
            result = measure()
        finally:
            self.spent += time.perf_counter() - started
            self.taken += count
        if result is None and extra:
            self.failed = True
        return result

    def next_batch(self, size: int) -> int:
        """How many samples the next batch may take: `size` (a batch as large as the first
        one: a process start-up is paid per batch, so not one by one), or less, what is
        left under the count cap and under the time cap at the cost per sample so far
        (start-up included, so a batch rarely overshoots); 0 when nothing fits."""
        left = min(size, self.max_reps - self.taken)
        if self.taken and self.spent > 0:
            per_sample = self.spent / self.taken
            left = min(left, math.floor((self.max_s - self.spent) / per_sample))
        return max(left, 0)


def repeat_until_precise(measure: Callable[[], float | None], plan: Plan,
                         reps: int | None = None,
                         max_reps: int | None = None) -> list[float]:
    """Samples of `measure` (None: a failed attempt, not a sample) under a Budget."""
    budget = Budget(plan, reps, max_reps)
    samples: list[float] = []
    while budget.more(samples):
        value = budget.take(measure)
        if value is not None:
            samples.append(value)
    return samples
