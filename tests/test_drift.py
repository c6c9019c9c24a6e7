"""The drift check with real Evidently on generated data (no containers needed)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from core.config import DataConfig, DriftConfig
from core.drift import Windows, measure_drift
from core.generator import generate_day

DAY = dt.date(2026, 3, 20)
CFG = DriftConfig()


def windows_data(data: DataConfig) -> tuple[pd.DataFrame, pd.DataFrame]:
    w = Windows.ending(DAY, CFG)
    ref = pd.concat([generate_day(data, d) for d in w.reference_days()])
    cur = pd.concat([generate_day(data, d) for d in w.current_days()])
    return ref, cur


def test_windows_are_28_days_then_7() -> None:
    w = Windows.ending(DAY, CFG)
    assert len(w.reference_days()) == 28 and len(w.current_days()) == 7
    assert w.current_end == DAY and w.reference_end == w.current_start - dt.timedelta(days=1)


def test_no_drift_flags_nothing_and_saves_the_report(tmp_path: Path) -> None:
    html = tmp_path / "report.html"
    result = measure_drift(*windows_data(DataConfig(seed=3)), CFG, html=html)
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
    result = measure_drift(*windows_data(data), CFG)
    assert set(result.drifted_columns) == expected
    assert result.share == pytest.approx(len(expected) / 9)
