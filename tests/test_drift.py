"""The drift check with real Evidently on generated data (no containers needed)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from benchmarks.drift_calibration import normed_wasserstein
from core.config import Config, DataConfig, DriftConfig
from core.dataset import DatasetProfile
from core.drift import Windows, measure_drift
from core.errors import ConfigError
from core.generator import generate_day

DAY = dt.date(2026, 3, 20)
CFG = DriftConfig()
COLUMNS = DatasetProfile().columns  # the synthetic dataset's nine measured columns
STRONG = DataConfig(seed=3, drift="strong", drift_start=str(DAY - dt.timedelta(days=6)))


def windows_data(data: DataConfig) -> tuple[pd.DataFrame, pd.DataFrame]:
    w = Windows.ending(DAY, CFG)
    ref = pd.concat([generate_day(data, d) for d in w.reference_days()], ignore_index=True)
    cur = pd.concat([generate_day(data, d) for d in w.current_days()], ignore_index=True)
    return ref, cur


def blank(frame: pd.DataFrame, column: str, share: float, seed: int = 0) -> pd.DataFrame:
    """A copy with exactly round(share × rows) values of `column` set to NaN."""
    out = frame.copy()
    rows = np.random.default_rng(seed).choice(len(out), round(share * len(out)), replace=False)
    out.loc[rows, column] = np.nan
    return out


def kept(frame: pd.DataFrame, column: str) -> float:
    """The completeness the result must give: rows with a value / the window's rows,
    counted here independently, to 4 places."""
    return round(int(np.isfinite(frame[column].astype(float)).sum()) / len(frame), 4)


def test_windows_are_28_days_then_7() -> None:
    w = Windows.ending(DAY, CFG)
    assert len(w.reference_days()) == 28 and len(w.current_days()) == 7
    assert w.current_end == DAY and w.reference_end == w.current_start - dt.timedelta(days=1)


def test_no_drift_flags_nothing_and_saves_the_report(tmp_path: Path) -> None:
    html = tmp_path / "report.html"
    result = measure_drift(*windows_data(DataConfig(seed=3)), COLUMNS, CFG, html=html)
    assert result.drifted_columns == ()
    assert result.evidently_version.startswith("0.7")
    text = html.read_text()
    assert text.lstrip().lower().startswith("<!doctype html>")
    assert "pm25" in text and "humidity" in text


@pytest.mark.parametrize(
    ("level", "expected"),
    [("strong", {"pm25", "pm10", "temperature", "humidity"}), ("mild", {"no2", "o3"})],
)
def test_drift_is_found_in_the_shifted_columns(level: str, expected: set[str]) -> None:
    data = DataConfig(seed=3, drift=level, drift_start=str(DAY - dt.timedelta(days=6)))
    result = measure_drift(*windows_data(data), COLUMNS, CFG)
    assert set(result.drifted_columns) == expected
    assert result.share == pytest.approx(len(expected) / 9)
    assert result.insufficient == ()
    assert result.completeness == {w: dict.fromkeys(COLUMNS, 1.0) for w in ("reference", "current")}


def test_only_the_given_columns_are_compared() -> None:
    result = measure_drift(*windows_data(STRONG), ("pm25", "no2"), CFG)
    assert set(result.scores) == {"pm25", "no2"} and result.drifted_columns == ("pm25",)
    assert result.share == 0.5 and set(result.completeness["current"]) == {"pm25", "no2"}


# -- missing values ---------------------------------------------------------------
def test_a_column_with_too_few_values_is_insufficient_data_and_never_drifted() -> None:
    ref, cur = windows_data(STRONG)
    ref, cur = blank(ref, "humidity", 0.8, seed=1), blank(cur, "humidity", 0.8, seed=2)
    # What is left of humidity still drifts: only the completeness rule keeps it out.
    left = normed_wasserstein(ref["humidity"].dropna(), cur["humidity"].dropna())
    assert left >= CFG.threshold
    result = measure_drift(ref, cur, COLUMNS, CFG)
    assert result.insufficient == ("humidity",)
    assert set(result.drifted_columns) == {"pm25", "pm10", "temperature"}
    assert "humidity" not in result.scores and "humidity" not in result.compared
    assert result.share == pytest.approx(3 / 8)
    assert result.completeness["reference"]["humidity"] == kept(ref, "humidity")
    assert result.completeness["current"]["humidity"] == kept(cur, "humidity")
    assert kept(cur, "humidity") == pytest.approx(0.2, abs=1e-3)
    assert result.completeness["current"]["pm25"] == 1.0


def test_too_few_values_in_one_window_is_enough_to_leave_a_column_out() -> None:
    ref, cur = windows_data(STRONG)
    cur = blank(cur, "pm25", 0.625)  # 3 of 8 rows keep a value: 0.375
    result = measure_drift(ref, cur, COLUMNS, CFG)
    assert result.insufficient == ("pm25",)
    assert result.completeness["reference"]["pm25"] == 1.0
    assert result.completeness["current"]["pm25"] == 0.375 == kept(cur, "pm25")
    assert set(result.drifted_columns) == {"pm10", "temperature", "humidity"}


def test_a_column_with_every_value_missing(tmp_path: Path) -> None:
    ref, cur = windows_data(STRONG)
    cur["precipitation"] = np.nan  # Evidently itself would raise on an empty column
    ref["pm25"] = pd.Series([None] * len(ref), dtype="Float64")  # pd.NA, as nullable
    result = measure_drift(ref, cur, COLUMNS, CFG, html=tmp_path / "r.html")
    assert result.insufficient == ("pm25", "precipitation")
    assert result.completeness["current"]["precipitation"] == 0.0
    assert result.completeness["reference"]["precipitation"] == 1.0
    assert result.completeness["reference"]["pm25"] == 0.0
    assert set(result.drifted_columns) == {"pm10", "temperature", "humidity"}
    assert (tmp_path / "r.html").is_file()


def test_values_are_compared_without_the_missing_ones() -> None:
    """Above the threshold a column is compared on its non-missing values only: the
    score is the normed Wasserstein distance of those, as if the NaN were never there."""
    ref, cur = windows_data(DataConfig(seed=3))
    ref = blank(ref, "temperature", 0.3, seed=1)
    cur = blank(cur, "temperature", 0.45, seed=2)
    cur.loc[:5, "pressure"] = np.inf  # not a measurement either: counted as missing
    result = measure_drift(ref, cur, COLUMNS, CFG)
    assert result.insufficient == ()
    for window, frame in (("reference", ref), ("current", cur)):
        assert result.completeness[window] == {c: kept(frame, c) for c in COLUMNS}
    assert result.completeness["current"]["pressure"] == round(1 - 6 / len(cur), 4)
    assert result.completeness["current"]["temperature"] == pytest.approx(0.55, abs=1e-3)
    expected = normed_wasserstein(ref["temperature"].dropna(), cur["temperature"].dropna())
    assert result.scores["temperature"] == pytest.approx(expected, abs=1e-6)
    finite = cur["pressure"][np.isfinite(cur["pressure"])]
    assert result.scores["pressure"] == pytest.approx(
        normed_wasserstein(ref["pressure"], finite), abs=1e-6)


def test_a_share_equal_to_the_threshold_is_enough() -> None:
    ref, cur = windows_data(DataConfig(seed=3))
    result = measure_drift(ref, blank(cur, "o3", 0.5), COLUMNS, CFG)
    assert result.completeness["current"]["o3"] == 0.5 and result.insufficient == ()
    strict = DriftConfig(min_column_completeness=0.51)
    assert measure_drift(ref, blank(cur, "o3", 0.5), COLUMNS, strict).insufficient == ("o3",)


def test_no_column_with_enough_data_runs_no_evidently_and_writes_no_report(
        tmp_path: Path) -> None:
    ref, cur = windows_data(STRONG)
    for c in COLUMNS:
        cur = blank(cur, c, 0.9)
    html = tmp_path / "report.html"
    result = measure_drift(ref, cur, COLUMNS, CFG, html=html)
    assert result.insufficient == COLUMNS and result.compared == ()
    assert result.drifted_columns == () and result.scores == {} and result.share is None
    assert result.evidently_version is None
    assert result.completeness["current"] == {c: kept(cur, c) for c in COLUMNS}
    assert all(v == pytest.approx(0.1, abs=1e-3) for v in result.completeness["current"].values())
    assert not html.exists()


def test_a_column_absent_from_the_windows_is_an_error() -> None:
    ref, cur = windows_data(DataConfig(seed=3))
    with pytest.raises(ValueError, match="dew_point"):
        measure_drift(ref, cur, ("pm25", "dew_point"), CFG)


@pytest.mark.parametrize("share", [-0.1, 1.5])
def test_min_column_completeness_is_a_share(share: float) -> None:
    with pytest.raises(ConfigError, match="min_column_completeness"):
        Config().replace(**{"drift.min_column_completeness": share})


def test_check_drift_records_completeness_and_insufficient_columns(tmp_path: Path) -> None:
    """The decision record, from a lake of refined files (no containers needed)."""
    from core.lake import write_parquet
    from core.steps import RunContext, check_drift

    cfg = Config(home=tmp_path, drift=DriftConfig(current_days=3, reference_days=7,
                                                  min_reference_days=7)).validate()
    day = dt.date(2026, 3, 20)
    w = Windows.ending(day, cfg.drift)
    for d in w.reference_days() + w.current_days():
        frame = generate_day(DataConfig(seed=3), d)
        if d >= w.current_start:
            frame = blank(frame, "wind_speed", 0.75)
        write_parquet(frame, cfg.lake / "refined" / "features" / f"{d}.parquet")
    record = check_drift(RunContext(cfg, day, log=lambda _: None))
    assert record["insufficient_data_columns"] == ["wind_speed"]
    assert record["completeness"]["current"]["wind_speed"] == 0.25
    assert record["completeness"]["reference"]["wind_speed"] == 1.0
    assert "wind_speed" not in record["scores"]
    assert record["thresholds"]["min_column_completeness"] == 0.5
    assert record["thresholds"]["policy"] == "drift"
    assert Path(record["report"]).is_file()

    # Nothing comparable: no Evidently, no report, and an earlier report is gone.
    for d in w.current_days():
        frame = generate_day(DataConfig(seed=3), d)
        frame[list(COLUMNS)] = np.nan
        write_parquet(frame, cfg.lake / "refined" / "features" / f"{d}.parquet")
    again = check_drift(RunContext(cfg, day, log=lambda _: None))
    assert again["insufficient_data_columns"] == list(COLUMNS)
    assert again["drifted_columns"] == [] and again["scores"] == {}
    assert again["drift_share"] is None and again["evidently_version"] is None
    assert again["report"] is None and not Path(record["report"]).exists()
    assert again["decision_id"] != record["decision_id"]
