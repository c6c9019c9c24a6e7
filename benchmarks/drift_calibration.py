"""Calibration of the drift check: false cold starts and detection delay.

Runs the real Evidently check (core.drift.measure_drift with the configured
method and threshold) over generated data, exactly as check_drift feeds it:

- no drift: `--days` consecutive dates for each of `--seeds` seeds; counts the
  days on which more than max_drifted_columns columns drifted (a false cold
  start) and the largest number of columns flagged on any day;
- strong drift: for each seed, the first day (0 = the drift's first day) on which
  the drift orders a cold start; the target is within 3 days (day 0, 1 or 2);
- mild drift (two columns): for each seed and the first `--mild-days` days from
  its start, whether a cold start was ordered (it must not be) and which
  columns were flagged.

`--completeness` measures instead how missing values move the no-drift distance,
which is what DriftConfig.min_column_completeness rests on: on the same no-drift
days, a share of the rows of one window loses its values (all columns at once,
as when a station is down), for each kept share in LEVELS and three patterns:
scattered hours, one contiguous outage per station, and one outage of every
station at once. It counts single-column flags (distance at or above the
threshold) and days with more than max_drifted_columns flagged. It computes the
normed Wasserstein distance with scipy, as Evidently does on the non-missing
values (tests/test_drift.py holds Evidently to that), because Evidently would
take an hour for the 10,000 comparisons.

    python -m benchmarks.drift_calibration [--days 30] [--seeds 5] [--json out.json]
    python -m benchmarks.drift_calibration --completeness
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from core.config import DataConfig, DriftConfig
from core.dataset import DatasetProfile
from core.drift import Windows, measure_drift

COLUMNS = DatasetProfile().columns  # the synthetic dataset's: what the generator writes
LEVELS = (1.0, 0.9, 0.8, 0.75, 0.7, 0.65, 0.6, 0.55, 0.5, 0.4, 0.3)  # shares kept
PATTERNS = ("scattered", "station", "network")


def start_of(seed: int) -> dt.date:
    """Each seed starts in another season (Jan, Mar, May, ...): the seasonal trend of
    temperature differs, and a calibration on one month alone would flatter the check."""
    return dt.date(2026, 1 + (2 * seed) % 12, 1)


@dataclass
class Calibration:
    method: str
    threshold: float
    max_drifted_columns: int
    seeds: int
    no_drift_days: int
    false_cold_starts: int = 0
    max_columns_no_drift: int = 0
    days_with_any_flag: int = 0
    strong_detection_day: list[int | None] = field(default_factory=list)
    mild_cold_starts: int = 0
    mild_flagged: dict[str, int] = field(default_factory=dict)
    mild_days: int = 0
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


class _Days:
    """Generated days, cached: the windows of consecutive dates overlap."""

    def __init__(self, data: DataConfig) -> None:
        self.data, self.cache = data, {}

    def frame(self, days: list[dt.date]):
        import pandas as pd

        from core.generator import generate_day

        for d in days:
            if d not in self.cache:
                self.cache[d] = generate_day(self.data, d)
        return pd.concat([self.cache[d] for d in days], ignore_index=True)


def drifted(days: _Days, day: dt.date, cfg: DriftConfig) -> tuple[str, ...]:
    w = Windows.ending(day, cfg)
    return measure_drift(days.frame(w.reference_days()), days.frame(w.current_days()),
                         COLUMNS, cfg).drifted_columns


def calibrate(cfg: DriftConfig, days: int = 30, seeds: int = 5, strong_days: int = 5,
              mild_days: int = 10, log=print) -> Calibration:
    started = time.perf_counter()
    out = Calibration(cfg.method, cfg.threshold, cfg.max_drifted_columns, seeds, days,
                      mild_days=mild_days)
    for seed in range(seeds):
        start = start_of(seed)
        none = _Days(DataConfig(seed=seed))
        for i in range(days):
            n = len(drifted(none, start + dt.timedelta(days=i), cfg))
            out.false_cold_starts += n > cfg.max_drifted_columns
            out.max_columns_no_drift = max(out.max_columns_no_drift, n)
            out.days_with_any_flag += n > 0
        strong = _Days(DataConfig(seed=seed, drift="strong", drift_start=str(start)))
        found = None
        for i in range(strong_days):
            if len(drifted(strong, start + dt.timedelta(days=i), cfg)) > cfg.max_drifted_columns:
                found = i
                break
        out.strong_detection_day.append(found)
        mild = _Days(DataConfig(seed=seed, drift="mild", drift_start=str(start)))
        for i in range(mild_days):
            columns = drifted(mild, start + dt.timedelta(days=i), cfg)
            out.mild_cold_starts += len(columns) > cfg.max_drifted_columns
            for c in columns:
                out.mild_flagged[c] = out.mild_flagged.get(c, 0) + 1
        log(f"seed {seed}: done ({time.perf_counter() - started:.0f} s)")
    out.seconds = round(time.perf_counter() - started, 1)
    return out


def normed_wasserstein(reference, current) -> float:
    """Evidently 0.7's "wasserstein" score: the earth mover's distance divided by the
    reference's standard deviation (at least 0.001)."""
    import numpy as np
    from scipy.stats import wasserstein_distance

    return float(wasserstein_distance(reference, current) / max(float(np.std(reference)), 0.001))


