"""Dagster's local stack, on two layouts, driven over its GraphQL API.

backend "sqlite": `dagster dev -m dagster_impl.definitions` starts four processes in
one session: the webserver (the UI and /graphql, the only TCP port), the daemon
(scheduler, sensors, the run queue), and a code server (`dagster code-server start`,
which runs `dagster api grpc` over a Unix socket) that loads our definitions. Runs,
event logs and schedules are SQLite files under DAGSTER_HOME.

backend "postgres": Dagster's production layout ("Deploying Dagster as a service";
examples/deploy_docker: docker-compose.yml, dagster.yaml, workspace.yaml,
Dockerfile_user_code), its containers as processes of one machine, all on 127.0.0.1:
- PostgreSQL (infra/services.py), the home's cluster, database `dagster`, on the UI
  port + 10: run, event log and schedule storage (`storage: postgres:`,
  dagster_postgres/storage.py), the password passed as $DAGSTER_PG_PASSWORD;
- the code server `dagster api grpc -m dagster_impl.definitions` on the UI port + 12,
  started before the others and waited for (its port opens only once the definitions
  are imported: dagster/_cli/api.py builds DagsterApiServer, which loads them, before
  DagsterGrpcServer binds);
- `dagster-webserver -w workspace.yaml` on the UI port and `dagster-daemon run -w
  workspace.yaml`; workspace.yaml (written under DAGSTER_HOME by prepare()) names the
  gRPC server with location_name LOCATION, the name `dagster dev -m` gives it, so the
  API calls are the same on both layouts. DefaultRunLauncher is named in dagster.yaml.
Measured (2-core machine, variant tuned, one pipeline day): ready after 15 s when quieter, 26-35 s
with other stacks running beside it (the code server loads in about 7 s of that, the
webserver and the daemon then need the rest; dagster dev: 18 s when quieter); a run 33 s (dagster
dev 32 s). Four roots: postgres (6 processes and an idle connection, 26-37 MB PSS), code
server 110 MB, webserver 135-140 MB, daemon 108-114 MB: 380-397 MB in all (dagster dev:
514-524 MB in five Python processes). Listening: the UI, PostgreSQL, the code server. An
idle stop takes about 4 s.

On both layouts a launched run is executed by a *run worker*: a `multiprocessing`
spawn child of the code server (dagster/_grpc/server.py StartRun; its command line is
`spawn_main(...)` and names no run id), found from the run's "Started process for
run (pid: N)" event (dagster/_grpc/impl.py). With the multiprocess executor, the run
worker starts one more spawn child per step. On postgres the run worker reads the
instance from the launcher's InstanceRef and the password from the environment it
inherits from the code server.

Its state is DAGSTER_HOME = <home>/orchestrators/dagster, as for the driver
(dagster_impl/run.py), so the sqlite layout's UI lists the driver's runs too. The driver
rewrites dagster.yaml with its telemetry line only, so its runs go to SQLite even in a
home a postgres stack used: the postgres layout's UI does not list them.

DAGSTER_HOME/logs is also where the stack's own logs go (base.py log_path), and Dagster's
webserver and daemon run a telemetry thread (dagster/_core/telemetry_upload.py) that,
whatever `telemetry: enabled` says, moves that folder to .logs_queue, posts its files to
telemetry.dagster.io and deletes them (measured: the logs folder empty after a run).
DAGSTER_DISABLE_TELEMETRY, the one variable it reads, is set for every process.

What decides trigger → first step (read from Dagster 1.13's source):
- the run coordinator. `dagster dev`'s instance defaults to QueuedRunCoordinator:
  launchRun only marks the run QUEUED; the daemon's QUEUED_RUN_COORDINATOR loop
  launches it on its next pass, every `dequeue_interval_seconds` (default 5).
  DefaultRunCoordinator launches it inside the launchRun request instead.
- the executor (definitions.py reads $ORCHBENCH_DAGSTER_EXECUTOR): Dagster's own
  default is multiprocess, a fresh interpreter per step; in_process runs the steps
  in the run worker.
Both are written to dagster.yaml / the environment by prepare() from knobs(), the same
on both layouts, so the figures carry the settings they were measured with.

A killed run worker: the code server checks its run processes every 0.5 s
(dagster/_grpc/server.py `_check_for_orphaned_runs`) and reports a run whose worker
died as failed, run monitoring or not (measured: FAILURE 1-2 s after the SIGKILL;
the step stays IN_PROGRESS, its container keeps running). Run monitoring (off by default) cannot
check DefaultRunLauncher's workers (`supports_check_run_worker_health` is False);
it adds a start timeout (runs stuck STARTING/NOT_STARTED) and a poll of its own.

The scale scenario: a stack started with `scale` sets $ORCHBENCH_SCALE=1 for all its
processes, so definitions.py also defines the fan-out job (dagster_impl/scale.py), run
by the variant's executor like the pipeline. trigger_fanout launches it with n mapped
no-op ops; fanout_status counts the succeeded ones without listing them. Measured
(2-core machine, other stacks running beside it, load 3-15; trigger → run end, one run
each): default (multiprocess, 2 step processes at a time) on postgres N=5 55 s, 10 69 s,
100 239 s, so 500 would take some 20 min; tuned (in_process) on postgres 5/10/100/500:
4/5/25/103 s, on sqlite (dagster dev) 4/4/8/24 s. Peak PSS during the run: default
686-714 MB, tuned 494-526 MB on postgres, 597-644 MB on sqlite.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import psutil

from core.errors import OrchbenchError
from core.names import FANOUT_NAME, FANOUT_RUN_LIMIT, PIPELINE_NAME
from core.registry import STEP_NAMES
from core.schedules import schedule_for
from infra.services import SUPERUSER, Postgres
from infra.stacks.base import (
    Command,
    RunningStack,
    RunStatus,
    Stack,
    StackSettings,
    accepts,
    answers,
    http_json,
)

LOCATION = "dagster_impl.definitions"  # `dagster dev -m` names the code location after the module
REPOSITORY = "__repository__"  # the implicit repository of a Definitions object
JOB = PIPELINE_NAME  # dagster_impl/definitions.py
FINAL = {"SUCCESS", "FAILURE", "CANCELED"}
DATABASE = "dagster"  # the postgres layout's database in the home's cluster
PASSWORD_ENV = "DAGSTER_PG_PASSWORD"  # dagster.yaml reads the password from it

# Knob names: ours, not Dagster's. ORCHBENCH_DAGSTER_EXECUTOR is read by definitions.py;
# the others are written into dagster.yaml by prepare(), as Dagster reads them only there.
EXECUTOR = "ORCHBENCH_DAGSTER_EXECUTOR"
COORDINATOR = "ORCHBENCH_DAGSTER_RUN_COORDINATOR"
DEQUEUE_S = "ORCHBENCH_DAGSTER_DEQUEUE_INTERVAL_S"
MONITORING = "ORCHBENCH_DAGSTER_RUN_MONITORING"
MONITORING_POLL_S = "ORCHBENCH_DAGSTER_RUN_MONITORING_POLL_S"
MONITORING_START_TIMEOUT_S = "ORCHBENCH_DAGSTER_RUN_MONITORING_START_TIMEOUT_S"
# "1" makes definitions.py define the fan-out job too (StackSettings.scale).
SCALE = "ORCHBENCH_SCALE"
# The tag of fan-out runs, which the queue's tag_concurrency_limits hold to
# FANOUT_RUN_LIMIT at once (the queued variants: with DefaultRunCoordinator, "tuned",
# nothing queues and nothing limits).
SCALE_TAG = "orchbench/scale"
# The tag of a backfill's runs (their value: the backfill's id), which the queue's
# tag_concurrency_limits hold to one run in progress (Stack.backfill's one date at a time).
BACKFILL_TAG = "orchbench/backfill"
# dagster_impl/scale.py's listing op, whose config carries n (not imported: this side
# never imports Dagster).
FANOUT_OP = "fan_out"

_LAUNCH = """
mutation Launch($params: ExecutionParams!) {
  launchRun(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on RunConfigValidationInvalid { errors { message } }
    ... on PythonError { message }
    ... on Error { message }
  }
}"""

_TERMINATE = """
mutation Terminate($runIds: [String!]!) {
  terminateRuns(runIds: $runIds) { __typename }
}"""

_STATUS = """
query Status($runId: ID!) {
  runOrError(runId: $runId) {
    __typename
    ... on Run { status startTime endTime stepStats { stepKey status startTime endTime } }
    ... on Error { message }
  }
}"""

# A fan-out run counted, not listed: stats.stepsSucceeded is the run's STEP_SUCCESS events,
# counted by the event log storage (dagster_graphql/schema/pipelines/pipeline_run_stats.py
# RunStatsSnapshot; dagster/_core/storage/event_log/sql_event_log.py get_stats_for_run,
# a COUNT grouped by event type), where stepStats would list all n + 1 steps.
_FANOUT_STATUS = """
query FanoutStatus($runId: ID!) {
  runOrError(runId: $runId) {
    __typename
    ... on Run {
      status startTime endTime
      stats { __typename ... on RunStatsSnapshot { stepsSucceeded } ... on PythonError { message } }
    }
    ... on Error { message }
  }
}"""

_READY = """
{
  workspaceOrError { ... on Workspace { locationEntries {
    name loadStatus
    locationOrLoadError { ... on RepositoryLocation { repositories { name jobs { name } } } }
  } } }
  instance { daemonHealth { allDaemonStatuses { daemonType healthy } } }
}"""

# The run worker's engine event: "Started process for run (pid: 1234)." (dagster/_grpc/impl.py)
_LOGS = """
query Logs($runId: ID!) {
  logsForRun(runId: $runId) {
    ... on EventConnection { events { ... on MessageEvent { message } } }
  }
}"""
_PID = re.compile(r"Started process for run \(pid: (\d+)\)")


class DagsterStack(Stack):
    name = "dagster"
    default_port = 3000

    # ---- what to start
    backends = ("sqlite", "postgres")

    def commands(self, s: StackSettings) -> list[Command]:
        bin_dir = Path(self.python()).parent
        # DAGSTER_DISABLE_TELEMETRY: the webserver and the daemon otherwise run a thread
        # (dagster/_core/telemetry_upload.py) that, whatever dagster.yaml says, moves
        # $DAGSTER_HOME/logs (our stack logs' folder, log_path) to .logs_queue, posts its
        # files to telemetry.dagster.io and deletes them: this variable alone stops it.
        env = {"DAGSTER_HOME": str(self.dagster_home(s)), "DAGSTER_DISABLE_TELEMETRY": "1"}
        if s.scale:  # every process that loads the definitions: code server, run workers…
            env[SCALE] = "1"
        if s.backend == "sqlite":
            return [Command("dagster-dev", [str(bin_dir / "dagster"), "dev", "-h", s.host,
                                            "-p", str(s.port), "-m", LOCATION], env)]
        cluster = Postgres.of(s)
        database = cluster.server(DATABASE)  # first: it creates the cluster and its password
        # dagster.yaml names the password by this variable, not by value; the run worker
        # inherits it from the code server.
        env[PASSWORD_ENV] = cluster.password()
        grpc_port = s.port_of("code server")
        workspace = str(self.workspace_path(s))
        # `dagster api grpc` binds its port only once it has imported the definitions
        # (dagster/_cli/api.py builds DagsterApiServer, which loads the code, before
        # DagsterGrpcServer binds): a connection means loaded.
        return [
            database,
            Command("code-server", [str(bin_dir / "dagster"), "api", "grpc", "-m", LOCATION,
                                    "-h", s.host, "-p", str(grpc_port)], env,
                    ready=lambda: accepts(s.host, grpc_port)),
            Command("webserver", [str(bin_dir / "dagster-webserver"), "-h", s.host,
                                  "-p", str(s.port), "-w", workspace], env),
            Command("daemon", [str(bin_dir / "dagster-daemon"), "run", "-w", workspace], env),
        ]

    def services(self, s: StackSettings) -> tuple[str, ...]:
        """The layout's servers, and on postgres the code server's gRPC port (+ 12)."""
        extra = ("code server",) if s.backend == "postgres" else ()
        return (*super().services(s), *extra)

    def knobs(self, variant: str, backend: str = "sqlite") -> dict[str, str]:
        """default: Dagster as installed, written out (definitions.py alone would pick
        in_process, so the default executor is named explicitly). tuned: no queue (the
        launchRun request starts the run) and the steps in the run worker. The same on
        both backends: the run coordinator and launcher are the instance's either way."""
        if variant == "tuned":
            return {EXECUTOR: "in_process", COORDINATOR: "DefaultRunCoordinator"}
        if variant in ("default", "detect"):
            return {EXECUTOR: "multiprocess", COORDINATOR: "QueuedRunCoordinator",
                    DEQUEUE_S: "5"}
        raise OrchbenchError(f"Unknown stack variant {variant!r} for dagster.",
                             "Use one of: default, tuned, detect.")

    def detection_knobs(self) -> dict[str, str]:
        """Run monitoring on, polling every 10 s (default off; 120 s when on), runs that
        never start failed after 30 s (default 180 s). The dead-worker check itself is
        the code server's and needs no setting (see the module docstring). base.py adds
        these to "tuned" as well as "detect"."""
        return {MONITORING: "true", MONITORING_POLL_S: "10", MONITORING_START_TIMEOUT_S: "30"}

    def prepare(self, s: StackSettings, log: Any) -> None:
        home = self.dagster_home(s)
        home.mkdir(parents=True, exist_ok=True)
        (home / "dagster.yaml").write_text(self.dagster_yaml(self.environment(s), s))
        if s.backend == "postgres":
            self.workspace_path(s).write_text(self.workspace_yaml(s))

    def dagster_yaml(self, env: dict[str, str], s: StackSettings | None = None) -> str:
        """The instance settings the knobs name. Telemetry off: these machines are offline
        (as in dagster_impl/run.py, which rewrites this file with only that line). On
        postgres: run, event log and schedule storage in the cluster's `dagster` database
        (`storage: postgres:`, dagster_postgres/storage.py), the password read from
        $DAGSTER_PG_PASSWORD (as deploy_docker's dagster.yaml does), and DefaultRunLauncher
        named: runs start as processes of the code server."""
        lines = ["telemetry:", "  enabled: false"]
        if s is not None and s.backend == "postgres":
            cluster = Postgres.of(s)
            lines += ["storage:", "  postgres:", "    postgres_db:",
                      f"      username: {SUPERUSER}",
                      "      password:", f"        env: {PASSWORD_ENV}",
                      f"      hostname: {cluster.host}", f"      port: {cluster.port}",
                      f"      db_name: {DATABASE}",
                      # SQLAlchemy 2.1's bare postgresql:// means psycopg 3, which
                      # dagster-postgres does not install: name its psycopg2.
                      "      scheme: postgresql+psycopg2",
                      "run_launcher:", "  module: dagster._core.launcher",
                      "  class: DefaultRunLauncher"]
        coordinator = env.get(COORDINATOR, "QueuedRunCoordinator")
        # dagster._core: the module Dagster's own defaults name (dagster.core no longer exists).
        lines += ["run_coordinator:", "  module: dagster._core.run_coordinator",
                  f"  class: {coordinator}"]
        queue = []
        if coordinator == "QueuedRunCoordinator" and DEQUEUE_S in env:
            queue += [f"    dequeue_interval_seconds: {int(env[DEQUEUE_S])}"]
        if coordinator == "QueuedRunCoordinator":
            # A backfill's runs one at a time (backfill); with `scale`, the fan-out's run
            # concurrency limit: Dagster's own, tag limits of the queue.
            queue += ["    tag_concurrency_limits:", f"      - key: {BACKFILL_TAG}",
                      "        limit: 1"]
            if s is not None and s.scale:
                queue += [f"      - key: {SCALE_TAG}", f"        value: {FANOUT_NAME}",
                          f"        limit: {FANOUT_RUN_LIMIT}"]
        if queue:
            lines += ["  config:", *queue]
        if env.get(MONITORING) == "true":
            lines += ["run_monitoring:", "  enabled: true",
                      f"  poll_interval_seconds: {int(env.get(MONITORING_POLL_S, '120'))}",
                      f"  start_timeout_seconds: {int(env.get(MONITORING_START_TIMEOUT_S, '180'))}",
                      "  max_resume_run_attempts: 0"]
        return "\n".join(lines) + "\n"

    def workspace_yaml(self, s: StackSettings) -> str:
        """The webserver's and the daemon's code location: the code server, by gRPC, under
        the name `dagster dev -m` gives it (LOCATION), so the API calls stay the same."""
        return "\n".join(["load_from:", "  - grpc_server:", f"      host: {s.host}",
                          f"      port: {s.port_of('code server')}",
                          f"      location_name: {LOCATION}"]) + "\n"

    def config_files(self, s: StackSettings) -> list[Path]:
        files = [self.dagster_home(s) / "dagster.yaml"]
        return [*files, self.workspace_path(s)] if s.backend == "postgres" else files

    @staticmethod
    def dagster_home(s: StackSettings) -> Path:
        return (s.state_dir / "dagster").resolve()

    @classmethod
    def workspace_path(cls, s: StackSettings) -> Path:
        return cls.dagster_home(s) / "workspace.yaml"

    # ---- readiness
    def ui_url(self, s: StackSettings) -> str:
        return f"http://{s.host}:{s.port}"

    def ready(self, s: StackSettings) -> bool:
        """The webserver answers, our code location is loaded with the job (and the
        fan-out job, on a stack started with `scale`), and (with the queued coordinator)
        the daemon that dequeues runs has reported healthy."""
        if not answers(f"{self.ui_url(s)}/server_info"):
            return False
        data = self._graphql(s, _READY)
        entries = data["workspaceOrError"].get("locationEntries") or []
        wanted = {JOB, FANOUT_NAME} if s.scale else {JOB}
        loaded = any(
            entry["name"] == LOCATION and entry["loadStatus"] == "LOADED"
            and any(wanted <= {j["name"] for j in repo["jobs"]}
                    for repo in (entry.get("locationOrLoadError") or {}).get("repositories", []))
            for entry in entries)
        if not loaded:
            return False
        if not self._queued(s):
            return True
        daemons = data["instance"]["daemonHealth"]["allDaemonStatuses"]
        return any(d["daemonType"] == "QUEUED_RUN_COORDINATOR" and d["healthy"] for d in daemons)

    # ---- runs
    def trigger(self, s: StackSettings, day: str, *, force_cold: bool = False,
                config: Path | None = None, tags: dict[str, str] | None = None) -> str:
        """launchRun with the run config dagster_impl.definitions.run_config builds; the
        orchbench run id (container labels, result files) is also a run tag, beside
        `tags`."""
        run_id = uuid.uuid4().hex[:12]
        params = {"day": day, "run_id": run_id, "config": str(Path(config or s.config).resolve()),
                  "home": None, "force_cold": force_cold}
        tags = {"orchbench/run_id": run_id, "orchbench/logical_date": day, **(tags or {})}
        execution = {
            "selector": {"repositoryLocationName": LOCATION, "repositoryName": REPOSITORY,
                         "jobName": JOB},
            "runConfigData": {"resources": {"run": {"config": params}}},
            "executionMetadata": {"tags": [{"key": k, "value": v} for k, v in tags.items()]},
        }
        return self._launch(s, execution, f"{JOB} for {day}")

    def backfill(self, running: RunningStack, days: Sequence[str],
                 timeout_s: float = 900) -> list[RunStatus]:
        """A run per date, all launched at once with the tag BACKFILL_TAG, which the run
        queue (QueuedRunCoordinator) starts one at a time: dagster.yaml limits the tag to
        1 run in progress, and the daemon takes queued runs oldest first (it reads them
        ascending and sorts by priority alone, stably:
        _daemon/run_coordinator/queued_run_coordinator_daemon.py), so in date order.
        Dagster's own backfills are of partitions (a partitioned job or assets), and the
        pipeline job takes its date from the run config: so a run per date, which the
        queue orders. A run that fails cancels the queued ones after it
        (terminateRuns: a queued run becomes CANCELED). Without the queue ("tuned":
        DefaultRunCoordinator, which starts every launched run at once) it is the base
        class's run per date, each launched when the one before ended. See Stack.backfill
        for the contract."""
        s = running.settings
        if not self._queued(s):
            return super().backfill(running, days, timeout_s)
        backfill_id = uuid.uuid4().hex[:8]
        run_ids = [self.trigger(s, day, force_cold=schedule_for(dt.date.fromisoformat(day))
                                .force_cold, tags={BACKFILL_TAG: backfill_id})
                   for day in days]
        statuses: list[RunStatus] = []
        for i, run_id in enumerate(run_ids):
            # Awaited once the run before it ended, when the queue starts it.
            statuses.append(running.wait_run(run_id, timeout_s))
            if not statuses[-1].succeeded:
                if run_ids[i + 1:]:
                    self._graphql(s, _TERMINATE, {"runIds": run_ids[i + 1:]})
                break
        return statuses

    def backfill_mechanism(self, s: StackSettings) -> str:
        if not self._queued(s):
            return super().backfill_mechanism(s)
        return (f"a run per date launched at once; the run queue's tag limit "
                f"({BACKFILL_TAG}: 1) starts them in order")

    def _queued(self, s: StackSettings) -> bool:
        """Whether launched runs wait in the daemon's queue (QueuedRunCoordinator)."""
        return self.environment(s).get(COORDINATOR) == "QueuedRunCoordinator"

    def trigger_fanout(self, s: StackSettings, n: int) -> str:
        """launchRun of the fan-out job (dagster_impl/scale.py) with `n` mapped no-op ops
        (run config ops.fan_out.config.n); Dagster's run id. Raises OrchbenchError if
        Dagster refuses it: on a stack started without `scale` the job does not exist
        (PipelineNotFoundError); a negative n fails the run, not the launch."""
        execution = {
            "selector": {"repositoryLocationName": LOCATION, "repositoryName": REPOSITORY,
                         "jobName": FANOUT_NAME},
            "runConfigData": {"ops": {FANOUT_OP: {"config": {"n": n}}}},
            "executionMetadata": {"tags": [{"key": "orchbench/fanout_n", "value": str(n)},
                                           {"key": SCALE_TAG, "value": FANOUT_NAME}]},
        }
        return self._launch(s, execution, f"{FANOUT_NAME} with n={n}")

    def _launch(self, s: StackSettings, execution: dict[str, Any], what: str) -> str:
        """launchRun(execution) → the run id; an answer other than LaunchRunSuccess
        raises OrchbenchError naming `what` and Dagster's reason."""
        # Without the queue, launchRun returns only once the run worker has started
        # (an interpreter importing Dagster and our job): seconds, more on a busy machine.
        result = self._graphql(s, _LAUNCH, {"params": execution}, timeout_s=120)["launchRun"]
        if result["__typename"] != "LaunchRunSuccess":
            detail = result.get("message") or "; ".join(e["message"] for e in result.get(
                "errors", []))
            raise OrchbenchError(f"Dagster refused to launch {what}: "
                                 f"{result['__typename']}: {detail}",
                                 f"See the UI at {self.ui_url(s)} and the stack's logs.")
        return str(result["run"]["runId"])

    def status(self, s: StackSettings, run_id: str) -> RunStatus:
        run = self._graphql(s, _STATUS, {"runId": run_id})["runOrError"]
        if run["__typename"] != "Run":
            raise OrchbenchError(f"Dagster has no run {run_id}: {run.get('message')}",
                                 "Pass a run id that trigger() returned.")
        stats = {st["stepKey"]: st for st in run["stepStats"]}
        starts = [st["startTime"] for st in stats.values() if st["startTime"]]
        return RunStatus(
            run_id=run_id, state=run["status"], final=run["status"] in FINAL,
            succeeded=run["status"] == "SUCCESS",
            first_task_started=min(starts) if starts else None,
            ended=run["endTime"] if run["status"] in FINAL else None,
            steps={name: stats[name]["status"] for name in STEP_NAMES if name in stats})

    def fanout_status(self, s: StackSettings, run_id: str) -> RunStatus:
        """A fan-out run: its state, first_task_started = the run's startTime and ended =
        its endTime (epoch seconds, as Dagster records them: RUN_START / the final run
        event), and tasks_succeeded = the `noop` steps that succeeded, counted by the API
        (_FANOUT_STATUS): stepsSucceeded counts the listing op too, and it is the only
        step that can succeed before a noop, so any count ≥ 1 includes it once. `steps`
        stays empty (no list of n steps). Raises OrchbenchError for an unknown run."""
        run = self._graphql(s, _FANOUT_STATUS, {"runId": run_id})["runOrError"]
        if run["__typename"] != "Run":
            raise OrchbenchError(f"Dagster has no run {run_id}: {run.get('message')}",
                                 "Pass a run id that trigger_fanout() returned.")
        stats = run["stats"]
        if stats["__typename"] != "RunStatsSnapshot":
            raise OrchbenchError(f"Dagster could not count run {run_id}'s steps: "
                                 f"{stats.get('message')}", "See the stack's logs.")
        final = run["status"] in FINAL
        return RunStatus(
            run_id=run_id, state=run["status"], final=final,
            succeeded=run["status"] == "SUCCESS", first_task_started=run["startTime"],
            ended=run["endTime"] if final else None,
            tasks_succeeded=max(0, int(stats["stepsSucceeded"]) - 1))

    def step_processes(self, running: RunningStack, run_id: str) -> list[psutil.Process]:
        """The run worker (its pid from the run's own "Started process for run" event)
        and its descendants (the multiprocess executor's step processes)."""
        if self.status(running.settings, run_id).final:
            return []  # a finished worker may linger a moment, tearing down: not a step's
        pid = self.run_worker_pid(running.settings, run_id)
        if pid is None:
            return []
        ours = {p.pid for p in running.processes()}
        with contextlib.suppress(psutil.Error):
            worker = psutil.Process(pid)
            if worker.pid in ours:
                return [worker, *worker.children(recursive=True)]
        return []

    def run_worker_pid(self, s: StackSettings, run_id: str) -> int | None:
        events = self._graphql(s, _LOGS, {"runId": run_id})["logsForRun"].get("events") or []
        for event in events:
            found = _PID.search(event.get("message") or "")
            if found:
                return int(found.group(1))
        return None

    # ---- GraphQL
    def _graphql(self, s: StackSettings, query: str,
                 variables: dict[str, Any] | None = None, timeout_s: float = 30
                 ) -> dict[str, Any]:
        """POST /graphql. HTTP and connection errors propagate (while the server starts,
        they mean "not yet" to wait_ready); GraphQL errors (HTTP 200 with "errors")
        raise, as a bad query is our bug, not a state of the server."""
        reply = http_json("POST", f"{self.ui_url(s)}/graphql",
                          {"query": query, "variables": variables or {}}, timeout_s=timeout_s)
        if reply.get("errors"):
            raise OrchbenchError(f"Dagster's GraphQL API: {reply['errors'][0].get('message')}",
                                 "This is a bug in infra/stacks/dagster.py.")
        return dict(reply["data"])

