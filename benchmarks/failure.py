"""The failure matrix: six ways a run goes wrong, through all four implementations.

Every run is `orchbench run -o NAME --date D --config HOME/config.json` in a
subprocess, the path a user takes, on a private copy of one small history
(benchmarks/fixtures.py), so runs never see each other's lake, models or
orchestrator metadata. The failing step is `transform`, the first container step,
so failures come early and cheaply. Per (scenario, implementation) one
FailureCase records what the implementation itself reported, how long it took to
get there, the attempts of the failing step, the containers it left behind, and
whether the lake and the current model survived untouched.

`killed` is the one where the implementations can differ most: the process that
executes the steps is SIGKILLed while the transform container hangs. In this
local mode no server or scheduler outlives it, so the question is whether the
orchestrator's own record (its SQLite metadata, read directly and read-only)
ever reaches a final state, and what is left running.

The scenarios are core/faults.py's catalogue (shared with the workshop's
exercises), under the benchmark's names, with the benchmark's step policies.
What a run reports is read as data: the failing step's StepError (core/errors.py,
in the uniform result's StepResult.failure), never parsed back out of its text.

Runs in .venv and imports no orchestrator: it reads their SQLite files with the
standard library's sqlite3.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.fixtures import CONFIG_FILE, bench_day, fresh_home, home_config, run_command
from benchmarks.plan import Bench, Plan
from benchmarks.results import FailureCase
from core import faults
from core.config import Config, StepPolicy, load_config, save_config
from core.docker_client import docker_client
from core.errors import StepError
from core.models import ModelStore
from core.names import BASELINES, ORCHESTRATORS
from core.protocol import entry_module
from core.registry import CONTAINER_STEPS
from core.result import duration_s, step_failure
from core.runner import LABEL_SESSION, LABEL_STEP, sweep
from infra import process
from infra.envs import ROOT

VARIANT = "local"
STEP = CONTAINER_STEPS[0]  # the failing step: the first container step (transform)
TIMEOUT_S = 10.0  # container steps: a hang is cut after this
RETRIES = 1
RETRY_DELAY_S = 0.5
KILLED_TIMEOUT_S = 600.0  # long, so only the kill can end the hung step
RUN_TIMEOUT_S = 900.0  # a run that takes longer is a broken benchmark, not a data point
CONTAINER_WAIT_S = 300.0  # how long `killed` waits for the transform container to start

# The benchmark's scenarios: core/faults.py's catalogue under the benchmark's names
# (report and tests use them), at the failing step STEP and with the hang cut at
# TIMEOUT_S. The step policies of every step are scenario_config's.
SCENARIOS: dict[str, faults.FaultScenario] = {
    "transient": faults.TRANSIENT.on(STEP),
    "always_fails": faults.ALWAYS_FAILS.on(STEP),
    "hang": faults.HANG.on(STEP, retries=RETRIES, retry_delay_s=RETRY_DELAY_S,
                           timeout_s=TIMEOUT_S),
    "killed": faults.KILLED.on(STEP, timeout_s=KILLED_TIMEOUT_S),
    "bad_input": faults.BROKEN_FILE,
    "docker_down": faults.DOCKER_DOWN.on(STEP),
}

EXPECTED = {
    "transient": "retries the failed transform once: run succeeds, transform attempts 2",
    "always_fails": f"retries once, then fails the run: transform attempts {RETRIES + 1}, "
                    "later steps not run",
    "hang": f"runner's {TIMEOUT_S:g} s timeout kills the container, retried once: failed, "
            f"attempts {RETRIES + 1}, final after about {(RETRIES + 1) * TIMEOUT_S:g} s + overhead",
    "killed": "the executing process is SIGKILLed mid-transform: its record should reach a "
              "failed/crashed state; the orphaned container must be swept",
    "bad_input": "ingest fails on a non-CSV file without retrying (not retryable): "
                 "failed, ingest attempts 1, nothing written for the date",
    "docker_down": "transform fails at once with a 'Docker is not reachable' message, "
                   "not retried: failed, attempts 1, no container",
}

FINAL_FAILED = {"failed", "crashed", "failure", "canceled", "cancelled", "upstream_failed"}
FINAL_OK = {"completed", "success"}


@dataclass
class Outcome:
    """One repetition of one (scenario, implementation)."""

    noticed: bool
    final_state: str
    seconds: float
    attempts: int | None
    containers_left: int
    lake_intact: bool
    model_intact: bool
    detail: str
    error: StepError | None = None  # the failing step's, as the implementation reported it


# ------------------------------------------------------------------------ entry points
def implementations(plan: Plan) -> list[str]:
    return [BASELINES[0], *(n for n in plan.orchestrators if n in ORCHESTRATORS)]


def units(plan: Plan) -> int:
    return len(SCENARIOS) * len(implementations(plan)) * plan.failure_reps


def failure(bench: Bench) -> None:
    """Append one FailureCase per (scenario, implementation); leave no container behind."""
    matrix(bench, [(s, n) for s in SCENARIOS for n in implementations(bench.plan)])


def matrix(bench: Bench, cases: list[tuple[str, str]]) -> None:
    """The given (scenario, implementation) cases, in order, each `failure_reps` times.

    Each repetition's containers carry their own session label, recorded in
    bench.cache["failure_sessions"], so a caller can check that none survived.
    """
    client = docker_client()
    prefix = f"{os.environ.get('ORCHBENCH_SESSION') or 'bench'}-fail-{uuid.uuid4().hex[:6]}"
    sessions: list[str] = bench.cache.setdefault("failure_sessions", [])
    try:
        for scenario, name in cases:
            outcomes = []
            for rep in range(bench.plan.failure_reps):
                label = f"failure-{scenario}-{name}-{rep}"
                session = f"{prefix}-{scenario}-{name}-{rep}"
                sessions.append(session)
                outcomes.append(_measure(bench, client, scenario, name, label, session))
                bench.advance(f"failure: {scenario} {name} "
                              f"({rep + 1}/{bench.plan.failure_reps})")
            bench.results.failures.append(_case(scenario, name, outcomes))
    finally:
        for session in sessions:
            sweep(session=session, client=client)
        client.close()


def _measure(bench: Bench, client: Any, scenario: str, name: str, label: str,
             session: str) -> Outcome:
    """One repetition; a broken measurement is recorded as such, never aborts the matrix."""
    try:
        # The matrix measures failure handling, not a first start: Prefect's homes come
        # with its database migrated (about 6 s a case otherwise: drivers.prepare_metadata).
        home = fresh_home(bench, label, metadata_of=name)
        cfg = scenario_config(home_config(home), scenario, home, bench_day(bench))
        save_config(cfg, home / CONFIG_FILE)
        if scenario == "killed":
            return _killed(bench, client, name, home, session, label)
        return _plain(bench, client, scenario, name, home, session, label)
    except Exception as exc:  # the benchmark's own failure: keep it visible in the matrix
        bench.log(f"failure: {scenario} {name}: measurement broke: {exc!r}")
        return Outcome(False, "error", 0.0, None, _count(client, session), False, False,
                       f"measurement broke: {type(exc).__name__}: {_head(str(exc))}")
    finally:
        sweep(session=session, client=client)


# ----------------------------------------------------------------------------- configs
def scenario_config(cfg: Config, scenario: str, home: Path, day: str) -> Config:
    """The history's config with the bench's step policies and the scenario's fault
    (SCENARIOS[scenario].apply: core/faults.py)."""
    # Only the hang is cut at TIMEOUT_S: a real dbt run takes 4 s on an idle machine but
    # passed 10 s on these shared 2 cores (load 20), which would turn every healthy
    # attempt into a timeout and measure the machine instead of the orchestrator.
    steps = {name: StepPolicy(retries=RETRIES, retry_delay_s=RETRY_DELAY_S, timeout_s=120.0)
             for name in cfg.steps}
    cfg = dataclasses.replace(cfg, home=home, steps=steps)
    return SCENARIOS[scenario].apply(cfg, day, home)


# ------------------------------------------------------------------------ plain runs
def _environment(session: str, scenario: str) -> dict[str, str]:
    # docker_down's environment: a socket nobody listens on.
    return process.clean_environment({"ORCHBENCH_SESSION": session,
                                      **SCENARIOS[scenario].environment},
                                     drop=("ORCHBENCH_HOME",))


def _plain(bench: Bench, client: Any, scenario: str, name: str, home: Path, session: str,
           label: str) -> Outcome:
    """Run to the end; judge the result the CLI printed and what the run left behind."""
    day = bench_day(bench)
    lake_before, model_before = _lake_snapshot(home), _model_bytes(home)
    started = time.monotonic()
    done = subprocess.run(run_command(name, home, day), cwd=ROOT,
                          env=_environment(session, scenario),
                          capture_output=True, text=True, timeout=RUN_TIMEOUT_S, check=False)
    seconds = time.monotonic() - started
    _keep_log(bench, label, done.stdout, done.stderr)
    left = _count(client, session)
    try:
        result = json.loads(done.stdout)
    except json.JSONDecodeError:
        return Outcome(False, "error", seconds, None, left, _lake_intact(home, lake_before),
                       False, f"no result (exit {done.returncode}): {_head(done.stderr[-400:])}")
    status = str(result.get("status"))
    counted = SCENARIOS[scenario].step or STEP  # the step the scenario breaks (bad input: ingest)
    step = next((s for s in result.get("steps", []) if s["name"] == counted), {})
    attempts = int(step["attempts"]) if "attempts" in step else None
    want = "success" if scenario == "transient" else "failed"
    lake_ok, lake_note = _lake_check(home, lake_before, day, scenario)
    model_ok = _model_intact(home, model_before, succeeded=status == "success")
    failed = next((s for s in result.get("steps", []) if s.get("status") == "failed"), None)
    error = step_failure(failed) if failed else None
    if status == "success":
        version = (result.get("metrics") or {}).get("version")
        detail = f"succeeded; {STEP} attempts {attempts}; model {version}"
    elif failed is not None and error is not None:
        detail = summary(failed["name"], error, home)
    else:  # no step failed (the run failed before any), or a result without `failure`
        detail = _head(str(result.get("error") or "failed without an error message")
                       .replace(str(home), "HOME"))
    span = _span(step)
    if span is not None:
        detail += f"; {counted} recorded {attempts} attempt(s) over {span:.1f} s"
    if lake_note:
        detail += f"; {lake_note}"
    return Outcome(status == want, status, round(seconds, 3), attempts, left, lake_ok,
                   model_ok, detail, error)


def _span(step: dict[str, Any]) -> float | None:
    """Seconds from the step's first start to its end, as the implementation recorded them:
    the failure's own duration, without the orchestrator's start-up around it."""
    return duration_s(step.get("started"), step.get("ended"))


# ------------------------------------------------------------------------------ killed
def _killed(bench: Bench, client: Any, name: str, home: Path, session: str,
            label: str) -> Outcome:
    """SIGKILL the step-executing process mid-transform and watch the orchestrator's record."""
    day = bench_day(bench)
    lake_before, model_before = _lake_snapshot(home), _model_bytes(home)
    logs = bench.workdir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    with (logs / f"{label}.out").open("w") as out, (logs / f"{label}.err").open("w") as err:
        # Its own process group: whatever the killed process leaves (Prefect's
        # temporary server, say) can be ended afterwards with the run's tree.
        proc = process.spawn(run_command(name, home, day), cwd=ROOT,
                             env=_environment(session, "killed"), stdout=out, stderr=err)
        try:
            if not _wait_for_container(client, session, proc):
                raise RuntimeError(f"no running {STEP} container within {CONTAINER_WAIT_S:g} s "
                                   f"(exit {proc.poll()}); see {logs / label}.err")
            victim = proc.pid if name == "direct" else _driver_pid(proc.pid, name)
            os.kill(victim, signal.SIGKILL)
            killed_at = time.monotonic()
            state, seconds, task_state = _watch_record(name, home, killed_at,
                                                       bench.plan.local_kill_grace_s)
            left = _count(client, session)
            survivors = process.survivors(process.group(proc.pid))
        finally:
            process.stop_tree(proc, grace_s=0, sig=signal.SIGKILL)
    swept = sweep(session=session, client=client)
    remaining = _count(client, session)
    noticed = state in FINAL_FAILED
    detail = (f"killed pid {'CLI' if name == 'direct' else entry_module(name)}; record "
              f"{state}" + (f" (transform task {task_state})" if task_state else "")
              + f" after {bench.plan.local_kill_grace_s:g} s grace; still running after the grace: "
              f"{', '.join(survivors) or 'nothing'}; swept {swept} container(s), {remaining} left")
    lake_ok, lake_note = _lake_check(home, lake_before, day, "killed")
    if lake_note:
        detail += f"; {lake_note}"
    return Outcome(noticed, state, round(seconds, 3), _fault_attempts(home), left, lake_ok,
                   _model_intact(home, model_before, succeeded=False), detail)


