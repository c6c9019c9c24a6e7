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


# --- the median's interval, precision and two modes (issue 13) ------------------------

def test_median_ci_ranks_match_the_binomial_tables() -> None:
    # Conover (1999) / Hahn & Meeker (1991): at 95 %, no interval below n = 6; n = 6..8
    # use the extremes, n = 9 X(2)–X(8), n = 12 X(3)–X(10), n = 20 X(6)–X(15)
    assert [stats.median_ci_ranks(n) for n in range(1, 6)] == [None] * 5
    assert stats.median_ci_ranks(6) == (1, 6)
    assert stats.median_ci_ranks(8) == (1, 8)
    assert stats.median_ci_ranks(9) == (2, 8)
    assert stats.median_ci_ranks(12) == (3, 10)
    assert stats.median_ci_ranks(20) == (6, 15)
    assert stats.median_ci_ranks(5, confidence=0.90) == (1, 5)  # 1 − 2/32 = 93.75 %


def test_median_ci_coverage_is_at_least_the_confidence() -> None:
    from math import comb

    for n in range(6, 41):
        low, high = stats.median_ci_ranks(n)
        coverage = sum(comb(n, i) for i in range(low, high)) / 2**n
        assert coverage >= 0.95
        # and the next narrower interval would fall short
        if low + 1 <= high - 1:
            assert sum(comb(n, i) for i in range(low + 1, high - 1)) / 2**n < 0.95


def test_median_ci_brackets_the_median() -> None:
    values = [1.0, 1.04, 0.97, 1.01, 0.99, 1.02, 1.0, 0.98, 1.03]
    lo, hi = stats.median_ci(values)
    assert (lo, hi) == (0.98, 1.03)  # X(2), X(8)
    assert lo <= stats.median(values) <= hi
    assert stats.median_ci([1.0, 2.0, 3.0, 4.0, 5.0]) is None


def test_precise_within_five_percent() -> None:
    tight = [1.0, 1.04, 0.97, 1.01, 0.99, 1.02, 1.0, 0.98, 1.03]
    assert stats.precise(tight)
    assert not stats.precise(tight, rel=0.02)
    assert not stats.precise([1.0, 1.01, 0.99, 1.0, 1.0])  # five samples: no interval
    assert not stats.precise([1.0, 1.0, 1.0, 1.0, 1.0, 2.0])  # n = 6: X(1)–X(6)
    assert stats.precise([0.0] * 6)
    assert stats.precise([-1.0, -1.01, -0.99, -1.0, -1.02, -0.98])  # by magnitude


def test_unimodal_noise_is_not_bimodal() -> None:
    assert not stats.bimodal([1.0, 1.02, 0.98, 1.01, 0.99, 1.03, 0.97])
    assert not stats.bimodal([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])  # evenly spread
    import random

    rng = random.Random(1)
    assert not stats.bimodal([rng.gauss(10.0, 1.0) for _ in range(20)])


def test_two_clusters_are_bimodal() -> None:
    samples = [1.0, 1.1, 1.05, 2.0, 2.1, 2.05]
    assert stats.bimodal(samples)
    assert stats.modes(samples) == ([1.0, 1.05, 1.1], [2.0, 2.05, 2.1])
    assert stats.bimodal([3.5, 3.52, 4.6, 4.7, 4.66])  # two and three
    # a real one (direct's definition load, 20 processes): 0.164 s and 0.215 s, with a
    # stray 0.116 s in the first group that a range-based spread would let hide the gap
    load = [0.166, 0.164, 0.164, 0.165, 0.164, 0.116, 0.215, 0.215, 0.164, 0.164, 0.218,
            0.165, 0.169, 0.171, 0.165, 0.164, 0.215, 0.215, 0.215, 0.215]
    two = stats.modes(load)
    assert two is not None and (len(two[0]), len(two[1])) == (13, 7)
    assert stats.median(two[0]) == 0.164 and stats.median(two[1]) == 0.215


