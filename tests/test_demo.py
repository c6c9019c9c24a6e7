"""README's first command: the demo prints warm days, a forced weekly cold start and
the cold start the drift causes (real containers, the whole pipeline)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_demo_table_shows_every_kind_of_start(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "orchbench.cli", "demo", "--home",
                           str(tmp_path / "demo")], cwd=ROOT, capture_output=True, text=True,
                          timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    rows = [line.split() for line in done.stdout.splitlines() if line.startswith("2026-")]
    assert len(rows) == 21
    reasons = [row[3] if row[1] == "yes" else row[2] for row in rows]  # drift column may be empty
    assert "no_significant_drift" in reasons
    assert "forced_periodic" in reasons
    assert "drift" in reasons
    assert reasons[0] == "no_previous_model"
    first_drift_day = next(i for i, row in enumerate(rows) if row[1] == "yes")
    assert "drift" in reasons[first_drift_day:first_drift_day + 3]
