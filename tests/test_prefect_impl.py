"""The Prefect wrapper on real Prefect 3.9 (ephemeral API, SQLite) and real containers.

One small history is built per module and copied, so the direct run and Prefect
start from identical lakes; every scenario then runs its own logical date through
`run_wrapped` (a `.venvs/prefect` subprocess, as the CLI does). Prefect is never
imported here: its records are read from its own SQLite file, or through its API
in a subprocess of its environment.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import shutil
import sqlite3
import subprocess
import time
from itertools import pairwise
from pathlib import Path
from typing import Any

import docker
import pytest
from history import BEIJING_LAST_HISTORY as LAST_HISTORY
from history import assert_tracked, beijing_config

from core.config import Config, Fault, StepPolicy, save_config
from core.models import ModelStore
from core.registry import STEP_NAMES
from infra.drivers import orchestrator_home, run_wrapped
from infra.envs import ENVS, ROOT

pytestmark = pytest.mark.slow  # real orchestrators and containers

PARITY, PERMANENT = (LAST_HISTORY + dt.timedelta(days=i) for i in range(1, 3))


@pytest.fixture(scope="module")
def parity(tmp_path_factory: pytest.TempPathFactory,
           beijing_history: tuple[Path, Any]) -> dict[str, Any]:
    """The same date on two identical lakes: direct (once per session, conftest.py) and
    through Prefect."""
    history, direct = beijing_history
    root = tmp_path_factory.mktemp("prefect_impl")
    cfg = beijing_config(root / "prefect")
    shutil.copytree(history, cfg.home)
    started = time.perf_counter()
    wrapped = run_wrapped("prefect", cfg, str(PARITY), log=lambda _: None)
    print(f"\n{PARITY}: prefect (subprocess) {time.perf_counter() - started:.1f} s")
    return {"cfg": cfg, "direct": direct, "prefect": wrapped}


def faulty(cfg: Config, fault: Fault, timeout_s: float = 120) -> Config:
    steps = {**cfg.steps, "train": StepPolicy(retries=1, retry_delay_s=0.2, timeout_s=timeout_s)}
    return dataclasses.replace(cfg, faults={"train": fault}, steps=steps)


def train_step(result: dict[str, Any]) -> dict[str, Any]:
    return next(s for s in result["steps"] if s["name"] == "train")


def prefect_records(cfg: Config, result: dict[str, Any], sql: str, *args: str) -> list[tuple]:
    """Rows of Prefect's own SQLite database about `result`'s flow run (named date-run id)."""
    with sqlite3.connect(orchestrator_home(cfg, "prefect") / "prefect.db") as con:
        return con.execute(sql, (f"{result['logical_date']}-{result['run_id']}", *args)).fetchall()


def prefect_logs(cfg: Config, result: dict[str, Any], task: str) -> str:
    """What Prefect stored as one task run's log."""
    rows = prefect_records(
        cfg, result,
        "SELECT log.message FROM log JOIN task_run ON log.task_run_id = task_run.id "
        "JOIN flow_run ON task_run.flow_run_id = flow_run.id "
        "WHERE flow_run.name = ? AND task_run.name = ? ORDER BY log.timestamp", task)
    return "\n".join(message for (message,) in rows)


def labelled(client: docker.DockerClient) -> list:
    session = os.environ["ORCHBENCH_SESSION"]
    return client.containers.list(all=True, filters={"label": f"orchbench.session={session}"})


def test_one_date_matches_the_direct_run(parity: dict[str, Any]) -> None:
    direct, result = parity["direct"], parity["prefect"]
    assert result["status"] == "success", result["error"]
    assert result["orchestrator"] == "prefect"
    assert result["orchestrator_version"].startswith("3.9")
    assert [(s["name"], s["status"], s["attempts"]) for s in result["steps"]] == [
        (name, "success", 1) for name in STEP_NAMES]
    for s in result["steps"]:  # Prefect's own timestamps, in order
        assert s["queued"] <= s["started"] < s["ended"], s
    assert all(a["ended"] <= b["started"] for a, b in pairwise(result["steps"]))
    assert direct.status == "success"
    assert result["metrics"] == direct.metrics  # the model version is its content hash
    assert result["decision"]["strategy"] == "cold"
    home_free = [{k: v for k, v in d.items() if k != "report"}  # the path names the home
                 for d in (result["decision"], direct.decision)]
    assert home_free[0] == home_free[1]  # strategy, reason, columns, scores, decision_id, …
    assert ModelStore.of(parity["cfg"]).current().version == result["metrics"]["version"]
    assert_tracked(parity["cfg"], "prefect", result["run_id"], result["metrics"])
    artifacts = dict(prefect_records(
        parity["cfg"], result, "SELECT artifact.key, artifact.data FROM artifact JOIN flow_run "
        "ON artifact.flow_run_id = flow_run.id WHERE flow_run.name = ?"))
    assert result["decision"]["decision_id"] in artifacts["drift-decision"]
    assert Path(result["decision"]["report"]).as_uri() in artifacts["evidently-report"]