def test_an_outlier_alone_is_not_a_second_mode() -> None:
    assert not stats.bimodal([1.0, 1.02, 0.98, 1.01, 5.0])
    assert not stats.bimodal([9.0, 1.0, 1.02, 0.98, 1.01, 0.99])
    assert not stats.bimodal([1.0, 1.1, 2.0])  # too few to have two groups of two


def test_a_small_gap_is_not_two_modes() -> None:
    # two tight groups 2 % apart: a reader would not tell them apart
    assert not stats.bimodal([1.0, 1.0001, 1.02, 1.0201])


# --- repetition until precise (benchmarks/repeat.py) ------------------------------------

def _plan(**changes: object):  # type: ignore[no-untyped-def]
    import dataclasses

    from benchmarks.plan import FULL

    return dataclasses.replace(FULL, **changes)


def test_quick_plan_keeps_fixed_repetitions() -> None:
    from benchmarks.plan import QUICK
    from benchmarks.repeat import repeat_until_precise

    noisy = iter([1.0, 3.0, 2.0, 5.0, 0.5, 4.0])
    assert QUICK.precision_rel == 0
    assert repeat_until_precise(lambda: next(noisy), QUICK) == [1.0, 3.0]


def test_repeats_until_the_median_is_precise() -> None:
    from benchmarks.repeat import repeat_until_precise

    values = iter([1.0, 1.01, 0.99, 1.02, 0.98, 1.0, 1.01, 5.0, 1.0] + [1.0] * 20)
    samples = repeat_until_precise(lambda: next(values), _plan(reps=5))
    assert len(samples) == 6  # no interval at 5; X(1)–X(6) within ±5 % at 6


def test_repetition_stops_at_the_count_and_time_caps() -> None:
    import itertools
    import time

    from benchmarks.repeat import Budget, repeat_until_precise

    alternating = itertools.cycle([1.0, 2.0])
    assert len(repeat_until_precise(lambda: next(alternating), _plan(max_reps=12))) == 12

    def slow() -> float:
        time.sleep(0.02)
        return next(alternating)

    assert len(repeat_until_precise(slow, _plan(reps=3, max_figure_s=0.1))) < 12
    budget = Budget(_plan(reps=5, max_reps=20), max_reps=3)
    assert budget.max_reps == 5  # a slow variant's cap never goes below the repetitions


def test_a_failed_extra_sample_ends_the_repetition() -> None:
    from benchmarks.repeat import repeat_until_precise

    values = iter([1.0, 2.0, 3.0, None, 1.0, 1.0])
    assert repeat_until_precise(lambda: next(values), _plan(reps=3)) == [1.0, 2.0, 3.0]
    values = iter([None, 1.0, 2.0, 3.0, 1.0])  # a failure among the fixed ones does not
    assert repeat_until_precise(lambda: next(values), _plan(reps=2, max_reps=3)) == [1.0, 2.0]


def test_next_batch_fits_the_time_left() -> None:
    from benchmarks.repeat import Budget

    budget = Budget(_plan(reps=5, max_reps=20, max_figure_s=100.0))
    budget.taken, budget.spent = 5, 20.0  # 4 s a sample
    assert budget.next_batch(5) == 5
    budget.spent = 40.0  # 8 s a sample, 60 s left
    assert budget.next_batch(10) == 7
    budget.spent = 95.0
    assert budget.next_batch(5) == 0
    budget.taken, budget.spent = 18, 1.0
    assert budget.next_batch(5) == 2


