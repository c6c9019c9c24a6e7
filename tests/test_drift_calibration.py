"""The calibration figures the drift check is held to (issue: false cold starts and
detection delay), measured with real Evidently over 30 days and 5 seeds."""

from __future__ import annotations

import pytest

from benchmarks.drift_calibration import calibrate
from core.config import DriftConfig

pytestmark = pytest.mark.slow  # real Evidently over 30 days and 5 seeds (minutes)


def test_calibration_targets() -> None:
    r = calibrate(DriftConfig(), days=30, seeds=5, mild_days=10, log=lambda _: None)
    assert r.false_cold_starts == 0, "no drift must never order a cold start"
    assert all(day is not None and day <= 2 for day in r.strong_detection_day), (
        f"strong drift must order a cold start within 3 days: {r.strong_detection_day}")
    assert r.mild_cold_starts == 0, "mild drift (two columns) must keep warm starts"
    assert r.mild_flagged.get("no2", 0) > 0 and r.mild_flagged.get("o3", 0) > 0
