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

    python -m benchmarks.drift_calibration [--days 30] [--seeds 5] [--json out.json]
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
from core.drift import Windows, measure_drift


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
                         cfg).drifted_columns


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--mild-days", type=int, default=10)
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args(argv)
    cfg = DriftConfig()
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
