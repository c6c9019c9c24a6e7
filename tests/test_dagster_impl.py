"""The Dagster wrapper, end to end: real Dagster 1.13 (its own venv), real Docker.

Tests drive Dagster only the way the CLI does, through infra.drivers.run_wrapped
(a subprocess of .venvs/dagster), and read Dagster's own records with Dagster's
API in that environment; Dagster is never imported here. One small history is
built per module; each scenario then runs its own logical date.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import shutil
import subprocess
import textwrap
from pathlib import Path
from typing import Any

import docker
import pytest
from history import BEIJING_LAST_HISTORY as LAST_HISTORY
from history import assert_tracked, beijing_config, small_config

from core.config import Config, Fault, StepPolicy
from core.models import ModelStore
from core.registry import STEP_NAMES
from infra.drivers import orchestrator_home, run_wrapped
from infra.envs import ENVS, ROOT

pytestmark = pytest.mark.slow  # real orchestrators and containers

# Consecutive: a date whose day before has no data cannot be trained or scored.
PARITY, PERMANENT, MULTIPROCESS, MISSING = (
    (LAST_HISTORY + dt.timedelta(days=i)).isoformat() for i in range(1, 5))
DAGSTER = ENVS["dagster"]


def quiet(_: str) -> None:
    pass


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory,
            beijing_history: tuple[Path, Any]) -> tuple[Config, Any]:
    """A copy of the session's Beijing history for Dagster, and the direct run of PARITY
    on another copy (conftest.py)."""
    home, direct = beijing_history
    cfg = beijing_config(tmp_path_factory.mktemp("dagster") / "dagster")
    shutil.copytree(home, cfg.home)
    return cfg, direct


def faulty(cfg: Config, fault: Fault) -> Config:
    steps = {**cfg.steps, "train": StepPolicy(retries=1, retry_delay_s=0.2, timeout_s=4)}
    return dataclasses.replace(cfg, faults={"train": fault}, steps=steps)


def dagster_python(cfg: Config, code: str) -> str:
    """Run code in the Dagster environment against the run's DAGSTER_HOME."""
    env = {**os.environ, "DAGSTER_HOME": str(orchestrator_home(cfg, "dagster").resolve())}
    env.pop("VIRTUAL_ENV", None)
    done = subprocess.run([str(DAGSTER.python), "-c", textwrap.dedent(code)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def dagster_step_log(cfg: Config, run_id: str, step: str) -> str:
    """Every message and error Dagster's event log holds for `step` of our run (found by
    its tag): what the Dagster UI shows for that op."""
    return dagster_python(cfg, f"""
        from dagster import DagsterInstance, RunsFilter
        with DagsterInstance.get() as instance:
            [run] = instance.get_runs(RunsFilter(tags={{"orchbench/run_id": {run_id!r}}}))
            for entry in instance.all_logs(run.run_id):
                if entry.step_key == {step!r}:
                    print(entry.message)
                    error = getattr(entry.get_dagster_event().event_specific_data, "error", None
                                    ) if entry.is_dagster_event else None
                    if error is not None:  # a failed attempt: the error Dagster recorded
                        print(error.to_string())
    """)


def labelled(client: docker.DockerClient) -> list:
    session = os.environ["ORCHBENCH_SESSION"]
    return client.containers.list(all=True, filters={"label": f"orchbench.session={session}"})


def test_one_date_succeeds_and_matches_the_direct_run(history) -> None:
    cfg, direct = history
    result = run_wrapped("dagster", cfg, PARITY, log=quiet)
    assert result["orchestrator"] == "dagster"
    assert result["orchestrator_version"].startswith("1.13.")
    assert result["status"] == "success", result["error"]
    assert [(s["name"], s["status"], s["attempts"]) for s in result["steps"]] == [
        (name, "success", 1) for name in STEP_NAMES]
    for s in result["steps"]:
        assert s["started"] and s["ended"] and s["started"] <= s["ended"]
    # Dagster's times, not a second clock: steps run one after the other.
    for a, b in zip(result["steps"], result["steps"][1:], strict=False):
        assert a["ended"] <= b["started"]

    assert direct.status == "success" and direct.logical_date == PARITY
    keys = ("strategy", "reason", "drifted_columns", "decision_id", "scores", "windows")
    assert {k: result["decision"][k] for k in keys} == {k: direct.decision[k] for k in keys}
    assert result["metrics"] == direct.metrics  # version = date + hash of the model's bytes
    assert (cfg.home / "runs" / f"{PARITY}-{result['run_id']}.json").is_file()
    assert_tracked(cfg, "dagster", result["run_id"], result["metrics"])


def test_permanent_failure_fails_the_run_and_keeps_the_model(history, docker_client) -> None:
    cfg, _ = history
    before = ModelStore.of(cfg).current()
    result = run_wrapped("dagster", faulty(cfg, Fault(fail_times=9, exit_code=42)), PERMANENT,
                         log=quiet)
    assert result["status"] == "failed"
    steps = {s["name"]: s for s in result["steps"]}
    assert (steps["train"]["status"], steps["train"]["attempts"]) == ("failed", 2)
    assert "exited with code 42" in steps["train"]["error"]
    assert steps["evaluate"]["status"] == "not_run" and result["metrics"] is None
    assert result["decision"]["logical_date"] == PERMANENT  # check_drift's output, kept
    assert result["error"].startswith("train: ")
    logged = dagster_step_log(cfg, result["run_id"], "train")
    assert "exited with code 42" in logged
    assert "fault injection: attempt 1 of the first 9 fails with exit 42" in logged
    assert ModelStore.of(cfg).current() == before
    assert labelled(docker_client) == []


def test_dagster_cli_loads_the_job_and_both_schedules(tmp_path: Path) -> None:
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path)}
    env.pop("VIRTUAL_ENV", None)
    dagster = str(DAGSTER.path / "bin" / "dagster")
    listed = ""
    # One after the other: both would create the fresh instance's SQLite storage at once.
    for command in (["job", "list"], ["schedule", "list"]):
        done = subprocess.run([dagster, *command, "-m", "dagster_impl.definitions"], cwd=ROOT,
                              env=env, capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 0, done.stderr[-3000:]
        listed += done.stdout
    for name in ("orchbench_pipeline", "daily_0600_utc", "weekly_cold_start", *STEP_NAMES):
        assert name in listed
    # The schedules' run config: the logical date is the scheduled day; Sunday's is cold.
    evaluated = json.loads(dagster_python(small_config(tmp_path), """
        import datetime as dt, json
        from dagster import build_schedule_context
        from dagster_impl.definitions import daily, weekly_cold
        out = {}
        for schedule, day in ((daily, 2), (weekly_cold, 1)):  # Monday 2 and Sunday 1 March
            at = dt.datetime(2026, 3, day, 6, tzinfo=dt.UTC)
            [request] = schedule.evaluate_tick(
                build_schedule_context(scheduled_execution_time=at)).run_requests
            out[schedule.name] = request.run_config["resources"]["run"]["config"]
        print(json.dumps(out))
    """))
    assert [(c["day"], c["force_cold"]) for c in evaluated.values()] == [
        ("2026-03-02", False), ("2026-03-01", True)]


def test_one_date_with_the_multiprocess_executor(history, monkeypatch) -> None:
    cfg, _ = history
    monkeypatch.setenv("ORCHBENCH_DAGSTER_EXECUTOR", "multiprocess")
    result = run_wrapped("dagster", cfg, MULTIPROCESS, log=quiet)
    assert result["status"] == "success", result["error"]
    assert [(s["name"], s["attempts"]) for s in result["steps"]] == [(n, 1) for n in STEP_NAMES]
    # A process per op: Dagster records launching it (our "queued") before the step starts.
    assert 'Launching subprocess for "ingest"' in dagster_step_log(cfg, result["run_id"], "ingest")
    for s in result["steps"]:
        assert s["queued"] < s["started"], s