def test_chain_probes_are_repeated_in_batches_until_precise(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """latency's chain: a probe process of `reps` repetitions, then more processes with as
    many repetitions as still fit, merged into one figure; the quick plan runs one."""
    import itertools

    from benchmarks import latency
    from benchmarks.plan import QUICK, Bench
    from benchmarks.results import ResultSet

    calls: list[tuple[str, int]] = []
    noise = itertools.cycle([0.0, 0.001, -0.001, 0.002, -0.002])

    def fake_probe(orch, command, workdir, extra, timeout_s):  # type: ignore[no-untyped-def]
        reps = int(extra[extra.index("--reps") + 1])
        calls.append((orch, reps))
        slope = 0.1 if orch != "direct" else 0.001
        samples = {"1": [], "4": []}
        for _ in range(reps):
            eps = next(noise) * (1 if orch != "direct" else 0)
            samples["1"].append(0.5 + slope)
            samples["4"].append(0.5 + 4 * (slope + eps))
        doc = {"sizes": [1, 4], "samples": samples, "first_run_s": 3.0, "first_run_n": 1}
        return latency.ProbeRun(doc, 1.0)

    monkeypatch.setattr(latency, "run_probe", fake_probe)
    for plan, expect in ((QUICK, {2}), (_plan(chain_sizes=(1, 4)), {5})):
        calls.clear()
        plan = _plan(**{**plan.to_dict(), "orchestrators": ("prefect",)})
        rs = ResultSet(plan.mode, "test", "", {}, {})
        latency.chain(Bench(plan, rs, tmp_path, log=lambda line: None))
        slopes = {f.key: f.samples for f in rs.figures if f.metric == "slope_s_per_task"}
        assert {reps for _, reps in calls} == expect
        for samples in slopes.values():
            # full: 5 have no 95 % interval; a second process of 5 more makes them precise
            assert len(samples) == (2 if plan.mode == "quick" else 10)
        if plan.mode == "full":
            assert all(stats.precise(s) for s in slopes.values())
            note = next(f.note for f in rs.figures if f.orchestrator == "prefect")
            assert "samples from 2 probe processes" in note


def test_definition_load_goes_on_only_for_imprecise_orchestrators(tmp_path,  # type: ignore[no-untyped-def]
                                                                  monkeypatch) -> None:
    """Rounds stay interleaved; a precise orchestrator stops at 6 samples, a noisy one at
    max_reps; the progress units stay the plan's (definition_load_units)."""
    import itertools

    from benchmarks import latency
    from benchmarks.plan import Bench
    from benchmarks.results import ResultSet

    noisy = itertools.cycle([1.0, 2.0, 3.0])
    order: list[str] = []

    def fake_probe(orch, command, workdir, extra, timeout_s):  # type: ignore[no-untyped-def]
        order.append(orch)
        wall = 0.1 if orch == "direct" else next(noisy)
        return latency.ProbeRun({"definitions_s": wall / 2}, wall)

    monkeypatch.setattr(latency, "run_probe", fake_probe)
    plan = _plan(orchestrators=("prefect",), max_reps=9)
    rs = ResultSet(plan.mode, "test", "", {}, {})
    units: list[str] = []
    latency.definition_load(Bench(plan, rs, tmp_path, log=lambda line: None,
                                  advance=units.append))
    walls = {f.orchestrator: f.samples for f in rs.figures if f.metric == "process_wall_s"}
    assert len(walls["direct"]) == 6 and len(walls["prefect"]) == 9
    assert order[:4] == ["direct", "prefect", "prefect", "direct"]  # warm-up, then rep 1
    assert len(units) == latency.definition_load_units(plan)


def test_growth_compares_the_marginal_cost_at_both_ends() -> None:
    assert stats.growth([(10, 2.0), (100, 11.0), (500, 51.0)]) == "linear"
    assert stats.growth([(10, 2.0), (100, 11.0), (500, 200.0)]) == "faster than linear"
    assert stats.growth([(10, 2.0), (100, 11.0)]) == ""  # two sizes: a line, no shape
    # a flat start (marginal cost 0) followed by any rise is faster than linear
    assert stats.growth([(10, 5.0), (100, 5.0), (500, 9.0)]) == "faster than linear"


def test_max_overlap_counts_runs_at_once() -> None:
    from benchmarks.scale import max_overlap

    assert max_overlap([]) == 0
    assert max_overlap([(0, 10), (1, 2), (3, 4), (5, 11)]) == 2
    assert max_overlap([(0, 5), (5, 10)]) == 1  # one ends as the next starts: in turn
    assert max_overlap([(0, 10)] * 4 + [(10, 12)]) == 4  # four at once, the fifth queued
