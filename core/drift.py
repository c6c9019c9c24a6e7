"""Data drift with Evidently: the last 7 days of features against the 28 before.

Calibration (benchmarks/drift_calibration.py measures it; DriftConfig holds
the numbers). Evidently picks its test by sample size unless told: p-value tests
(KS, chi²) up to 1,000 reference rows, distances above. With hourly data the
p-value tests flag columns on data with no drift at all, for two reasons: rows
an hour apart are correlated, so the test believes it has far more independent
evidence than it has, and any test gets more sensitive as samples grow, so the
verdict would change with the number of stations. Here every column is compared
with the normed Wasserstein distance (the earth mover's distance divided by the
reference's standard deviation): it measures how far the distribution moved in
units of its own spread, whatever the sample size. Its threshold (0.65) sits
above the largest distance seen on 150 no-drift days spread over the seasons
(0.62, humidity in early summer, where the seasonal trend and the 100 % ceiling
move a week's distribution most; temperature 0.55, pressure 0.50) and below what
a two-spread shift of a column gives once its third day is in the current window.

Only the dataset's measured columns are compared (its profile's `columns`, which
check_drift passes in): lags repeat them and the clock features are identical in
every window.

Missing values. A measurement may be missing (NULL in the lake, NaN here). Each
column's completeness is its share of rows with a value, in each window. Where
a column has a value in fewer than DriftConfig.min_column_completeness of the
rows of either window, its distance would compare which hours happened to be
measured rather than the distribution, so the column is reported as
"insufficient data": it is not given to Evidently and never counts as drifted.
The other columns are compared on their values only (Evidently 0.7 drops NaN
and ±inf per column before its test; the score equals the normed Wasserstein
distance of the non-missing values, tests/test_drift.py holds it to that). If no
column has enough values, Evidently is not run and there is no report.

The completeness threshold (0.5) is measured too (`drift_calibration
--completeness`): the same 150 no-drift days, with a share of one window's rows
blanked in every column, in three patterns. Scattered missing hours barely
matter at any share (at most one flag per case): a random part of a week has the
week's distribution. Outages do: a contiguous block (one per station, or every
station at once) leaves the window covering other days than the one it is
compared with. Single-column false flags, out of 1,350 column-days per case,
stay at 0-3 from 90 % down to 55 % of rows kept (largest distance 0.71), reach 6
at 50 % (every station out for half the reference window; 0.72) and 9-12 at
30-40 % (0.84). No case gives a false cold start (three columns at once). So 0.5
is the lowest share at which the check still behaves about as calibrated; it is
not set higher because one falsely flagged column does not change a decision,
whereas a column left out is one whose drift goes unseen.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.config import DriftConfig
from core.dates import date_range

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class Windows:
    reference_start: dt.date
    reference_end: dt.date
    current_start: dt.date
    current_end: dt.date

    @classmethod
    def ending(cls, day: dt.date, cfg: DriftConfig) -> Windows:
        current_start = day - dt.timedelta(days=cfg.current_days - 1)
        reference_end = current_start - dt.timedelta(days=1)
        reference_start = reference_end - dt.timedelta(days=cfg.reference_days - 1)
        return cls(reference_start, reference_end, current_start, day)

    def reference_days(self) -> list[dt.date]:
        return date_range(self.reference_start, self.reference_end)

    def current_days(self) -> list[dt.date]:
        return date_range(self.current_start, self.current_end)

    def to_dict(self) -> dict[str, str]:
        return {
            "reference": f"{self.reference_start}..{self.reference_end}",
            "current": f"{self.current_start}..{self.current_end}",
        }


@dataclass(frozen=True)
class DriftResult:
    drifted_columns: tuple[str, ...]
    share: float | None  # drifted / compared columns; None if none was compared
    scores: dict[str, float]  # the compared columns only
    method: str
    threshold: float
    evidently_version: str | None  # None: no column had enough data, Evidently did not run
    seconds: float
    # Columns left out for missing values: too few in the reference or current window.
    insufficient: tuple[str, ...] = ()
    # {"reference": {column: share of rows with a value}, "current": {...}}, 4 places.
    completeness: dict[str, dict[str, float]] = field(default_factory=dict)

    @property
    def compared(self) -> tuple[str, ...]:
        """The columns Evidently compared, in the order they were asked for."""
        return tuple(c for c in self.completeness.get("reference", {})
                     if c not in self.insufficient)


def measure_drift(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    columns: Sequence[str],
    cfg: DriftConfig,
    html: Path | None = None,
) -> DriftResult:
    """Compare `columns` of the two windows with Evidently's data-drift preset.

    Columns with too few values in either window are left out (`insufficient`);
    the others are compared on their non-missing values. The HTML report is saved
    (atomically) to `html` when given and Evidently ran."""
    started = time.perf_counter()
    import evidently

    columns = list(dict.fromkeys(columns))
    absent = [c for c in columns if c not in reference.columns or c not in current.columns]
    if absent:
        raise ValueError(f"The drift windows lack the column(s) {', '.join(absent)}: "
                         "every measured column of the dataset must be there, even if empty")
    ref, cur = _values(reference, columns), _values(current, columns)
    counts = {"reference": ref.notna().sum(), "current": cur.notna().sum()}
    rows = {"reference": len(ref), "current": len(cur)}
    completeness = {w: {c: round(_share(int(counts[w][c]), rows[w]), 4) for c in columns}
                    for w in ("reference", "current")}
    insufficient = tuple(
        c for c in columns
        if any(counts[w][c] == 0 or _share(int(counts[w][c]), rows[w]) < cfg.min_column_completeness
               for w in ("reference", "current")))
    compared = [c for c in columns if c not in insufficient]
    scores: dict[str, float] = {}
    drifted: tuple[str, ...] = ()
    if compared:
        scores, snapshot = _evidently(ref[compared], cur[compared], cfg)
        drifted = tuple(c for c in compared if _is_drift(scores[c], cfg))
        if html is not None:
            from core.lake import atomic_path

            with atomic_path(html) as tmp:
                snapshot.save_html(str(tmp))
    return DriftResult(
        drifted_columns=drifted,
        share=len(drifted) / len(compared) if compared else None,
        scores={c: round(float(v), 6) for c, v in scores.items()},
        method=cfg.method,
        threshold=cfg.threshold,
        evidently_version=evidently.__version__ if compared else None,
        seconds=round(time.perf_counter() - started, 3),
        insufficient=insufficient,
        completeness=completeness,
    )


def _values(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """The columns as float64 with every missing value (NULL, pd.NA, None, ±inf) as NaN,
    so that the completeness counted here is what Evidently will see."""
    import numpy as np

    out = frame[columns].astype("float64").reset_index(drop=True)
    return out.replace([np.inf, -np.inf], np.nan)


def _share(count: int, rows: int) -> float:
    return count / rows if rows else 0.0


def _evidently(
    reference: pd.DataFrame, current: pd.DataFrame, cfg: DriftConfig
) -> tuple[dict[str, float], Any]:
    """Scores per column and the snapshot (for its HTML). NaN may remain in the frames:
    Evidently drops it per column, so each column is tested on its own values only."""
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    columns = list(reference.columns)
    definition = DataDefinition(numerical_columns=columns)
    report = Report([DataDriftPreset(columns=columns, method=cfg.method, threshold=cfg.threshold)])
    # Evidently's run() takes the *current* data first.
    snapshot = report.run(
        Dataset.from_pandas(current, data_definition=definition),
        Dataset.from_pandas(reference, data_definition=definition),
    )
    scores, count = _read_snapshot(snapshot.dict())
    if set(scores) != set(columns):
        raise RuntimeError(
            f"Evidently scored {sorted(scores)}, it was given {columns}: the reading of its "
            "result is out of date with this Evidently version")
    drifted = sum(_is_drift(scores[c], cfg) for c in columns)
    if count is not None and int(count) != drifted:
        raise RuntimeError(
            f"Evidently counted {count} drifted columns, the thresholds give {drifted}: "
            "the reading of its result is out of date with this Evidently version"
        )
    return scores, snapshot


def _read_snapshot(data: dict[str, Any]) -> tuple[dict[str, float], float | None]:
    scores: dict[str, float] = {}
    count = None
    for metric in data["metrics"]:
        kind = metric["config"].get("type", "")
        if kind.endswith(":ValueDrift"):
            scores[metric["config"]["column"]] = float(metric["value"])
        elif kind.endswith(":DriftedColumnsCount"):
            count = metric["value"]["count"]
    return scores, count


def _is_drift(score: float, cfg: DriftConfig) -> bool:
    """Distances drift at or above the threshold; p-value tests below it."""
    if cfg.method in ("ks",):
        return score < cfg.threshold
    return score >= cfg.threshold

