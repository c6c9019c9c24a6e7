"""Airflow's local stack: `airflow standalone` on the home the driver uses.

`airflow standalone` is what Airflow's docs give a user to try it locally: one
command that migrates the metadata DB and starts four components as children —
the API server (UI, REST API v2 and the Task SDK's execution API), the scheduler
(with its LocalExecutor, which forks `parallelism` worker processes at start), the
DAG processor and the triggerer. Its state is `<home>/orchestrators/airflow/`
(SQLite, airflow.cfg, task logs), the settings of airflow_impl.run's driver, so
the runs `orchbench run -o airflow` made show in this UI.

Ports (all derived from the UI port P, so two stacks, or `orchbench ui --all`,
never meet): P the API server (bound to 127.0.0.1); P+1 the scheduler's worker log
server and P+2 the triggerer's log server (Airflow's 8793 and 8794; both bind all
interfaces: Airflow's serve_logs hard-codes host "" and has no setting for it);
P+3 the scheduler's health-check server (off by default, moved anyway so that
turning it on cannot collide).

Facts that shape this module (measured on Airflow 3.3.2, see the report in
docs/design):
- moving the API server off 8080 also needs `[core] execution_api_server_url`,
  or every task fails: tasks call back into the API server's execution API;
- `simple_auth_manager_all_admins` makes every visitor an admin: no login page,
  and the REST API needs no token;
- new DAGs start paused; a paused DAG's runs never start, so after_ready unpauses;
- unpausing a scheduled DAG makes the scheduler create the latest cron tick's run
  at once (catchup=False still runs the most recent tick). That is the schedule
  working, right for `orchbench ui` (variant "ui"), but a benchmark's triggered run
  would queue behind it (max_active_runs=1), so the benchmark variants turn the
  scheduler's cron scheduling off (`use_job_schedule=False`): triggered runs only.
"""

from __future__ import annotations

import datetime as dt
import os
import urllib.parse
import uuid
from pathlib import Path
from typing import Any, ClassVar

import psutil

from airflow_impl.settings import airflow_environment
from core.errors import OrchbenchError
from core.names import PIPELINE_NAME
from core.registry import STEP_NAMES
from core.schedules import SCHEDULES, definition_name
from infra.envs import ENVS
from infra.stacks.base import (
    Command,
    Log,
    RunningStack,
    RunStatus,
    Stack,
    StackSettings,
    check_port_free,
    http_json,
)

DAG_ID = PIPELINE_NAME  # the daily DAG: the one a triggered run goes to
DAG_IDS = tuple(definition_name(s) for s in SCHEDULES)  # airflow_impl/dags/orchbench_pipeline.py
FINAL_STATES = {"success", "failed"}
VARIANTS = ("default", "tuned", "detect", "ui")

# The port roles beside the UI's, as offsets from it (see the module docstring).
EXTRA_PORTS = {
    "worker log server": ("AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT", 1),
    "triggerer log server": ("AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT", 2),
    "scheduler health check": ("AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT", 3),
}

# Airflow 3.3's defaults for what decides served latency, written out so every
# figure records them (config_templates/config.yml):
DEFAULTS = {
    "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",  # standalone forces a local executor
    "AIRFLOW__CORE__PARALLELISM": "32",  # LocalExecutor forks this many workers at start
    "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": "1",  # loop sleep when idle: the lag
    "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "5",
    "AIRFLOW__SCHEDULER__JOB_HEARTBEAT_SEC": "5",
    "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "30",  # re-parse of a DAG file
    "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "300",  # scan for new DAG files
    "AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL": "5",  # a task supervisor's heartbeat
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "300",  # dead worker noticed
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "10",
}

# What a user tuning a local Airflow for latency changes: a scheduler loop that
# wakes ten times as often when idle (it only sleeps when a loop found nothing to
# do), DAG files re-parsed sooner, and a LocalExecutor sized to the machine
# rather than 32 forked workers on 2 cores.
TUNED = {
    "AIRFLOW__CORE__PARALLELISM": "4",
    "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": "0.1",
    "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "5",
    "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "30",
}

# A task's supervisor heartbeats every 5 s (min_heartbeat_interval); three missed
# beats are a dead worker, looked for every 5 s.
DETECTION = {
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "15",
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "5",
}


