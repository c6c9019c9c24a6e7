"""Prefect's local stack: `prefect server start` plus the pipeline served as a deployment.

Two processes, as a Prefect user runs them: the API server and UI (one process,
SQLite under `<home>/orchestrators/prefect/`, the same PREFECT_HOME the driver's
temporary server uses, so the driver's runs show here too), and
`python -m prefect_impl.deploy`, which registers the deployment and polls the API
for runs to start (`serve`). The serve process starts each flow run in a
subprocess of its own (`python -m prefect.engine`): that subprocess executes the steps.

Facts from Prefect 3.9's source that decide the figures (see `knobs`):
- a served flow learns of a new run only by polling, every
  `PREFECT_RUNNER_POLL_FREQUENCY` seconds (10 by default, an int: 1 is the floor);
- a flow-run subprocess that dies is noticed at once by its serve process, which
  proposes Crashed (runner/_flow_run_executor.py, step 7). If the serve process
  itself dies, nothing on the server notices unless an automation expects the
  flow run's heartbeats (`PREFECT_FLOWS_HEARTBEAT_FREQUENCY`, 180 s by default,
  30 s minimum); the server ships no such automation, so "detect" creates one.
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
from core.names import DEPLOYMENT_NAME, PIPELINE_NAME
from infra.envs import ENVS
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
FINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}
POLL_DEFAULT_S = 10  # RunnerSettings.poll_frequency
HEARTBEAT_DEFAULT_S = 180  # FlowsSettings.heartbeat_frequency
HEARTBEAT_MIN_S = 30  # flow_engine.MINIMUM_HEARTBEAT_INTERVAL
RETRY_CODES = {429, 502, 503}
ZOMBIE_AUTOMATION = "orchbench: crash flow runs whose heartbeats stop"


class PrefectStack(Stack):
    name = "prefect"
    default_port = 4200
    login = None  # the open-source server has no login

    # ---- what to start
    def commands(self, s: StackSettings) -> list[Command]:
        prefect_cli = str(ENVS["prefect"].path / "bin" / "prefect")
        return [
            Command("server", [prefect_cli, "server", "start", "--host", s.host,
                               "--port", str(s.port)]),
            # Started at once beside the server, as a user would; it waits for the API
            # (a Prefect client gives up at once on a server it never reached).
            Command("serve", [self.python(), "-m", "prefect_impl.deploy", "--config",
                              str(s.config), "--home", str(s.home), "--wait-for-api", "300"]),
        ]

    def environment(self, s: StackSettings) -> dict[str, str]:
        env = super().environment(s)
        env.pop("PREFECT_API_KEY", None)
        env.update(PREFECT_HOME=str(self.prefect_home(s)),
                   PREFECT_SERVER_ANALYTICS_ENABLED="false",  # offline: telemetry fails noisily
                   PREFECT_API_URL=self.api(s))
        return env

    def knobs(self, variant: str) -> dict[str, str]:
        """Trigger → first task is the runner's poll (a manual run is created
        Scheduled-for-now and waits for the next poll), then the spawn of the flow-run
        subprocess (a fresh interpreter importing Prefect and the flow: seconds on
        2 cores, and no setting shortens it)."""
        if variant == "tuned":
            return {"PREFECT_RUNNER_POLL_FREQUENCY": "1"}
        return {"PREFECT_RUNNER_POLL_FREQUENCY": str(POLL_DEFAULT_S),
                "PREFECT_FLOWS_HEARTBEAT_FREQUENCY": str(HEARTBEAT_DEFAULT_S)}

    def detection_knobs(self) -> dict[str, str]:
        """Heartbeats as often as Prefect allows; `after_ready` adds the automation
        that turns their absence into Crashed (none exists by default)."""
        return {"PREFECT_FLOWS_HEARTBEAT_FREQUENCY": str(HEARTBEAT_MIN_S)}

    def prepare(self, s: StackSettings, log: Log) -> None:
        self.prefect_home(s).mkdir(parents=True, exist_ok=True)

    def config_files(self, s: StackSettings) -> list[Path]:
        """None: Prefect is configured by environment variables (PREFECT_HOME,
        PREFECT_API_URL); the deployment is Python (prefect_impl/deploy.py). The
        run config is orchbench's own."""
        return []

    # ---- readiness
    def ui_url(self, s: StackSettings) -> str:
        return f"http://{s.host}:{s.port}"

    def ready(self, s: StackSettings) -> bool:
        """The API answers and this stack's serve process serves the deployment: it
        re-registers it on start (`updated`), then polls for its runs (`last_polled`;
        Prefect says READY). A READY left by an earlier serve process that polled
        within the last minute does not count."""
        if not answers(f"{self.api(s)}/health"):
            return False
        found = self.deployment(s, attempts=1)
        return (found is not None and found.get("status") == "READY"
                and bool(found.get("last_polled"))
                and epoch(found["last_polled"]) >= epoch(found["updated"]))

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

    def step_processes(self, running: RunningStack, run_id: str) -> list[psutil.Process]:
        """The serve process's flow-run subprocess for this run: `python -m
        prefect.engine`, started with PREFECT__FLOW_RUN_ID=<run id> in its
        environment (runner/_starter_engine.py); its command line does not name it."""
        serve = next((proc for role, proc in running.roots if role == "serve"), None)
        if serve is None:
            return []
        found = []
        with contextlib.suppress(psutil.Error):
            for child in psutil.Process(serve.pid).children(recursive=True):
                with contextlib.suppress(psutil.Error):
                    if child.environ().get("PREFECT__FLOW_RUN_ID") == run_id:
                        found.append(child)
        return found

    # ---- Prefect specifics
    def prefect_home(self, s: StackSettings) -> Path:
        return s.state_dir / "prefect"  # prefect_impl/run.py use_prefect_home

    def api(self, s: StackSettings) -> str:
        return f"http://{s.host}:{s.port}/api"

    def deployment(self, s: StackSettings, attempts: int = 6) -> dict[str, Any] | None:
        try:
            return call("GET", f"{self.api(s)}/deployments/name/{FLOW}/{DEPLOYMENT}",
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