def _wait_for_container(client: Any, session: str, proc: subprocess.Popen) -> bool:
    deadline = time.monotonic() + CONTAINER_WAIT_S
    filters = {"label": [f"{LABEL_SESSION}={session}", f"{LABEL_STEP}={STEP}"],
               "status": "running"}
    while time.monotonic() < deadline and proc.poll() is None:
        if client.api.containers(quiet=True, filters=filters):
            return True
        time.sleep(0.2)
    return False


def _driver_pid(cli_pid: int, name: str) -> int:
    """The `<name>_impl.run` child of the CLI: the process that executes the steps."""
    wanted = entry_module(name)
    found = process.find_descendant(cli_pid, wanted)
    if found is None:
        raise RuntimeError(f"no {wanted} process under the CLI (pid {cli_pid})")
    return int(found.pid)


def _watch_record(name: str, home: Path, since: float,
                  grace_s: float) -> tuple[str, float, str | None]:
    """(state, seconds from the kill to a final state or the grace, transform task state)."""
    state, task_state = "none", None
    while True:
        if name != "direct":
            state, task_state = read_record(name, home)
        elapsed = time.monotonic() - since
        if state in FINAL_FAILED | FINAL_OK:
            return state, elapsed, task_state
        if elapsed >= grace_s:
            return state, grace_s, task_state
        time.sleep(0.5)


