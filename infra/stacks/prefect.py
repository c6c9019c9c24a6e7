"""Prefect's local stacks: its development layout (SQLite, a served deployment) and its
production layout on one machine (PostgreSQL, a work pool and a worker).

Backend "sqlite", two processes, as a Prefect user starts it: the API server and UI
(`prefect server start`, one process, SQLite under `<home>/orchestrators/prefect/`,
the same PREFECT_HOME the driver's temporary server uses, so the driver's runs show
here too), and `python -m prefect_impl.deploy`, which registers the deployment and
polls the API for runs to start (`serve`). The serve process starts each flow run in
a subprocess of its own (`python -m prefect.engine`): that subprocess executes the
steps.

Backend "postgres", Prefect 3's self-hosted layout (docs: "Run a local Prefect
server" → "Use PostgreSQL"; a `process` work pool and its worker, "Run flows in local
processes"), in start order:
1. PostgreSQL (infra/services.py), database `prefect`;
2. `prefect server start` with PREFECT_API_DATABASE_CONNECTION_URL=postgresql+asyncpg://…
   (only this process gets the URL and its password): API, UI and the background
   services (scheduler, late runs, event persister, task-run recorder, triggers) in one
   process. Not the split `--no-services` + `prefect server services start`, which
   3.9 offers (cli/server.py) and the scaling guide ("Scale self-hosted Prefect")
   describes: it needs Redis as the messaging broker (prefect-redis, not installed).
   With the default in-memory broker (server/utilities/messaging/memory.py) the
   events that clients send to the API process never reach a separate services
   process, so its TaskRunRecorder (server/services/task_run_recorder.py) records no
   task run and its triggers fire no automation (tried on 3.9.1: a flow run of one
   task left the flow run COMPLETED, 0 task runs and 0 events stored);
3. `prefect work-pool create orchbench --type process --overwrite` (run once,
   idempotent; the base job template is the local ProcessWorker's, nothing fetched);
4. `python -m prefect_impl.deploy --pool orchbench` (run once): `flow.from_source` on
   this repository, `.deploy()` to the pool, same name, parameters and schedules as
   the served deployment; its pull step sets the run's working directory to the
   repository;
5. `prefect worker start --pool orchbench --type process` (role "worker"): polls the
   pool, and runs each flow run as `python -m prefect.runner._workspace_supervisor`,
   which runs the pull step and then exec()s `python -m prefect.engine` in the same
   process (runner/_workspace_starter.py, runner/_workspace_supervisor.py). Its
   environment is the worker's own plus the job variables (workers/process.py
   `prepare_for_flow_run`: `{**os.environ, **self.env}`), so it has ORCHBENCH_CONFIG,
   ORCHBENCH_HOME, ORCHBENCH_SESSION and PREFECT_API_URL, and PREFECT__FLOW_RUN_ID
   (workers/base.py `_base_flow_run_environment`). Dependency auto-install (`uv run`
   when the project's pyproject.toml names prefect, runner/_uv_command.py) is off by
   default, and set off here: the run uses the worker's interpreter.

Facts from Prefect 3.9's source that decide the figures (see `knobs`):
- a served flow learns of a new run only by polling, every
  `PREFECT_RUNNER_POLL_FREQUENCY` seconds (10 by default, an int: 1 is the floor); a
  worker likewise, every `PREFECT_WORKER_QUERY_SECONDS` (10 by default, a float, with
  ±30 % jitter: workers/base.py `start`), asking for runs due up to
  `PREFECT_WORKER_PREFETCH_SECONDS` ahead (10; a manual run is due now, so this does
  not delay it);
- a flow-run subprocess that dies is noticed at once by its serve process or worker,
  which proposes Crashed (runner/_flow_run_executor.py, step 7). If the serve process
  itself dies, nothing on the server notices unless an automation expects the
  flow run's heartbeats (`PREFECT_FLOWS_HEARTBEAT_FREQUENCY`, 180 s by default,
  30 s minimum); the server ships no such automation, so "detect" creates one;
- the deployment is READY, and its `last_polled` set, when a serve process or a
  worker polls for its runs (server/api/workers.py `get_scheduled_flow_runs` →
  models/deployments.py `mark_deployments_ready`); a work pool is READY while a worker
  sends heartbeats (`PREFECT_WORKER_HEARTBEAT_SECONDS`, 30).

With `StackSettings.scale`, `prefect_impl.deploy --scale` also serves (or deploys to the
pool) the fan-out flow of prefect_impl/scale.py, deployment FANOUT_NAME/FANOUT_NAME; the
stack is ready once both deployments are. Its task runs reach the API only through
events, recorded by the server's TaskRunRecorder (server/services/task_run_recorder.py)
seconds after the flow run is Completed: `fanout_status` counts them as they arrive.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import time
import urllib.error
import uuid
from pathlib import Path
from typing import Any

import psutil

from core.errors import OrchbenchError
from core.names import DEPLOYMENT_NAME, FANOUT_NAME, PIPELINE_NAME
from infra.envs import ENVS
from infra.services import Postgres
from infra.stacks.base import (
    Command,
    Log,
    RunningStack,
    RunStatus,
    Stack,
    StackSettings,
    answers,
    http_json,
)

FLOW, DEPLOYMENT = PIPELINE_NAME, DEPLOYMENT_NAME  # prefect_impl/flow.py and deploy.py
FANOUT = FANOUT_NAME  # prefect_impl/scale.py: the flow's name and its deployment's
FANOUT_TASK = "noop"  # prefect_impl/scale.py TASK_NAME: its task runs are noop-<key>
FINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}
POLL_DEFAULT_S = 10  # RunnerSettings.poll_frequency
QUERY_DEFAULT_S = 10  # WorkerSettings.query_seconds
PREFETCH_DEFAULT_S = 10  # WorkerSettings.prefetch_seconds
POOL = "orchbench"  # the work pool of the "postgres" layout
DATABASE = "prefect"  # its PostgreSQL database
HEARTBEAT_DEFAULT_S = 180  # FlowsSettings.heartbeat_frequency
HEARTBEAT_MIN_S = 30  # flow_engine.MINIMUM_HEARTBEAT_INTERVAL
RETRY_CODES = {429, 502, 503}
ZOMBIE_AUTOMATION = "orchbench: crash flow runs whose heartbeats stop"


class PrefectStack(Stack):
    name = "prefect"
    default_port = 4200
    login = None  # the open-source server has no login
    backends = ("sqlite", "postgres")

    # ---- what to start
    def commands(self, s: StackSettings) -> list[Command]:
        prefect_cli = str(ENVS["prefect"].path / "bin" / "prefect")
        server = [prefect_cli, "server", "start", "--host", s.host, "--port", str(s.port)]
        deploy = [self.python(), "-m", "prefect_impl.deploy", "--config", str(s.config),
                  "--home", str(s.home), *(["--scale"] if s.scale else [])]
        if s.backend == "sqlite":
            return [
                Command("server", server),
                # Started at once beside the server, as a user would; it waits for the
                # API (a Prefect client gives up at once on a server it never reached).
                Command("serve", [*deploy, "--wait-for-api", "300"]),
            ]
        postgres = Postgres.of(s)
        database = postgres.server(DATABASE)  # first: it creates the password url() reads
        return [
            database,
            # The server migrates the database on start, then answers /health.
            Command("server", server, ready=lambda: answers(f"{self.api(s)}/health"),
                    env={"PREFECT_API_DATABASE_CONNECTION_URL":
                         postgres.url(DATABASE, driver="asyncpg")}),
            Command("work pool", [prefect_cli, "work-pool", "create", POOL, "--type",
                                  "process", "--overwrite"], once=True),
            Command("deploy", [*deploy, "--pool", POOL], once=True),
            Command("worker", [prefect_cli, "worker", "start", "--pool", POOL, "--type",
                               "process", "--name", f"{POOL}-worker"],
                    env={"PREFECT_RUNNER_AUTO_INSTALL_DEPENDENCIES": "false"}),
        ]

    def environment(self, s: StackSettings) -> dict[str, str]:
        env = super().environment(s)
        env.pop("PREFECT_API_KEY", None)
        env.update(PREFECT_HOME=str(self.prefect_home(s)),
                   PREFECT_SERVER_ANALYTICS_ENABLED="false",  # offline: telemetry fails noisily
                   PREFECT_API_URL=self.api(s))
        return env

    def knobs(self, variant: str, backend: str = "sqlite") -> dict[str, str]:
        """Trigger → first task is the poll of whatever starts runs (a manual run is
        created Scheduled-for-now and waits for the next poll): the serve process's
        (PREFECT_RUNNER_POLL_FREQUENCY, on "sqlite") or the worker's
        (PREFECT_WORKER_QUERY_SECONDS, on "postgres"; its prefetch window is recorded
        and left at its default: a run due now is inside it). Then comes the spawn of
        the flow-run subprocess (a fresh interpreter importing Prefect and the flow:
        seconds on 2 cores, and no setting shortens it)."""
        tuned = variant == "tuned"
        if backend == "sqlite":
            poll = {"PREFECT_RUNNER_POLL_FREQUENCY": "1" if tuned else str(POLL_DEFAULT_S)}
        else:
            poll = {"PREFECT_WORKER_QUERY_SECONDS": "1" if tuned else str(QUERY_DEFAULT_S),
                    "PREFECT_WORKER_PREFETCH_SECONDS": str(PREFETCH_DEFAULT_S)}
        return poll if tuned else {**poll,
                                   "PREFECT_FLOWS_HEARTBEAT_FREQUENCY": str(HEARTBEAT_DEFAULT_S)}

    def detection_knobs(self) -> dict[str, str]:
        """Heartbeats as often as Prefect allows; `after_ready` adds the automation
        that turns their absence into Crashed (none exists by default)."""
        return {"PREFECT_FLOWS_HEARTBEAT_FREQUENCY": str(HEARTBEAT_MIN_S)}

    def prepare(self, s: StackSettings, log: Log) -> None:
        self.prefect_home(s).mkdir(parents=True, exist_ok=True)

    def config_files(self, s: StackSettings) -> list[Path]:
        """None: Prefect is configured by environment variables (PREFECT_HOME,
        PREFECT_API_URL, PREFECT_API_DATABASE_CONNECTION_URL); the deployment is Python
        (prefect_impl/deploy.py), the work pool a CLI command. The run config is
        orchbench's own."""
        return []

    # ---- readiness
    def ui_url(self, s: StackSettings) -> str:
        return f"http://{s.host}:{s.port}"

    def ready(self, s: StackSettings) -> bool:
        """The API answers and this stack's serve process or worker serves the
        deployment: the deployment is registered anew on start (`updated`), then
        polled for its runs (`last_polled`; Prefect says READY). A READY left by an
        earlier start that polled within the last minute does not count. With `scale`,
        the fan-out's deployment likewise. On "postgres" the work pool is READY too:
        the worker has sent its heartbeat."""
        if not answers(f"{self.api(s)}/health"):
            return False
        wanted = [(FLOW, DEPLOYMENT), *([(FANOUT, FANOUT)] if s.scale else [])]
        for flow_name, name in wanted:
            found = self.deployment(s, attempts=1, flow=flow_name, name=name)
            polled = (found is not None and found.get("status") == "READY"
                      and bool(found.get("last_polled"))
                      and epoch(found["last_polled"]) >= epoch(found["updated"]))
            if not polled:
                return False
        if s.backend == "sqlite":
            return True
        pool = http_json("GET", f"{self.api(s)}/work_pools/{POOL}")
        return pool.get("status") == "READY"

    def after_ready(self, s: StackSettings, log: Log) -> None:
        """Automations live in the home's database: "detect" and "tuned" (which
        includes the detection knobs) add ours, and "default" removes it, so a
        default stack is Prefect as installed."""
        if s.variant in ("tuned", "detect"):
            self.ensure_zombie_automation(s)
            log(f"prefect: automation '{ZOMBIE_AUTOMATION}' marks a flow run Crashed "
                f"{self.zombie_within_s()} s after its last heartbeat")
        else:
            for automation in self.zombie_automations(s):
                call("DELETE", f"{self.api(s)}/automations/{automation['id']}")

    # ---- runs
    def trigger(self, s: StackSettings, day: str, *, force_cold: bool = False,
                config: Path | None = None) -> str:
        deployment = self.deployment(s)
        if deployment is None:
            raise OrchbenchError(f"Prefect has no deployment {FLOW}/{DEPLOYMENT} to run.",
                                 "Wait until the stack is ready; see its serve.log.")
        parameters: dict[str, Any] = {"day": day, "run_id": f"srv-{uuid.uuid4().hex[:8]}",
                                      "force_cold": force_cold}
        if config is not None:
            parameters["config"] = str(config)
        run = call("POST", f"{self.api(s)}/deployments/{deployment['id']}/create_flow_run",
                        {"parameters": parameters})
        return str(run["id"])

    def status(self, s: StackSettings, run_id: str) -> RunStatus:
        # No retries here: callers poll (wait_run), and a late answer would blur times.
        run = http_json("GET", f"{self.api(s)}/flow_runs/{run_id}")
        task_runs = http_json("POST", f"{self.api(s)}/task_runs/filter", {
            "flow_runs": {"id": {"any_": [run_id]}}, "sort": "EXPECTED_START_TIME_ASC"})
        starts = [epoch(t["start_time"]) for t in task_runs if t.get("start_time")]
        state = (run.get("state_type") or "PENDING").upper()
        return RunStatus(
            run_id=run_id, state=state, final=state in FINAL, succeeded=state == "COMPLETED",
            first_task_started=min(starts) if starts else None,
            ended=epoch(run["end_time"]) if run.get("end_time") else None,
            steps={t["name"]: (t.get("state_type") or "PENDING").upper() for t in task_runs})

    def trigger_fanout(self, s: StackSettings, n: int) -> str:
        """Create a run of the fan-out's deployment with parameters {"n": n} (n mapped
        no-op tasks, prefect_impl/scale.py); its flow run id. Like `trigger`, it starts
        Scheduled-for-now, until the serve process or worker polls. Raises
        OrchbenchError if the deployment is missing (a stack started without
        `scale`), urllib.error.HTTPError if the API refuses the run."""
        deployment = self.deployment(s, flow=FANOUT, name=FANOUT)
        if deployment is None:
            raise OrchbenchError(f"Prefect has no deployment {FANOUT}/{FANOUT} to run.",
                                 "Start the stack with StackSettings(scale=True), and wait "
                                 "until it is ready; see its serve.log or deploy.log.")
        run = call("POST", f"{self.api(s)}/deployments/{deployment['id']}/create_flow_run",
                   {"parameters": {"n": n}})
        return str(run["id"])

    def fanout_status(self, s: StackSettings, run_id: str) -> RunStatus:
        """The fan-out flow run's state (epoch-second times): `first_task_started` is the
        flow run's start_time (the tasks start ms later, but theirs are recorded late,
        see below), `ended` its end_time, `tasks_succeeded` the number of its task runs
        named noop-… in state COMPLETED, counted by the API (`POST /task_runs/count`,
        server/api/task_runs.py; a `/task_runs/filter` answer holds at most the
        server's default_limit, 200: settings/models/server/api.py). Task runs are
        written from the flow-run process's events by the server's TaskRunRecorder
        (server/services/task_run_recorder.py), so the count reaches n seconds after
        the flow run's own COMPLETED: poll until it does. Raises what http_json
        raises (urllib.error.HTTPError: 404 for an unknown run id)."""
        # No retries here: callers poll (wait_run), and a late answer would blur times.
        run = http_json("GET", f"{self.api(s)}/flow_runs/{run_id}")
        succeeded = http_json("POST", f"{self.api(s)}/task_runs/count", {"task_runs": {
            "flow_run_id": {"any_": [run_id]},
            "name": {"like_": f"{FANOUT_TASK}-"},  # SQL ILIKE %noop-%
            "state": {"type": {"any_": ["COMPLETED"]}}}})
        state = (run.get("state_type") or "PENDING").upper()
        return RunStatus(
            run_id=run_id, state=state, final=state in FINAL, succeeded=state == "COMPLETED",
            first_task_started=epoch(run["start_time"]) if run.get("start_time") else None,
            ended=epoch(run["end_time"]) if run.get("end_time") else None,
            tasks_succeeded=int(succeeded))

    def step_processes(self, running: RunningStack, run_id: str) -> list[psutil.Process]:
        """The flow-run subprocess of this run, a child of the serve process
        (`python -m prefect.engine`, runner/_starter_engine.py) or of the worker
        (`python -m prefect.runner._workspace_supervisor`, which exec()s that engine in
        the same process, in a process group of its own): both started with
        PREFECT__FLOW_RUN_ID=<run id> in their environment; their command lines do not
        name it."""
        found = []
        for role, proc in running.roots:
            if role not in ("serve", "worker"):
                continue
            with contextlib.suppress(psutil.Error):
                for child in psutil.Process(proc.pid).children(recursive=True):
                    with contextlib.suppress(psutil.Error):
                        if child.environ().get("PREFECT__FLOW_RUN_ID") == run_id:
                            found.append(child)
        return found

    # ---- Prefect specifics
    def prefect_home(self, s: StackSettings) -> Path:
        return s.state_dir / "prefect"  # prefect_impl/run.py use_prefect_home

    def api(self, s: StackSettings) -> str:
        return f"http://{s.host}:{s.port}/api"

    def deployment(self, s: StackSettings, attempts: int = 6, flow: str = FLOW,
                   name: str = DEPLOYMENT) -> dict[str, Any] | None:
        """The deployment flow/name as the API returns it (the pipeline's by default),
        or None if there is none (404)."""
        try:
            return call("GET", f"{self.api(s)}/deployments/name/{flow}/{name}",
                        attempts=attempts)
        except urllib.error.HTTPError as err:
            if err.code == 404:
                return None
            raise

    @staticmethod
    def zombie_within_s() -> int:
        """Two missed heartbeats and a little slack, at the detect heartbeat."""
        return 2 * HEARTBEAT_MIN_S + 10

    def zombie_automations(self, s: StackSettings) -> list[dict[str, Any]]:
        found = call("POST", f"{self.api(s)}/automations/filter", {})
        return [a for a in found if a.get("name") == ZOMBIE_AUTOMATION]

    def ensure_zombie_automation(self, s: StackSettings) -> None:
        """Prefect's documented zombie-flow automation: after a heartbeat, expect
        another heartbeat or a final state within `within`, else set Crashed."""
        if self.zombie_automations(s):
            return
        final_events = [f"prefect.flow-run.{name}"
                        for name in ("Completed", "Failed", "Cancelled", "Crashed")]
        call("POST", f"{self.api(s)}/automations/", {
            "name": ZOMBIE_AUTOMATION,
            "description": "Added by orchbench's 'detect' variant.",
            "enabled": True,
            "trigger": {
                "type": "event", "posture": "Proactive",
                "after": ["prefect.flow-run.heartbeat"],
                "expect": ["prefect.flow-run.heartbeat", *final_events],
                "match": {"prefect.resource.id": ["prefect.flow-run.*"]},
                "for_each": ["prefect.resource.id"],
                "threshold": 1, "within": self.zombie_within_s(),
            },
            "actions": [{"type": "change-flow-run-state", "state": "CRASHED",
                         "message": "Flow run marked Crashed: its heartbeats stopped."}],
        })


def call(method: str, url: str, body: Any = None, attempts: int = 6) -> Any:
    """http_json, retrying what Prefect's own client retries: a 503 is Prefect's
    answer to a retryable database error ("database is locked" on a busy SQLite),
    and the transaction was rolled back, so sending it again is safe."""
    for attempt in range(attempts):
        try:
            return http_json(method, url, body)
        except urllib.error.HTTPError as err:
            if err.code not in RETRY_CODES or attempt == attempts - 1:
                raise
            time.sleep(0.5 * 2**attempt)
    raise AssertionError("unreachable")


def epoch(stamp: str) -> float:
    return dt.datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
