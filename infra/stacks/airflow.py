"""Airflow's local stacks: `airflow standalone` on SQLite, and its production layouts.

Three layouts (StackSettings.backend), all on the home the driver uses: state under
`<home>/orchestrators/airflow/` (airflow.cfg, task logs; SQLite's airflow.db for the
first), DAGs from airflow_impl/dags, and with StackSettings.scale also the fan-out DAG
of airflow_impl/scale (a second DAG bundle: `scale_bundles`).

"sqlite" is what Airflow's docs give a user to try it locally: `airflow standalone`,
one command that migrates the metadata DB and starts four components as children —
the API server (UI, REST API v2 and the Task SDK's execution API), the scheduler
(with its LocalExecutor, which forks `parallelism` worker processes at start), the
DAG processor and the triggerer (cli/commands/standalone_command.py). The driver's
runs (`orchbench run -o airflow`, SQLite too) show in this UI.

"postgres" is the production layout of Airflow's docs on one machine ("Set up a
Database Backend": PostgreSQL; "Production Deployment": each component its own
process, a supervisor restarting it): processes in this order —
  postgres            the home's cluster (infra/services.py), database "airflow";
  migrate             `airflow db migrate`, run to its end (12.6 s on a new database);
  api-server          `airflow api-server --host H --port P`: one uvicorn process;
  scheduler           with the LocalExecutor: its `parallelism` forked workers
                      ("airflow worker -- LocalExecutor: …") and the worker log server;
  dag-processor, triggerer (the triggerer forks its trigger runner and a log server).
"celery" is Airflow's distributed layout (the celery provider's docs, "Celery
Executor"): the same, with a Redis server (the broker) after PostgreSQL, the
scheduler's executor CeleryExecutor (results in PostgreSQL: `db+postgresql…`, the
airflow database) and one `airflow celery worker`: a Celery main process with a
prefork pool of `worker_concurrency` processes forked at start (each runs a task's
supervisor, "airflow supervisor: <ti id>", which forks the task, "airflow worker --
<ti id>"), its log server, and a bundle-cleanup process. Flower is not started:
nothing of Celery's listens.

Ports (all derived from the UI port P, so two stacks, or `orchbench ui --all`,
never meet): P the API server (bound to 127.0.0.1: AIRFLOW__API__HOST and --host);
P+1 the worker log server — the scheduler's under the LocalExecutor, the Celery
worker's under Celery (same setting) — and P+2 the triggerer's log server
(Airflow's 8793 and 8794; both bind all interfaces, IPv4 and IPv6, measured with
`ss -ltnp`: utils/serve_logs/core.py hard-codes host "" and has no setting for it);
P+3 the scheduler's health-check server (off by default, moved anyway so that
turning it on cannot collide); P+10 PostgreSQL and P+11 Redis (base.SERVICE_PORTS,
both 127.0.0.1 only).

Facts that shape this module (measured on Airflow 3.3.2 with the celery provider
3.26.0 on 2 cores, see the report in docs/design):
- moving the API server off 8080 also needs `[core] execution_api_server_url`,
  or every task fails: tasks call back into the API server's execution API;
- the scheduler's executor signs each task's token with `[api_auth] jwt_secret`
  and the API server checks it (executors/base_executor.py, api_fastapi/
  execution_api/app.py). Standalone's components read the one Airflow wrote into
  airflow.cfg; a process that finds none makes its own, so separate processes are
  given one per home (`jwt_secret()`), as config.yml advises: by environment, to
  the components that sign or check tokens;
- the API server's `[api] workers` defaults to 1 ("roughly the number of cores",
  config.yml). Kept at 1 on 2 cores, where the scheduler, DAG processor, triggerer,
  PostgreSQL and the pipeline's containers share them; recorded as a knob;
- the celery provider's worker_concurrency defaults to 16 forked pool processes
  (46 MB PSS each measured); "tuned" sizes it to 4, like the tuned parallelism;
- the celery provider 3.26.0 imports `retry` from celery.backends.database, which
  Celery 5.7.0 removed: with Celery 5.7 `airflow celery worker` fails on import
  (executors/celery_executor_utils.py, which the CeleryExecutor imports too), so
  the airflow environment needs celery<5.7 (5.6.3 measured);
- the fan-out (StackSettings.scale), "default" variant: n = 500 mapped no-op tasks ran
  in 80 s on postgres (trigger to end; 100 in 16 s), at most 16 at once ([core]
  max_active_tasks_per_dag), 2.5 GB peak PSS (the LocalExecutor's task processes);
- measured with the "tuned" variant while other stacks ran on the machine: postgres
  ready in 41 s (initdb and migration included), 941 MB PSS, a run 150 s; celery
  ready in 81 s, 1166 MB, a run 160 s (sqlite: see the report);
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
import itertools
import json
import os
import secrets
import time
import urllib.error
import urllib.parse
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import psutil

from airflow_impl.settings import DAGS, airflow_environment
from core.errors import OrchbenchError
from core.names import FANOUT_NAME, PIPELINE_NAME
from core.registry import STEP_NAMES
from core.schedules import SCHEDULES, definition_name, schedule_for
from infra.envs import ENVS
from infra.services import Postgres, Redis
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
# The fan-out DAG (airflow_impl/scale/orchbench_fanout.py), loaded only with
# StackSettings.scale as a DAG bundle of its own; its mapped task's id.
SCALE_DAGS = DAGS.parent / "scale"
SCALE_BUNDLE = "orchbench-scale"
FANOUT_TASK = "noop"
VARIANTS = ("default", "tuned", "detect", "ui")
# How long a DAG's next backfill is asked for again while Airflow refuses it: 409 while the
# one before is not yet marked completed (the scheduler checks every 30 s), 503 on a lock.
BACKFILL_REFUSED_FOR_S = 60

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
    "AIRFLOW__API__WORKERS": "1",  # the API server's uvicorn processes (kept: see above)
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

# The Celery layout's own settings (the celery provider's provider.yaml): the worker's
# prefork pool is `worker_concurrency` processes forked at start, each taking one task
# at a time. "default" keeps the provider's 16, as "default" keeps parallelism 32;
# "tuned" sizes it like the tuned LocalExecutor, to the slots the scheduler may fill.
CELERY = {
    "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
    "AIRFLOW__CELERY__WORKER_CONCURRENCY": "16",
    "AIRFLOW__CELERY__WORKER_PREFETCH_MULTIPLIER": "1",  # a pool process reserves 1 task
}
CELERY_TUNED = {"AIRFLOW__CELERY__WORKER_CONCURRENCY": "4"}

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
    backends: ClassVar[tuple[str, ...]] = ("sqlite", "postgres", "celery")

    # ---- what to start
    def commands(self, s: StackSettings) -> list[Command]:
        bin_dir = ENVS[self.name].path / "bin"
        airflow = str(bin_dir / "airflow")
        # standalone starts its components as `airflow <component>` from PATH.
        path = f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"
        if s.backend == "sqlite":
            return [Command("standalone", [airflow, "standalone"],
                            {**self.settings_env(s), "PATH": path})]
        postgres = Postgres.of(s)
        first = [postgres.server("airflow")]  # initdb on first use: the password exists after
        env = {**self.settings_env(s), "PATH": path,
               "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": postgres.url("airflow")}
        if s.backend == "celery":
            redis = Redis.of(s)
            first.append(redis.server())
            env["AIRFLOW__CELERY__BROKER_URL"] = redis.url()
            env["AIRFLOW__CELERY__RESULT_BACKEND"] = f"db+{postgres.url('airflow')}"
        # The components that sign or check task tokens share one secret (see jwt_secret).
        signing = {**env, "AIRFLOW__API_AUTH__JWT_SECRET": jwt_secret(s)}
        commands = [
            *first,
            Command("migrate", [airflow, "db", "migrate"], env, once=True),
            Command("api-server", [airflow, "api-server", "--host", s.host,
                                   "--port", str(s.port)], signing),
            Command("scheduler", [airflow, "scheduler"], signing),
            Command("dag-processor", [airflow, "dag-processor"], signing),
            Command("triggerer", [airflow, "triggerer"], signing),
        ]
        if s.backend == "celery":
            commands.append(Command("celery-worker", [airflow, "celery", "worker"], env))
        return commands

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
        if s.scale:
            env["AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST"] = json.dumps(scale_bundles())
        return env

    def knobs(self, variant: str, backend: str = "sqlite") -> dict[str, str]:
        """The variant's settings; `backend` adds its layout's own (the executor, the
        Celery worker's pool)."""
        if variant not in VARIANTS:
            raise OrchbenchError(f"Unknown Airflow stack variant {variant!r}.",
                                 f"Use one of: {', '.join(VARIANTS)}.")
        knobs = {**DEFAULTS, **(TUNED if variant == "tuned" else {})}
        # Benchmarks trigger their own runs: no cron run may queue in front of them.
        knobs["AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE"] = "True" if variant == "ui" else "False"
        return {**knobs, **backend_knobs(variant, backend)}

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
        if s.backend == "celery" and not celery_worker_listening(Redis.of(s)):
            return False
        return all(self._api(s, "GET", f"/api/v2/dags/{dag_id}")["dag_id"] == dag_id
                   for dag_id in dag_ids(s))

    def after_ready(self, s: StackSettings, log: Log) -> None:
        """Unpause the DAGs (both pipeline DAGs, and the fan-out's with `scale`): Airflow
        never starts a paused DAG's runs, triggered or not."""
        for dag_id in dag_ids(s):
            self._set_paused(s, dag_id, False)
        log(f"airflow: unpaused {', '.join(dag_ids(s))}")

    def _set_paused(self, s: StackSettings, dag_id: str, paused: bool) -> None:
        self._api(s, "PATCH", f"/api/v2/dags/{dag_id}?update_mask=is_paused",
                  {"is_paused": paused})

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
        return self._run_status(s, run_id, DAG_ID)

    def _run_status(self, s: StackSettings, run_id: str, dag_id: str) -> RunStatus:
        """A run of the pipeline DAG `dag_id` (either schedule's: DAG_IDS)."""
        run_path = f"/api/v2/dags/{dag_id}/dagRuns/{urllib.parse.quote(run_id, safe='')}"
        run = self._api(s, "GET", run_path)
        tis = self.task_instances(s, run_id, dag_id)
        starts = [_epoch(ti["start_date"]) for ti in tis if ti.get("start_date")]
        state = str(run["state"])
        return RunStatus(
            run_id=run_id, state=state, final=state in FINAL_STATES,
            succeeded=state == "success",
            first_task_started=min(starts) if starts else None,
            ended=_epoch(run["end_date"]) if run.get("end_date") else None,
            steps={ti["task_id"]: str(ti["state"]) for ti in tis if ti["task_id"] in STEP_NAMES},
        )

    def trigger_fanout(self, s: StackSettings, n: int) -> str:
        """POST a run of the fan-out DAG (FANOUT_NAME) with conf {"n": n}: `items` lists
        n items, then n mapped `noop` tasks run. Its logical date is null (Airflow 3
        allows any number of runs without one; the trigger time is its run_after), its
        run id "orchbench_fanout__<n>__<8 hex>". Needs a stack started with `scale`
        (else Airflow answers 404: urllib.error.HTTPError). n must be 0 … [core]
        max_map_length (1024 by default, config_templates/config.yml): a longer list
        fails `items`, and so the run, once it runs; n < 0 is refused here
        (OrchbenchError) as the DAG's Param (minimum 0) would refuse it."""
        if n < 0:
            raise OrchbenchError(f"A fan-out of {n} tasks is not possible.",
                                 "Give a number of tasks of 0 or more.")
        run_id = f"orchbench_fanout__{n}__{uuid.uuid4().hex[:8]}"
        body = {"dag_run_id": run_id, "logical_date": None, "conf": {"n": n}}
        made = self._api(s, "POST", f"/api/v2/dags/{FANOUT_NAME}/dagRuns", body)
        return str(made["dag_run_id"])

    def fanout_status(self, s: StackSettings, run_id: str) -> RunStatus:
        """A fan-out run as Airflow records it, in three requests whatever n: the run
        (state; `ended` its end_date, epoch s), its `items` task instance (the first
        task of the run by construction: its start_date is `first_task_started`, else
        the run's start_date), and the count of mapped `noop` task instances in state
        success (`tasks_succeeded`: the listMapped endpoint's `total_entries`, an exact
        count with offset paging, asked with limit=1 so no list of n is sent;
        api_fastapi/core_api/routes/public/task_instances.py). `steps` holds `items`'s
        state. Raises urllib.error.HTTPError for an unknown run (404)."""
        run_path = f"/api/v2/dags/{FANOUT_NAME}/dagRuns/{urllib.parse.quote(run_id, safe='')}"
        run = self._api(s, "GET", run_path)
        state = str(run["state"])
        try:
            first = self._api(s, "GET", f"{run_path}/taskInstances/items")
        except urllib.error.HTTPError as err:  # not created yet: the run is queued
            if err.code != 404:
                raise
            first = {}
        started = first.get("start_date") or run.get("start_date")
        done = self._api(s, "GET", f"{run_path}/taskInstances/{FANOUT_TASK}/listMapped"
                                   "?state=success&limit=1")
        return RunStatus(
            run_id=run_id, state=state, final=state in FINAL_STATES,
            succeeded=state == "success",
            first_task_started=_epoch(started) if started else None,
            ended=_epoch(run["end_date"]) if run.get("end_date") else None,
            steps={"items": str(first["state"])} if first else {},
            tasks_succeeded=int(done["total_entries"]),
        )

    def backfill(self, running: RunningStack, days: Sequence[str],
                 timeout_s: float = 900) -> list[RunStatus]:
        """Airflow's own backfill (Airflow 3: `POST /api/v2/backfills`, which replaced the
        `airflow dags backfill` job): the API server creates a DAG run per date of the DAG's
        timetable in [from_date, to_date] at once, and the scheduler runs them at most
        `max_active_runs` (here 1) at a time, in logical-date order (models/backfill.py,
        `_create_backfill`). See Stack.backfill for the contract.

        The timetable is two DAGs (the daily one, Monday to Saturday, and the weekly cold
        start on Sundays: core/schedules.py), and a backfill is of one DAG. Run together,
        the two would run a Sunday beside its Saturday or Monday, so the dates are cut into
        stretches of one DAG (`stretches`), each backfilled and waited for before the next.
        The API refuses a DAG's next backfill (409, "Another backfill is running") until
        the scheduler has marked the previous one completed, which it checks every 30 s
        (`_mark_backfills_complete`): refused (or 503, a database lock), it is asked again
        every second for BACKFILL_REFUSED_FOR_S.
        The run config names the stack's config file, as `trigger` does; `day` stays unset,
        so each run takes its logical date (`ds`)."""
        s = running.settings
        statuses: list[RunStatus] = []
        for dag_id, stretch in stretches(days):
            backfill_id, run_ids = self._backfill_runs(s, dag_id, stretch)
            for run_id in run_ids:
                status = running.wait_run(run_id, timeout_s,
                                          read=lambda s, r, d=dag_id: self._run_status(s, r, d))
                statuses.append(status)
                if not status.succeeded:  # the next dates would fail on the gap: cancel them
                    self._api(s, "PUT", f"/api/v2/backfills/{backfill_id}/cancel")
                    return statuses
        return statuses

    def backfill_mechanism(self, s: StackSettings) -> str:
        return ("POST /api/v2/backfills, max_active_runs 1, a DAG at a time (Sundays are the "
                "weekly cold start's DAG)")

    def _backfill_runs(self, s: StackSettings, dag_id: str,
                       stretch: list[str]) -> tuple[int, list[str]]:
        """Create the backfill of `dag_id` over the dates of `stretch` (a 409 retried, see
        `backfill`); its id and its DAG runs' ids in date order. Raises OrchbenchError if
        Airflow creates a run count other than the stretch's, urllib.error.HTTPError if it
        refuses the backfill otherwise."""
        first = dt.datetime.combine(dt.date.fromisoformat(stretch[0]), dt.time(), dt.UTC)
        last = dt.datetime.combine(dt.date.fromisoformat(stretch[-1]), dt.time.max, dt.UTC)
        body = {"dag_id": dag_id, "from_date": first.isoformat(), "to_date": last.isoformat(),
                "max_active_runs": 1, "run_backwards": False, "reprocess_behavior": "none",
                "dag_run_conf": {"config": str(s.config.resolve())}}
        deadline = time.monotonic() + BACKFILL_REFUSED_FOR_S
        # On SQLite the DAG is paused while its runs are created: the scheduler otherwise
        # starts the first while the API server still inserts the next, and the insert
        # fails with "database is locked", which the API answers with 503 "Backfill
        # creation is not supported on SQLite under concurrent access. Please use
        # PostgreSQL or MySQL." (routes/public/backfills.py; measured here: 8 dates
        # failed at the 6th). The scheduler starts no run of a paused DAG
        # (DagRun.get_queued_dag_runs_to_set_running).
        paused = s.backend == "sqlite"
        if paused:
            self._set_paused(s, dag_id, True)
        try:
            while True:
                try:
                    made = self._api(s, "POST", "/api/v2/backfills", body)
                    break
                except urllib.error.HTTPError as err:
                    # 409: the DAG's backfill before is not marked completed yet; 503: a
                    # lock, after which Airflow removed what it had made (_create_backfill)
                    if err.code not in (409, 503) or time.monotonic() > deadline:
                        raise
                    time.sleep(1)
        finally:
            if paused:
                self._set_paused(s, dag_id, False)
        query = urllib.parse.urlencode({"run_type": "backfill", "order_by": "logical_date",
                                        "logical_date_gte": first.isoformat(),
                                        "logical_date_lte": last.isoformat(), "limit": 100})
        runs = self._api(s, "GET", f"/api/v2/dags/{dag_id}/dagRuns?{query}")["dag_runs"]
        if len(runs) != len(stretch):
            raise OrchbenchError(
                f"Airflow's backfill of {dag_id} over {stretch[0]}..{stretch[-1]} made "
                f"{len(runs)} run(s) for {len(stretch)} date(s).",
                "Check the DAG's timetable (core/schedules.py) against the dates.")
        return int(made["id"]), [str(run["dag_run_id"]) for run in runs]

    def task_instances(self, s: StackSettings, run_id: str,
                       dag_id: str = DAG_ID) -> list[dict[str, Any]]:
        run_path = f"/api/v2/dags/{dag_id}/dagRuns/{urllib.parse.quote(run_id, safe='')}"
        return list(self._api(s, "GET", f"{run_path}/taskInstances")["task_instances"])

    def step_processes(self, running: RunningStack, run_id: str) -> list[psutil.Process]:
        """The worker running the run's current step: the process that supervises it and
        the task process it forked ("airflow worker -- <ti id>"). The supervisor is a
        LocalExecutor worker ("airflow worker -- LocalExecutor: <ti id>") or, under
        Celery, a prefork pool process of the Celery worker ("airflow supervisor: <ti
        id>", BaseExecutor.run_workload). Both die when a worker machine does; killing
        the task process alone is a task crash its supervisor reports at once."""
        ids = [ti["id"] for ti in self.task_instances(running.settings, run_id)
               if ti.get("state") == "running" and ti.get("id")]
        found = []
        for proc in running.processes():
            try:
                title = " ".join(proc.cmdline())
            except psutil.Error:
                continue
            if (title.startswith(("airflow worker --", "airflow supervisor:"))
                    and any(i in title for i in ids)):
                found.append(proc)
        return found

    # ---- HTTP
    def _api(self, s: StackSettings, method: str, path: str, body: Any = None) -> Any:
        return http_json(method, f"http://{s.host}:{s.port}{path}", body)


def stretches(days: Sequence[str]) -> list[tuple[str, list[str]]]:
    """`days` (ascending) cut into runs of consecutive dates of one pipeline DAG, in order:
    [(dag_id, [date, …]), …]. A date's DAG is its schedule's (core.schedules.schedule_for,
    definition_name): a week from Monday is [(daily, Mon…Sat), (weekly_cold, [Sun])]."""
    return [(definition_name(schedule), list(group)) for schedule, group in itertools.groupby(
        days, key=lambda day: schedule_for(dt.date.fromisoformat(day)))]


def airflow_home(s: StackSettings) -> Path:
    return Path(airflow_environment(s.home)["AIRFLOW_HOME"])


def dag_ids(s: StackSettings) -> tuple[str, ...]:
    """The DAGs the stack loads: the pipeline's two, and the fan-out's with `scale`."""
    return (*DAG_IDS, FANOUT_NAME) if s.scale else DAG_IDS


def scale_bundles() -> list[dict[str, Any]]:
    """`[dag_processor] dag_bundle_config_list` for a stack started with `scale`: Airflow
    3's default bundle, "dags-folder" (a LocalDagBundle of `[core] dags_folder`, i.e.
    airflow_impl/dags: config_templates/config.yml), unchanged, and a second
    LocalDagBundle, SCALE_BUNDLE, of airflow_impl/scale. Every component reads it (the
    DAG processor parses both; a task's supervisor finds its DAG file by bundle name),
    so it goes to all of them by environment. A stack started without `scale` on the
    same home afterwards marks the bundle inactive and the fan-out DAG stale
    (dag_processing/bundles/manager.py, sync_bundles_to_db): the UI stops listing it.
    The driver's `dag.test()` syncs its default bundles the same way (sdk/definitions/
    dag.py), so a driver run on a SQLite home can do so too; the next scale start
    reactivates it (measured: a fresh home without `scale` never lists it)."""
    local = "airflow.dag_processing.bundles.local.LocalDagBundle"
    return [{"name": "dags-folder", "classpath": local, "kwargs": {}},
            {"name": SCALE_BUNDLE, "classpath": local, "kwargs": {"path": str(SCALE_DAGS)}}]


def backend_knobs(variant: str, backend: str) -> dict[str, str]:
    """What a layout sets beyond the variant's knobs: Celery's executor and pool."""
    if backend not in AirflowStack.backends:
        raise OrchbenchError(f"Airflow has no {backend!r} layout here.",
                             f"Use one of: {', '.join(AirflowStack.backends)}.")
    if backend != "celery":
        return {}
    return {**CELERY, **(CELERY_TUNED if variant == "tuned" else {})}


def jwt_secret(s: StackSettings) -> str:
    """The secret that signs task tokens, one per home (<airflow home>/jwt_secret, 0600).

    The scheduler's executor signs each task's token with `[api_auth] jwt_secret` and the
    API server's execution API checks it. Airflow generates one when it writes airflow.cfg
    and a process that finds none makes its own, warning "using a generated one for now":
    separate processes must be given the same one, which Airflow's docs advise to pass as
    AIRFLOW__API_AUTH__JWT_SECRET, and only to the components that sign or check tokens
    (config.yml, `jwt_secret`). The Celery worker only carries the tokens it is sent."""
    path = airflow_home(s) / "jwt_secret"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_urlsafe(32) + "\n")
    return path.read_text().strip()


def celery_worker_listening(redis: Redis) -> bool:
    """True once a Celery worker consumes from the broker: its remote-control mailbox is
    bound (kombu's `_kombu.binding.celery.pidbox` set, which only a worker adds to, at
    the end of its start). Before that a triggered task would wait in the queue."""
    return int(redis.command("SCARD", "_kombu.binding.celery.pidbox") or 0) > 0


def _epoch(stamp: str) -> float:
    return dt.datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