def read_record(name: str, home: Path) -> tuple[str, str | None]:
    """The newest run's state and its transform task's state, from the orchestrator's own
    SQLite metadata, opened read-only (no server is left to ask in local mode)."""
    base = home / "orchestrators" / name
    queries = {
        "prefect": (base / "prefect.db",
                    "SELECT state_type FROM flow_run ORDER BY created DESC LIMIT 1",
                    "SELECT state_type FROM task_run WHERE name = 'transform' "
                    "ORDER BY created DESC LIMIT 1"),
        "airflow": (base / "airflow.db",
                    "SELECT state FROM dag_run ORDER BY id DESC LIMIT 1",
                    "SELECT state FROM task_instance WHERE task_id = 'transform' "
                    "ORDER BY start_date DESC LIMIT 1"),
        "dagster": (base / "history" / "runs.db",
                    "SELECT status FROM runs ORDER BY id DESC LIMIT 1", None),
    }
    db, run_sql, task_sql = queries[name]
    if not db.exists():
        return "no record", None
    try:
        with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True,
                                                timeout=2)) as conn:
            row = conn.execute(run_sql).fetchone()
            task = conn.execute(task_sql).fetchone() if task_sql else None
    except sqlite3.Error as exc:
        return f"unreadable ({exc})", None
    state = str(row[0]).lower() if row and row[0] is not None else "no record"
    return state, (str(task[0]).lower() if task and task[0] is not None else None)


