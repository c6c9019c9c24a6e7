"""benchmarks/backfill.py's bookkeeping on a fake stack: figures, identity with direct,
and what a failed date leaves for the runs after it. The real mechanisms run in
test_bench.py (each orchestrator's, on SQLite) and test_production.py (on PostgreSQL)."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

import pytest

from benchmarks import backfill
from benchmarks.plan import QUICK, Bench
from benchmarks.results import ResultSet
from infra.stacks.base import RunStatus, StackSettings

DAYS = ["2026-01-12", "2026-01-13", "2026-01-14"]


class FakeStack:
    """A stack whose backfill returns given statuses (a run each 10 s, 2 s apart)."""

    name = "prefect"

    def __init__(self, succeed: int, now: float) -> None:
        self.succeed, self.now = succeed, now

    def backfill(self, running: Any, days: list[str], timeout_s: float) -> list[RunStatus]:
        statuses = []
        for i, _ in enumerate(days):
            ok = i < self.succeed
            start = self.now + 2 + 12 * i
            statuses.append(RunStatus(f"r{i}", "COMPLETED" if ok else "FAILED", True, ok,
                                      start, start + 10, {"train": "COMPLETED"}))
            if not ok:
                break
        return statuses

    def backfill_mechanism(self, s: StackSettings) -> str:
        return "a fake's"


def _bench(tmp_path: Path, direct: dict[str, dict[str, Any]]) -> Bench:
    rs = ResultSet("quick", "test", "", {}, {})
    bench = Bench(dataclasses.replace(QUICK, backfill_days=len(DAYS)), rs, tmp_path)
    bench.cache["backfill_direct"] = direct  # the baseline, as direct_baseline caches it
    return bench


def _outcome(model: str) -> dict[str, Any]:
    return {"strategy": "warm", "reason": "r", "drifted_columns": [], "decision_id": "d",
            "model": model}


@pytest.fixture
def settings(tmp_path: Path) -> StackSettings:
    return StackSettings(home=tmp_path, config=tmp_path / "config.json", port=1)


def test_a_backfill_equal_to_direct(tmp_path: Path, settings: StackSettings,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    direct = {day: _outcome(f"v{i}") for i, day in enumerate(DAYS)}
    monkeypatch.setattr(backfill, "outcomes", lambda cfg, ran: {d: direct[d] for d in ran})
    monkeypatch.setattr(backfill, "home_config", lambda home: None)
    bench = _bench(tmp_path, direct)
    used = backfill.through_stack(bench, FakeStack(3, time.time()), None, settings, {})
    assert used == 3 and bench.results.notes == []
    got = {f.metric: f for f in bench.results.figures}
    assert got["identical_dates"].samples == [3.0]
    assert got["run_s"].samples == [10.0, 10.0, 10.0]
    # wall: submission to the last end (about 36 s); the mechanism's own: wall − 30 s
    assert got["wall_s"].samples[0] == pytest.approx(36, abs=1)
    assert got["overhead_s"].samples[0] == pytest.approx(6, abs=1)
    assert got["wall_s"].knobs["mechanism"] == "a fake's"


def test_a_failed_date_and_a_different_one_are_notes(tmp_path: Path, settings: StackSettings,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """The second date fails: one date counts, the served runs retake the failed one; the
    first differs from direct's (another model version), which a note shows."""
    direct = {day: _outcome(f"v{i}") for i, day in enumerate(DAYS)}
    monkeypatch.setattr(backfill, "outcomes", lambda cfg, ran: {d: _outcome("other")
                                                                for d in ran})
    monkeypatch.setattr(backfill, "home_config", lambda home: None)
    bench = _bench(tmp_path, direct)
    used = backfill.through_stack(bench, FakeStack(1, time.time()), None, settings, {})
    assert used == 1
    failed, differ = bench.results.notes
    assert "1 of 3 date(s) succeeded" in failed and "2026-01-13 ended FAILED" in failed
    assert "1 date(s) differ" in differ and "'other'" in differ
    got = {f.metric: f for f in bench.results.figures}
    assert got["identical_dates"].samples == [0.0] and len(got["run_s"].samples) == 1