class AirflowStack(Stack):
    name: ClassVar[str] = "airflow"
    default_port: ClassVar[int] = 8080
    login: ClassVar[str | None] = None  # all admins: the UI opens without a login page

    # ---- what to start
    def commands(self, s: StackSettings) -> list[Command]:
        bin_dir = ENVS[self.name].path / "bin"
        # standalone starts its components as `airflow <component>` from PATH.
        path = f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"
        return [Command("standalone", [str(bin_dir / "airflow"), "standalone"],
                        {**self.settings_env(s), "PATH": path})]

    def settings_env(self, s: StackSettings) -> dict[str, str]:
        """Where and how this stack serves: the driver's home, host, ports, no login."""
        base = f"http://{s.host}:{s.port}"
        env = {
            **airflow_environment(s.home),
            "AIRFLOW__API__HOST": s.host,
            "AIRFLOW__API__PORT": str(s.port),
            "AIRFLOW__API__BASE_URL": base,
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{base}/execution/",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        }
        for key, offset in EXTRA_PORTS.values():
            env[key] = str(s.port + offset)
        return env

    def knobs(self, variant: str) -> dict[str, str]:
        if variant not in VARIANTS:
            raise OrchbenchError(f"Unknown Airflow stack variant {variant!r}.",
                                 f"Use one of: {', '.join(VARIANTS)}.")
        knobs = {**DEFAULTS, **(TUNED if variant == "tuned" else {})}
        # Benchmarks trigger their own runs: no cron run may queue in front of them.
        knobs["AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE"] = "True" if variant == "ui" else "False"
        return knobs

    def detection_knobs(self) -> dict[str, str]:
        return dict(DETECTION)

    def prepare(self, s: StackSettings, log: Log) -> None:
        """Refuse at once if a port beside the UI's is taken: Airflow would start and
        then lose a component to 'address already in use', which looks like a hang."""
        for role, (_, offset) in EXTRA_PORTS.items():
            if role == "scheduler health check":
                continue  # not opened unless [scheduler] enable_health_check is on
            try:
                check_port_free(s.host, s.port + offset, self.name)
            except OrchbenchError as exc:
                raise OrchbenchError(
                    f"Airflow's {role} needs port {s.port + offset} (the UI port + {offset}), "
                    f"which is taken: {exc.problem}",
                    f"Choose another UI port: `orchbench ui {self.name} --port N`.") from exc
        airflow_home(s).mkdir(parents=True, exist_ok=True)

    def config_files(self, s: StackSettings) -> list[Path]:
        """airflow.cfg, which Airflow writes with its defaults on first start (the
        settings above come as environment variables and override it)."""
        return [airflow_home(s) / "airflow.cfg"]

    # ---- readiness
    def ui_url(self, s: StackSettings) -> str:
        return f"http://{s.host}:{s.port}/"

    def ready(self, s: StackSettings) -> bool:
        """The API answers, the scheduler and DAG processor heartbeat, and the
        pipeline DAG is parsed (serialized), so a trigger runs at once."""
        health = self._api(s, "GET", "/api/v2/monitor/health")
        for component in ("metadatabase", "scheduler", "dag_processor"):
            if (health.get(component) or {}).get("status") != "healthy":
                return False
        return all(self._api(s, "GET", f"/api/v2/dags/{dag_id}")["dag_id"] == dag_id
                   for dag_id in DAG_IDS)

    def after_ready(self, s: StackSettings, log: Log) -> None:
        """Unpause both DAGs: Airflow never starts a paused DAG's runs, triggered or not."""
        for dag_id in DAG_IDS:
            self._api(s, "PATCH", f"/api/v2/dags/{dag_id}?update_mask=is_paused",
                      {"is_paused": False})
        log(f"airflow: unpaused {', '.join(DAG_IDS)}")

    # ---- runs
    def trigger(self, s: StackSettings, day: str, *, force_cold: bool = False,
                config: Path | None = None) -> str:
        """POST a DAG run. Its logical date is `day` at the current time of day:
        Airflow allows one run per (DAG, logical date), and the driver's runs take
        midnight, so a date can be triggered again and still sort under its day."""
        day = str(day)
        now = dt.datetime.now(dt.UTC)
        logical = dt.datetime.combine(dt.date.fromisoformat(day), now.time(), tzinfo=dt.UTC)
        run_id = f"orchbench__{day}__{uuid.uuid4().hex[:8]}"
        body = {
            "dag_run_id": run_id,
            "logical_date": logical.isoformat(),
            "conf": {"day": day, "run_id": run_id, "force_cold": force_cold,
                     "config": str((config or s.config).resolve())},
        }
        made = self._api(s, "POST", f"/api/v2/dags/{DAG_ID}/dagRuns", body)
        return str(made["dag_run_id"])

    def status(self, s: StackSettings, run_id: str) -> RunStatus:
        run_path = f"/api/v2/dags/{DAG_ID}/dagRuns/{urllib.parse.quote(run_id, safe='')}"
        run = self._api(s, "GET", run_path)
        tis = self.task_instances(s, run_id)
        starts = [_epoch(ti["start_date"]) for ti in tis if ti.get("start_date")]
        state = str(run["state"])
        return RunStatus(
            run_id=run_id, state=state, final=state in FINAL_STATES,
            succeeded=state == "success",
            first_task_started=min(starts) if starts else None,
            ended=_epoch(run["end_date"]) if run.get("end_date") else None,
            steps={ti["task_id"]: str(ti["state"]) for ti in tis if ti["task_id"] in STEP_NAMES},
        )

    def task_instances(self, s: StackSettings, run_id: str) -> list[dict[str, Any]]:
        run_path = f"/api/v2/dags/{DAG_ID}/dagRuns/{urllib.parse.quote(run_id, safe='')}"
        return list(self._api(s, "GET", f"{run_path}/taskInstances")["task_instances"])

    def step_processes(self, running: RunningStack, run_id: str) -> list[psutil.Process]:
        """The worker running the run's current step: the LocalExecutor worker that
        supervises it ("airflow worker -- LocalExecutor: <ti id>") and the task process
        it forked ("airflow worker -- <ti id>"). Both die when a worker machine does;
        killing the task process alone is a task crash its supervisor reports at once."""
        ids = [ti["id"] for ti in self.task_instances(running.settings, run_id)
               if ti.get("state") == "running" and ti.get("id")]
        found = []
        for proc in running.processes():
            try:
                title = " ".join(proc.cmdline())
            except psutil.Error:
                continue
            if title.startswith("airflow worker --") and any(i in title for i in ids):
                found.append(proc)
        return found

    # ---- HTTP
    def _api(self, s: StackSettings, method: str, path: str, body: Any = None) -> Any:
        return http_json(method, f"http://{s.host}:{s.port}{path}", body)


def airflow_home(s: StackSettings) -> Path:
    return Path(airflow_environment(s.home)["AIRFLOW_HOME"])


def _epoch(stamp: str) -> float:
    return dt.datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