def _fault_attempts(home: Path) -> int | None:
    """Transform containers started, as the fault prologue counted them in its mounted file."""
    counts = [int(f.read_text().strip() or 0) for f in home.glob(f"faults/*/{STEP}/attempts")]
    return sum(counts) if counts else None


# ------------------------------------------------------------------ lake and model checks
def _lake_snapshot(home: Path) -> dict[str, str]:
    lake = home / "lake"
    return {str(p.relative_to(lake)): _sha256(p) for p in sorted(lake.rglob("*")) if p.is_file()}


def _lake_leftovers(home: Path) -> list[str]:
    """Temporary or partial files: atomic writes' hidden *.tmp names, staging folders."""
    lake = home / "lake"
    return [str(p.relative_to(lake)) for p in lake.rglob("*") if p.is_file() and (
        p.name.endswith(".tmp") or any(part.startswith(".")
                                       for part in p.relative_to(lake).parts))]


def _lake_intact(home: Path, before: dict[str, str]) -> bool:
    lake = home / "lake"
    return all((lake / rel).is_file() and _sha256(lake / rel) == digest
               for rel, digest in before.items()) and not _lake_leftovers(home)


def _lake_check(home: Path, before: dict[str, str], day: str, scenario: str) -> tuple[bool, str]:
    """Whether the lake survived, and a note on what the run wrote for the failed date."""
    intact = _lake_intact(home, before)
    notes = []
    leftovers = _lake_leftovers(home)
    if leftovers:
        notes.append(f"left in the lake: {', '.join(leftovers[:3])}")
    changed = [rel for rel, digest in before.items()
               if not (home / "lake" / rel).is_file() or _sha256(home / "lake" / rel) != digest]
    if changed:
        notes.append(f"changed: {', '.join(changed[:3])}")
    if scenario == "bad_input":
        written = sorted(rel for rel in _lake_snapshot(home) if rel not in before
                         and day in rel and not rel.startswith("landing"))
        if written:
            notes.append(f"written for {day}: {', '.join(written)}")
    staging = home / "lake" / ".staging"
    if staging.is_dir() and any(staging.iterdir()):
        notes.append("an (empty) staging folder remains under lake/.staging")
    return intact, "; ".join(notes)


