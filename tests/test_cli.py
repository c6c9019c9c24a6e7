"""The command line: user mistakes give one clear paragraph, a non-zero exit, no traceback,
and leave the lake and the model store as they were."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest

import core.steps
from core.lake import Lake
from core.schema import COLUMNS
from orchbench.cli import main

ROOT = Path(__file__).resolve().parent.parent
GOOD_ROW = "ST01,2026-03-01T00:00:00,10,20,30,40,5,80,2,1010,0"


def orchbench(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "orchbench.cli", *args], cwd=ROOT,
                          capture_output=True, text=True, env={**os.environ, **(env or {})},
                          timeout=300)


def assert_clean_error(done: subprocess.CompletedProcess, *needles: str) -> None:
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    for needle in needles:
        assert needle in done.stderr, done.stderr


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (["run", "-o", "luigi", "--date", "2026-03-01"],
         ["Unknown orchestrator 'luigi'", "direct, prefect, airflow, dagster"]),
        (["run", "--date", "2026-13-01"], ["'2026-13-01' is not a date", "YYYY-MM-DD"]),
        (["run", "--start", "2026-03-05", "--end", "2026-03-01"], ["ends before it starts"]),
        (["run"], ["No logical date given"]),
        (["ui", "prefect", "--backend", "celery"],
         ["prefect has no 'celery' layout (only sqlite, postgres)", "--backend postgres"]),
    ],
)
def test_argument_mistakes(args: list[str], needles: list[str], tmp_path: Path) -> None:
    assert_clean_error(orchbench(*args, "--home", str(tmp_path)), *needles)


def test_bad_config_value_names_key_and_fix(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("[drift]\nmax_drifted_columns = -1\n")
    done = orchbench("run", "--date", "2026-03-01", "--config", str(config))
    assert_clean_error(done, "drift.max_drifted_columns = -1", "fix:")


def csv_home(tmp_path: Path, header: str) -> tuple[Path, Path]:
    folder = tmp_path / "csv"
    folder.mkdir()
    (folder / "2026-03-01.csv").write_text(f"{header}\n{GOOD_ROW}\n")
    config = tmp_path / "csv.toml"
    config.write_text(f'[data]\nsource = "csv"\ncsv_dir = "{folder}"\n')
    return folder, config


def test_csv_missing_columns_fails_before_writing(tmp_path: Path) -> None:
    _, config = csv_home(tmp_path, ",".join(c for c in COLUMNS if c != "no2"))
    done = orchbench("run", "--date", "2026-03-01", "--config", str(config),
                     "--home", str(tmp_path / "home"))
    assert_clean_error(done, "lacks the required column(s) no2", "The header must name")
    assert done.returncode == 1
    raw = Lake(tmp_path / "home" / "lake").table_file("raw", dt.date(2026, 3, 1))
    assert not raw.exists()


def test_stopped_docker_daemon_is_named(tmp_path: Path) -> None:
    _, config = csv_home(tmp_path, ",".join(COLUMNS))
    done = orchbench("run", "--date", "2026-03-01", "--config", str(config),
                     "--home", str(tmp_path / "home"),
                     env={"DOCKER_HOST": f"unix://{tmp_path}/no-docker.sock"})
    assert_clean_error(done, "failed at transform", "Docker")
    assert "transform attempt 2" not in done.stderr  # a user problem is not retried
    assert not (tmp_path / "home" / "mlflow").exists()


@pytest.mark.slow
def test_missing_image_says_how_to_build_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _, config = csv_home(tmp_path, ",".join(COLUMNS))
    monkeypatch.setattr(core.steps, "image_tag", lambda name: f"orchbench/{name}:not-built")
    code = main(["run", "--date", "2026-03-01", "--config", str(config),
                 "--home", str(tmp_path / "home")])
    err = capsys.readouterr().err
    assert code == 1 and "orchbench images build" in err and "Traceback" not in err


@pytest.mark.slow
def test_doctor_reports_docker_images_and_four_environments() -> None:
    done = orchbench("doctor")
    assert done.returncode == 0, done.stdout + done.stderr
    for needle in ("docker engine", "image transform", "image train", "env base",
                   "prefect 3.", "apache-airflow 3.", "dagster 1."):
        assert needle in done.stdout


@pytest.mark.slow
def test_images_build_is_a_no_op_when_nothing_changed() -> None:
    done = orchbench("images", "build")
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("up to date") == 2


def test_test_command_passes_pytest_options_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    import orchbench.cli as cli

    seen = {}
    monkeypatch.setattr(cli, "cmd_test", lambda args: seen.setdefault("a", args.pytest_args) and 0)
    assert cli.main(["test", "-q", "-k", "drift and not slow"]) == 0
    assert seen["a"] == ["-q", "-k", "drift and not slow"]


@pytest.mark.slow
def test_run_backfill_prints_the_uniform_result_for_each_date(tmp_path: Path) -> None:
    """`orchbench run --start --end` on an empty lake, real containers: the first two
    dates cannot train (no earlier rows: the first day has no lags) and say so; the
    third trains cold. JSON on stdout for every date, a non-zero exit, no traceback."""
    import json

    done = orchbench("run", "--start", "2026-03-01", "--end", "2026-03-03",
                     "--home", str(tmp_path))
    assert_clean_error(done, "failed at train: No refined data to train on before 2026-03-01",
                       "failed at train: No refined data to train on before 2026-03-02")
    assert done.returncode == 1
    # ... and how to fix it: load the history first, without training (issue 10, item 8)
    assert "orchbench history --start 2026-01-25 --end 2026-02-28" in done.stderr
    results = json.loads(done.stdout)
    assert [(r["logical_date"], r["status"]) for r in results] == [
        ("2026-03-01", "failed"), ("2026-03-02", "failed"), ("2026-03-03", "success")]
    for r in results:
        assert r["orchestrator"] == "direct"
        assert [s["name"] for s in r["steps"]] == ["ingest", "transform", "check_drift",
                                                   "train", "evaluate"]
    failed_train = results[0]["steps"][3]
    assert failed_train["status"] == "failed" and failed_train["attempts"] == 1  # not retried
    ok = results[2]
    assert all(s["attempts"] == 1 and s["started"] <= s["ended"] for s in ok["steps"])
    assert ok["decision"]["reason"] == "no_previous_model"
    assert ok["metrics"]["rows"] > 0 and ok["metrics"]["previous_version"] is None
    assert "2026-03-03  success  cold (no_previous_model)" in done.stderr


def test_data_list_shows_each_profile_and_its_files(tmp_path: Path) -> None:
    done = orchbench("data", "list", env={"ORCHBENCH_CACHE": str(tmp_path)})
    assert done.returncode == 0, done.stderr
    lines = {line.split()[0]: line for line in done.stdout.splitlines()[2:]}
    assert "absent: orchbench data get beijing" in lines["beijing"]
    assert "generated" in lines["synthetic"]


def test_history_needs_a_range_and_the_dataset_files(tmp_path: Path) -> None:
    assert_clean_error(orchbench("history", "--start", "2026-03-01", "--home", str(tmp_path)),
                       "--start and --end")
    config = tmp_path / "beijing.toml"
    config.write_text('[dataset]\nprofile = "beijing"\n')
    done = orchbench("history", "--start", "2013-10-11", "--end", "2013-10-12", "--config",
                     str(config), "--home", str(tmp_path / "home"),
                     env={"ORCHBENCH_CACHE": str(tmp_path / "cache")})
    assert_clean_error(done, "No file of dataset 'beijing'", "orchbench data get beijing")
    assert not Lake(tmp_path / "home" / "lake").dates("raw")


@pytest.mark.slow
def test_history_ingests_and_transforms_without_training(tmp_path: Path) -> None:
    """Real transform container: three dates land in refined/, no model is trained."""
    done = orchbench("history", "--start", "2026-03-01", "--end", "2026-03-03",
                     "--home", str(tmp_path))
    assert done.returncode == 0, done.stderr
    per_date = [line for line in done.stdout.splitlines() if line.startswith("ingest ")]
    assert [line.split()[1] for line in per_date] == ["2026-03-01:", "2026-03-02:", "2026-03-03:"]
    assert "total 2026-03-01..2026-03-03 (3 dates): " in done.stdout
    assert "no model trained" in done.stdout
    assert "orchbench run --date 2026-03-04" in done.stderr
    lake = Lake(tmp_path / "lake")
    assert lake.dates("refined") == [dt.date(2026, 3, d) for d in (1, 2, 3)]
    assert lake.rows("refined", dt.date(2026, 3, 3)) > 0
    assert not (tmp_path / "mlflow").exists()
