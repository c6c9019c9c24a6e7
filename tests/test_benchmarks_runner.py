"""The runner-overhead benchmark runs end to end and reports what it promises.

Only the shape is checked: timings on a shared machine are for the report, not for
a test.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import docker
import pytest

from core.runner import LABEL_RUN_ID

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


def test_runner_overhead_reports_medians_ratios_and_environment(
    base_image: str, tmp_path: Path, docker_client: docker.DockerClient
) -> None:
    out = tmp_path / "report.json"
    args = ["--reps", "2", "--warmup", "0", "--image", base_image, "--json", str(out)]
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.runner_overhead", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "runner/cli" in proc.stdout and "paired ratio" in proc.stdout
    assert "median ms" in proc.stdout

    report = json.loads(out.read_text())
    assert set(report["variants"]) == {"cli", "runner", "runner_new_client"}
    for variant in report["variants"].values():
        assert len(variant["samples_ms"]) == 2
        assert variant["min_ms"] <= variant["q1_ms"] <= variant["median_ms"] <= variant["q3_ms"]
    for name in ("runner/cli", "runner_new_client/cli"):
        ratio = report["ratios"][name]
        lo, hi = ratio["ci95"]
        assert lo <= ratio["ratio_of_medians"] <= hi
        lo, hi = ratio["paired_ci95"]
        assert lo <= ratio["paired_median"] <= hi
    env = report["environment"]
    for key in ("docker_server", "cores", "python", "date"):
        assert env[key]
    assert isinstance(report["within_target"], bool)
    left = docker_client.containers.list(all=True, filters={"label": LABEL_RUN_ID})
    assert [c.name for c in left if c.labels[LABEL_RUN_ID].startswith("bench-")] == []