def _model_bytes(home: Path) -> str | None:
    """The current model: the version the registry's alias names (core/models.py), or None."""
    store = _store(home)
    if store is None:
        return None
    current = store.current()
    return current.version if current else None


def _model_intact(home: Path, before: str | None, *, succeeded: bool) -> bool:
    """Failed: the alias names the version it named before. Succeeded: it names a version
    whose files exist (the bundle, its meta.json and the MLflow model)."""
    store = _store(home)
    current = store.current() if store else None
    if not succeeded:
        return (current.version if current else None) == before
    return current is not None and all(
        f.exists() for f in (current.model_file, current.path / "meta.json",
                             current.mlflow_model / "MLmodel"))


def _store(home: Path) -> ModelStore | None:
    """The home's model store (core/models.py), or None if the home has no config."""
    if not (home / CONFIG_FILE).is_file():
        return None
    return ModelStore.of(dataclasses.replace(load_config(home / CONFIG_FILE), home=home))


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ------------------------------------------------- the same checks, for served-mode kills
Snapshot = tuple[dict[str, str], str | None]


def snapshot(home: Path) -> Snapshot:
    """The lake's files and the current model, before a run that may fail."""
    return _lake_snapshot(home), _model_bytes(home)


def verify(before: Snapshot, home: Path, *, succeeded: bool) -> tuple[bool, bool]:
    """(lake intact, model intact) after the run, by the rules above."""
    lake, model = before
    return _lake_intact(home, lake), _model_intact(home, model, succeeded=succeeded)


def count_containers(session: str, step: str | None = None) -> int:
    client = docker_client()
    try:
        return _count(client, session, step)
    finally:
        client.close()


# ----------------------------------------------------------------------------- helpers
def _count(client: Any, session: str, step: str | None = None) -> int:
    """Containers (running or exited) carrying the run's session label (and step)."""
    labels = [f"{LABEL_SESSION}={session}"] + ([f"{LABEL_STEP}={step}"] if step else [])
    return len(client.api.containers(all=True, quiet=True, filters={"label": labels}))


def _keep_log(bench: Bench, label: str, stdout: str, stderr: str) -> None:
    logs = bench.workdir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    (logs / f"{label}.out").write_text(stdout)
    (logs / f"{label}.err").write_text(stderr)


def summary(step: str, error: StepError, home: Path) -> str:
    """One line from a failed step's StepError (core/errors.py), for the report's
    `detail`: a container's outcome and last log line, or the error's text.

    "transform: container exited with code 3; last log: …"
    "transform: container did not finish within 10 s and was killed and removed; last log: …"
    "ingest: HOME/broken-input/D.csv is not a UTF-8 text file, so …" (first line, ≤200)
    """
    outcome = error.outcome
    if outcome is not None:
        last = next((line.strip() for line in reversed(error.log_tail or []) if line.strip()),
                    "(no output)")
        return f"{step}: container {outcome}; last log: {last.replace(str(home), 'HOME')[:120]}"
    return _head(f"{step}: {error.text}".replace(str(home), "HOME"))


def _head(text: str, limit: int = 200) -> str:
    line = next((s.strip() for s in text.splitlines() if s.strip()), "")
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _case(scenario: str, name: str, outcomes: list[Outcome]) -> FailureCase:
    """Fold the repetitions: every one must be right for the case to count as noticed."""
    states = sorted({o.final_state for o in outcomes})
    attempts = {o.attempts for o in outcomes}
    details = list(dict.fromkeys(o.detail for o in outcomes))
    if len(attempts) > 1:
        details.append(f"attempts differed between repetitions: {sorted(attempts, key=str)}")
    known = [a for a in attempts if a is not None]
    errors = [o.error for o in outcomes if o.error is not None]
    codes = {e.exit_code for e in errors if e.exit_code is not None}
    return FailureCase(
        scenario=scenario, orchestrator=name, variant=VARIANT, expected=EXPECTED[scenario],
        noticed=all(o.noticed for o in outcomes), final_state="|".join(states),
        seconds_to_final=[o.seconds for o in outcomes],
        attempts=max(known) if known else None,
        containers_left=max(o.containers_left for o in outcomes),
        lake_intact=all(o.lake_intact for o in outcomes),
        model_intact=all(o.model_intact for o in outcomes),
        detail=" / ".join(details),
        error_kind="|".join(sorted({e.kind for e in errors})) or None,
        exit_code=codes.pop() if len(codes) == 1 else None)
