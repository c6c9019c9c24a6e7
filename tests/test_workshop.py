"""Every workshop scenario command, as the guide gives it, does what the guide says.

Each command exits 0 only when its runs show the guide's "Expected" (the
scenario's own check, orchbench/scenarios.py); the test also reads the lake and
the model store, which a scenario reporting success could not fake. They run in
one home in the guide's order, each on the next date, as a class would."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from core.config import save_config
from core.models import ModelStore, registered_model_name
from infra.envs import ENVS, ROOT
from orchbench.ui import ui_config

ORCHBENCH = str(ENVS["base"].path / "bin" / "orchbench")
GUIDE = ROOT / "docs" / "workshop" / "README.md"


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory, ui_history: Path) -> Path:
    """A UI home as `orchbench ui` makes it: the session's history (conftest.py) and
    config.json."""
    home = tmp_path_factory.mktemp("workshop") / "home"
    shutil.copytree(ui_history, home)
    save_config(ui_config(home), home / "config.json")
    return home


def scenario(name: str, orchestrator: str, home: Path) -> str:
    done = subprocess.run([ORCHBENCH, "scenario", name, "-o", orchestrator, "--home", str(home)],
                          cwd=ROOT, capture_output=True, text=True, check=False, timeout=900)
    assert done.returncode == 0, done.stderr
    assert "result:   as expected" in done.stderr
    return done.stderr


def current_model(home: Path) -> str | None:
    """The version the registry's alias names (the scenarios run the synthetic dataset)."""
    current = ModelStore(home / "mlflow", registered_model_name("synthetic")).current()
    return current.version if current else None


def test_every_scenario_in_the_guide_is_a_command() -> None:
    listed = subprocess.run([ORCHBENCH, "scenario", "--list"], capture_output=True, text=True,
                            check=True).stdout
    names = {line.split()[0] for line in listed.splitlines()}
    in_guide = set(re.findall(r"orchbench scenario ([a-z][a-z-]+)", GUIDE.read_text()))
    assert in_guide == names


@pytest.mark.slow
def test_flaky_container_is_retried(home: Path) -> None:
    out = scenario("flaky-container", "dagster", home)
    assert "train: 2 attempts" in out
    assert current_model(home) is not None


@pytest.mark.slow
def test_hang_is_cut_by_the_timeout_and_keeps_the_model(home: Path) -> None:
    before = current_model(home)
    out = scenario("hang", "dagster", home)
    assert "transform: 2 attempts" in out and "15 s" in out
    assert current_model(home) == before


@pytest.mark.slow
def test_bad_rows_are_quarantined_with_reasons(home: Path) -> None:
    import pandas as pd

    scenario("bad-rows", "direct", home)
    files = sorted((home / "lake" / "quarantine" / "measurements").glob("*.parquet"))
    quarantined = pd.read_parquet(files[-1])
    assert len(quarantined) > 0.1 * 24 * 4  # one row in five, four stations
    reasons = set(quarantined["reason"].str.split(":").str[0])
    assert reasons <= {"missing_value", "invalid_type", "out_of_range", "duplicate", "wrong_date"}
    assert len(reasons) >= 3


@pytest.mark.slow
def test_broken_file_fails_at_once_and_writes_nothing(home: Path) -> None:
    out = scenario("broken-file", "dagster", home)
    assert "ingest: 1 attempt" in out and "not a UTF-8" in out
    day = re.search(r"on (\d{4}-\d\d-\d\d)", out).group(1)
    assert not list((home / "lake" / "raw").rglob(f"{day}*"))


@pytest.mark.slow
def test_strong_drift_orders_a_cold_start(home: Path) -> None:
    out = scenario("drift-strong", "direct", home)
    assert "cold (drift)" in out