def test_permanent_failure_keeps_the_previous_model_and_logs_why(
        parity: dict[str, Any]) -> None:
    cfg = faulty(parity["cfg"], Fault(fail_times=9, exit_code=42))
    store = ModelStore.of(cfg)
    before = store.current()
    result = run_wrapped("prefect", cfg, str(PERMANENT), log=lambda _: None)
    train = train_step(result)
    assert (result["status"], train["status"], train["attempts"]) == ("failed", "failed", 2)
    assert "exited with code 42" in train["error"]
    assert result["steps"][-1]["status"] == "not_run"
    logs = prefect_logs(cfg, result, "train")
    assert "exited with code 42" in logs
    assert "fault injection: attempt 2 of the first 9 fails with exit 42" in logs
    assert store.current() == before and store.for_date(PERMANENT) is None


IN_PREFECT = """
import asyncio, json, sys
from pathlib import Path
from prefect_impl.run import read_result, use_prefect_home
use_prefect_home(Path(sys.argv[1]))
from prefect import get_client
from prefect_impl.deploy import deployment
from prefect_impl.flow import pipeline

deployment_id = deployment(config="/srv/orchbench.toml").apply()
with get_client(sync_client=True) as client:
    found = client.read_deployment(deployment_id)
state = pipeline(day="2026-02-30", run_id="bad-date", config=sys.argv[2], return_state=True)
bad = asyncio.run(read_result(state.state_details.flow_run_id, "bad-date", "2026-02-30"))
print(json.dumps({
    "schedules": [{"slug": s.slug, "cron": s.schedule.cron, "timezone": s.schedule.timezone,
                   "active": s.active, "parameters": s.parameters} for s in found.schedules],
    "bad_date": bad.to_dict()}))
"""


@pytest.fixture(scope="module")
def in_prefect(parity: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> dict:
    """One process in the Prefect environment, on the Prefect home the runs above used
    (its database is already migrated): apply the deployment and read it back through
    Prefect's API (no worker is started), and run a date no retry can fix."""
    config = save_config(parity["cfg"], tmp_path_factory.mktemp("config") / "config.json")
    done = subprocess.run(
        [str(ENVS["prefect"].python), "-c", IN_PREFECT,
         str(orchestrator_home(parity["cfg"], "prefect")), str(config)],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_deployment_schedules_are_registered_in_prefect(in_prefect: dict) -> None:
    schedules = {s["slug"]: s for s in in_prefect["schedules"]}
    # core/schedules.py: every day but Sunday, and Sunday a forced cold start
    assert schedules["daily"]["cron"] == "0 6 * * 1-6"
    assert schedules["weekly_cold"]["cron"] == "0 6 * * 0"
    assert {s["timezone"] for s in schedules.values()} == {"UTC"}
    assert all(s["active"] for s in schedules.values())
    assert schedules["weekly_cold"]["parameters"]["force_cold"] is True
    assert schedules["weekly_cold"]["parameters"]["config"] == "/srv/orchbench.toml"
    assert not schedules["daily"]["parameters"].get("force_cold")


def test_an_error_no_retry_can_fix_is_not_retried(in_prefect: dict) -> None:
    """ingest has retries=1, but a ConfigError says `retryable = False`: one attempt."""
    result = in_prefect["bad_date"]
    ingest = result["steps"][0]
    assert (result["status"], ingest["status"], ingest["attempts"]) == ("failed", "failed", 1)
    assert "not a date" in ingest["error"]
    assert [s["status"] for s in result["steps"][1:]] == ["not_run"] * 4
