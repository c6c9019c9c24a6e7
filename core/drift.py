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

Only measured quantities are compared (core/schema.DRIFT_COLUMNS): lags repeat
them and the clock features are identical in every window.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.config import DriftConfig
from core.dates import date_range
from core.schema import DRIFT_COLUMNS

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
    share: float
    scores: dict[str, float]
    method: str
    threshold: float
    evidently_version: str
    seconds: float


def measure_drift(
    reference: pd.DataFrame, current: pd.DataFrame, cfg: DriftConfig, html: Path | None = None
) -> DriftResult:
    """Run Evidently's data-drift preset; optionally save its HTML report (atomically)."""
    started = time.perf_counter()
    import evidently
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    columns = list(DRIFT_COLUMNS)
    definition = DataDefinition(numerical_columns=columns)
    report = Report([DataDriftPreset(columns=columns, method=cfg.method, threshold=cfg.threshold)])
    # Evidently's run() takes the *current* data first.
    snapshot = report.run(
        Dataset.from_pandas(current[columns].reset_index(drop=True), data_definition=definition),
        Dataset.from_pandas(reference[columns].reset_index(drop=True), data_definition=definition),
    )
    scores, count = _read_snapshot(snapshot.dict())
    drifted = tuple(c for c in columns if _is_drift(scores[c], cfg))
    if count is not None and int(count) != len(drifted):
        raise RuntimeError(
            f"Evidently counted {count} drifted columns, the thresholds give {len(drifted)}: "
            "the reading of its result is out of date with this Evidently version"
        )
    if html is not None:
        from core.lake import atomic_path

        with atomic_path(html) as tmp:
            snapshot.save_html(str(tmp))
    return DriftResult(
        drifted_columns=drifted,
        share=len(drifted) / len(columns),
        scores={c: round(float(v), 6) for c, v in scores.items()},
        method=cfg.method,
        threshold=cfg.threshold,
        evidently_version=evidently.__version__,
        seconds=round(time.perf_counter() - started, 3),
    )


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

