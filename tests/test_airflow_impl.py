"""The Airflow wrapper on real Airflow 3.3, real Docker, real dbt, Evidently and training.

Airflow runs only in its own environment (.venvs/airflow): these tests drive it
through infra.drivers.run_wrapped and through the airflow CLI and
interpreter of that environment, never by importing it here. One small history
is built per module and shared; each scenario runs its own logical date.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from history import BEIJING_LAST_HISTORY as LAST_HISTORY
from history import assert_tracked, beijing_config

from airflow_impl.settings import DAG_FILE, airflow_environment
from core.config import Config, Fault, StepPolicy
from core.models import ModelStore
from infra.drivers import run_wrapped
from infra.envs import ENVS, ROOT

pytestmark = pytest.mark.slow  # real orchestrators and containers

DAY = LAST_HISTORY + dt.timedelta(days=1)
STEP_NAMES = ["ingest", "transform", "check_drift", "train", "evaluate"]
AIRFLOW_BIN = ENVS["airflow"].path / "bin"


@pytest.fixture(scope="module")
def airflow_run(tmp_path_factory: pytest.TempPathFactory,
                beijing_history: tuple[Path, Any]) -> dict[str, Any]:
    """The session's Beijing history, copied; DAY through Airflow on the copy, compared
    with the direct run of DAY on another copy (conftest.py)."""
    history, direct = beijing_history
    root = tmp_path_factory.mktemp("airflow_impl")
    cfg = beijing_config(root / "airflow")
    shutil.copytree(history, cfg.home)
    started = time.perf_counter()
    wrapped = run_wrapped("airflow", cfg, DAY.isoformat(), log=lambda _: None)
    print(f"\n{DAY}: airflow {time.perf_counter() - started:.1f} s")
    return {"cfg": cfg, "result": wrapped, "direct": direct}


def _steps(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["name"]: s for s in result["steps"]}


def _faulty(cfg: Config, fault: Fault, timeout_s: float = 120) -> Config:
    steps = {**cfg.steps, "train": StepPolicy(retries=1, retry_delay_s=0.2, timeout_s=timeout_s)}
    return dataclasses.replace(cfg, faults={"train": fault}, steps=steps)


def _airflow_json(cfg: Config, *args: str) -> Any:
    """An `airflow ... -o json` command with the driver's settings; its JSON is the last line."""
    env = {**os.environ, **airflow_environment(cfg.home)}
    env.pop("VIRTUAL_ENV", None)
    out = subprocess.run([str(AIRFLOW_BIN / "airflow"), *args, "-o", "json"], env=env, cwd=ROOT,
                         capture_output=True, text=True, timeout=120, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


# Airflow's own log reader (what the UI's log view calls), run in Airflow's env.
READ_TASK_LOG = """
import sys
from airflow.models.dagrun import DagRun
from airflow.utils.log.log_reader import TaskLogReader
from airflow.utils.session import create_session
from sqlalchemy import select
from airflow.sdk import timezone
with create_session() as session:
    run = session.scalars(select(DagRun).where(
        DagRun.dag_id == "orchbench_pipeline",
        DagRun.logical_date == timezone.parse(sys.argv[1])).order_by(DagRun.id.desc())).first()
    ti = run.get_task_instance(sys.argv[2], session=session)
    for n in range(1, ti.try_number + 1):
        stream, _ = TaskLogReader().read_log_chunks(ti, n, {})
        for item in stream:
            print(n, item if isinstance(item, str) else item.model_dump_json())
"""


def test_one_date_succeeds_with_the_same_decision_and_model_as_direct(airflow_run) -> None:
    result, direct = airflow_run["result"], airflow_run["direct"]
    assert result["status"] == "success", result["error"]
    assert (result["orchestrator"], result["logical_date"]) == ("airflow", DAY.isoformat())
    assert result["orchestrator_version"].startswith("3.3")
    assert [(s["name"], s["status"], s["attempts"]) for s in result["steps"]] == [
        (name, "success", 1) for name in STEP_NAMES]
    for step in result["steps"]:
        assert step["queued"] <= step["started"] < step["ended"], step
    for earlier, later in zip(result["steps"], result["steps"][1:], strict=False):
        assert earlier["ended"] <= later["started"]  # chained in registry order
    keys = ("strategy", "reason", "drifted_columns", "decision_id")
    assert {k: result["decision"][k] for k in keys} == {k: direct.decision[k] for k in keys}
    assert result["metrics"] == direct.metrics  # incl. the model version, a content hash
    assert_tracked(airflow_run["cfg"], "airflow", result["run_id"], result["metrics"])


def test_permanent_failure_fails_after_retries_and_keeps_the_model(airflow_run) -> None:
    cfg = airflow_run["cfg"]
    day = DAY + dt.timedelta(days=1)  # consecutive: a gap would fail train before the fault
    before = ModelStore.of(cfg).current()
    result = run_wrapped("airflow", _faulty(cfg, Fault(fail_times=9, exit_code=42)),
                         day.isoformat(), log=lambda _: None)
    steps = _steps(result)
    assert (result["status"], steps["train"]["status"], steps["train"]["attempts"]) == (
        "failed", "failed", 2)
    assert "exited with code 42" in steps["train"]["error"]
    assert (steps["evaluate"]["status"], steps["evaluate"]["attempts"]) == ("not_run", 0)
    assert ModelStore.of(cfg).current() == before
    env = {**os.environ, **airflow_environment(cfg.home)}
    log = subprocess.run(
        [str(AIRFLOW_BIN / "python"), "-c", READ_TASK_LOG, f"{day}T00:00:00+00:00", "train"],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=120, check=True).stdout
    for attempt in (1, 2):
        lines = [line for line in log.splitlines() if line.startswith(f"{attempt} ")]
        assert any("exited with code 42" in line for line in lines), log[-2000:]
        assert any(f"fault injection: attempt {attempt} of the first 9 fails with exit 42" in line
                   for line in lines), log[-2000:]


def test_airflow_lists_both_dags_without_import_errors(airflow_run) -> None:
    cfg = airflow_run["cfg"]
    listed = _airflow_json(cfg, "dags", "list")  # as the metadata DB (and the UI) has them
    assert {d["dag_id"] for d in listed} == {"orchbench_pipeline",
                                             "orchbench_pipeline_weekly_cold"}
    assert _airflow_json(cfg, "dags", "list-import-errors", "--local") == []  # a fresh parse


def test_dag_file_parses_fast_without_heavy_imports() -> None:
    """Airflow re-parses DAG files all the time: ours must cost little beyond airflow.sdk."""
    code = f"""
import runpy, sys, time
import airflow.sdk
started = time.perf_counter()
module = runpy.run_path({str(DAG_FILE)!r})
print(time.perf_counter() - started)
print(sorted(m for m in ("pandas", "evidently", "docker", "pyarrow", "duckdb") if m in sys.modules))
print(module["daily"].task_ids, module["weekly_cold"].params["force_cold"])
"""
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    out = subprocess.run([str(AIRFLOW_BIN / "python"), "-c", code], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=120, check=True)
    seconds, heavy, dag = out.stdout.strip().splitlines()[-3:]
    assert float(seconds) < 0.5, seconds
    assert heavy == "[]"
    assert dag == f"{STEP_NAMES} True"