def _kept(frame, share: float, pattern: str, rng):
    """A mask of the rows that keep their values: `share` of them, by `pattern`."""
    import numpy as np

    n = len(frame)
    keep = np.zeros(n, bool)
    if share >= 1:
        keep[:] = True
    elif pattern == "scattered":
        keep[rng.choice(n, round(share * n), replace=False)] = True
    else:
        stations = [np.sort(i) for i in frame.groupby("station_id").indices.values()]
        length = round(share * min(len(i) for i in stations))
        shared = rng.integers(0, min(len(i) for i in stations) - length + 1)
        for rows in stations:
            first = shared if pattern == "network" else rng.integers(0, len(rows) - length + 1)
            keep[rows[first:first + length]] = True
    return keep


def completeness_sweep(cfg: DriftConfig, days: int = 30, seeds: int = 5,
                       log=print) -> list[dict[str, Any]]:
    """No-drift distances with part of one window missing: one row per (pattern, window,
    share kept), with the largest distance, single-column flags and false cold starts."""
    import numpy as np

    if cfg.method != "wasserstein":
        raise SystemExit("--completeness measures the wasserstein method only")
    scores: dict[tuple[str, str, float], list[list[float]]] = {}
    for seed in range(seeds):
        start, source = start_of(seed), _Days(DataConfig(seed=seed))
        for i in range(days):
            w = Windows.ending(start + dt.timedelta(days=i), cfg)
            sort = ["station_id", "timestamp"]
            frames = {"reference": source.frame(w.reference_days()).sort_values(sort),
                      "current": source.frame(w.current_days()).sort_values(sort)}
            rng = np.random.default_rng([seed, i])
            for pattern in PATTERNS:
                for window in ("reference", "current"):
                    for share in LEVELS:
                        cut = dict(frames)
                        cut[window] = frames[window][_kept(frames[window], share, pattern, rng)]
                        scores.setdefault((pattern, window, share), []).append(
                            [normed_wasserstein(cut["reference"][c].to_numpy(),
                                                cut["current"][c].to_numpy()) for c in COLUMNS])
        log(f"seed {seed}: done")
    rows = []
    for (pattern, window, share), values in scores.items():
        flags = np.array(values) >= cfg.threshold
        rows.append({"pattern": pattern, "window": window, "kept": share,
                     "max": round(float(np.max(values)), 3), "flags": int(flags.sum()),
                     "column_days": flags.size,
                     "false_cold_starts": int((flags.sum(axis=1) > cfg.max_drifted_columns).sum())})
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--mild-days", type=int, default=10)
    parser.add_argument("--completeness", action="store_true",
                        help="measure how missing values move the no-drift distance instead")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args(argv)
    cfg = DriftConfig()
    if args.completeness:
        rows = completeness_sweep(cfg, args.days, args.seeds,
                                  log=lambda line: print(line, file=sys.stderr))
        print(f"no drift, {args.seeds} seeds x {args.days} days, part of one window missing; "
              f"flag = distance >= {cfg.threshold}")
        print(f"{'outage':10} {'window':9} {'kept':>5} {'max':>6} {'flags':>6} {'cold':>5}")
        for r in rows:
            print(f"{r['pattern']:10} {r['window']:9} {r['kept']:5.2f} {r['max']:6.3f} "
                  f"{r['flags']:6d} {r['false_cold_starts']:5d}")
        print(f"(flags out of {rows[0]['column_days']} column-days per line)")
        if args.json:
            with open(args.json, "w") as f:
                json.dump(rows, f, indent=2)
        return 0
    result = calibrate(cfg, args.days, args.seeds, mild_days=args.mild_days,
                       log=lambda line: print(line, file=sys.stderr))
    r = result
    print(f"drift check: {r.method}, threshold {r.threshold}, cold if > {r.max_drifted_columns} "
          "columns drift")
    print(f"no drift, {r.seeds} seeds x {r.no_drift_days} days: {r.false_cold_starts} false cold "
          f"starts; at most {r.max_columns_no_drift} column(s) flagged on a day; "
          f"{r.days_with_any_flag} day(s) with any flag")
    print(f"strong drift: cold start on day {r.strong_detection_day} after it began "
          "(0 = its first day)")
    print(f"mild drift, {r.seeds} seeds x {r.mild_days} days: {r.mild_cold_starts} cold starts; "
          f"columns flagged (days): {r.mild_flagged}")
    print(f"{r.seconds:.0f} s")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result.to_dict(), f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
