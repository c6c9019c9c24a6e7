"""The real pipeline, step by step: each implementation against the direct baseline.

Every implementation runs the same two dates on its own copy of one prepared
history, through the command a user types (`orchbench run -o NAME`), so the wall
time includes what a user waits for: interpreter, imports, the orchestrator's
start-up and bookkeeping. The per-step times are the orchestrator's own records
(core/result.py), so "wall − steps" is the orchestrator's overhead, and the
*first* run on a fresh home (metadata database created, migrations run) is
reported apart from a *later* one.

Implementations run interleaved (A B C D, then D C B A, …) so that a change in
the machine's load hits all of them alike. The model versions they produce must
be identical (training is deterministic): a mismatch is recorded as a note and
fails the benchmark's test, since a faster but different pipeline is no result.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import time
from pathlib import Path
from typing import Any

from benchmarks.fixtures import bench_day, fresh_home, run_command
from benchmarks.plan import Bench, Plan
from benchmarks.results import Figure, Timeline, key
from infra.envs import ROOT
from infra.process import clean_environment

# (orchestrator, variant, extra environment)
IMPLEMENTATIONS: list[tuple[str, str, dict[str, str]]] = [
    ("direct", "", {}),
    ("prefect", "default", {}),
    ("airflow", "default", {}),
    ("dagster", "in_process", {"ORCHBENCH_DAGSTER_EXECUTOR": "in_process"}),
    ("dagster", "multiprocess", {"ORCHBENCH_DAGSTER_EXECUTOR": "multiprocess"}),
]

KNOBS = {
    "direct": {"executor": "a Python loop", "metadata": "none"},
    "prefect": {"api": "ephemeral (temporary server per run)", "metadata": "SQLite",
                "task_runner": "tasks called in sequence in the flow"},
    "airflow": {"mode": "dag.test() (in-process, no scheduler)", "metadata": "SQLite"},
    "dagster": {"mode": "execute_job", "metadata": "SQLite (DagsterInstance)"},
}


def implementations(plan: Plan) -> list[tuple[str, str, dict[str, str]]]:
    return [i for i in IMPLEMENTATIONS
            if (i[0] == "direct" or i[0] in plan.orchestrators) and plan.measures(i[0], i[1])]


def units(plan: Plan) -> int:
    return plan.pipeline_reps * len(implementations(plan))


def run_cli(name: str, home: Path, day: str, extra_env: dict[str, str],
            timeout_s: float = 900) -> tuple[float, float, dict[str, Any]]:
    """`orchbench run -o NAME --date DAY` as a user runs it: (start epoch, wall s, result)."""
    env = clean_environment(extra_env, drop=("ORCHBENCH_HOME",))
    command = run_command(name, home, day)
    epoch = time.time()
    started = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=timeout_s, check=False)
    wall = time.perf_counter() - started
    try:
        result = json.loads(done.stdout)
    except json.JSONDecodeError:
        raise RuntimeError(f"`{' '.join(command)}` exited {done.returncode} without a result:\n"
                           f"{done.stderr[-2000:]}") from None
    return epoch, wall, result


def _epoch(stamp: str | None) -> float | None:
    return dt.datetime.fromisoformat(stamp).timestamp() if stamp else None


def steps_seconds(result: dict[str, Any]) -> float:
    """Sum of the recorded step durations (first start to last end of each step)."""
    total = 0.0
    for s in result["steps"]:
        start, end = _epoch(s.get("started")), _epoch(s.get("ended"))
        if start is not None and end is not None:
            total += end - start
    return total


def timeline(name: str, variant: str, run: str, epoch: float, wall: float,
             result: dict[str, Any]) -> Timeline:
    def offset(stamp: str | None) -> float | None:
        moment = _epoch(stamp)
        return None if moment is None else round(moment - epoch, 3)

    return Timeline(name, variant, run, round(wall, 3), [
        {"name": s["name"], "status": s["status"], "attempts": s["attempts"],
         "queued": offset(s.get("queued")), "started": offset(s.get("started")),
         "ended": offset(s.get("ended"))} for s in result["steps"]])


def run(bench: Bench) -> None:
    impls = implementations(bench.plan)
    first_day = bench_day(bench, 0)
    later_day = bench_day(bench, 1)
    samples: dict[tuple[str, str, str], list[float]] = {}
    versions: dict[tuple[str, str], list[str]] = {}
    for rep in range(bench.plan.pipeline_reps):
        order = impls if rep % 2 == 0 else list(reversed(impls))
        for name, variant, extra in order:
            home = fresh_home(bench, f"pipeline-{name}-{variant or 'plain'}-{rep}")
            outcomes = []
            for run_name, day in (("first", first_day), ("later", later_day)):
                epoch, wall, result = run_cli(name, home, day, extra)
                if result.get("status") != "success":
                    raise RuntimeError(f"{name} {variant} {day} failed: {result.get('error')}")
                outcomes.append((run_name, epoch, wall, result))
            for run_name, epoch, wall, result in outcomes:
                steps = steps_seconds(result)
                add = samples.setdefault
                add((name, variant, f"{run_name}_wall_s"), []).append(wall)
                if run_name == "later":
                    add((name, variant, "later_steps_s"), []).append(steps)
                    add((name, variant, "overhead_s"), []).append(wall - steps)
                if rep == 0:
                    bench.results.timelines.append(
                        timeline(name, variant, run_name, epoch, wall, result))
                versions.setdefault((name, variant), []).append(
                    (result.get("metrics") or {}).get("version", "?"))
            bench.advance(f"pipeline: {name} {variant} ({rep + 1}/{bench.plan.pipeline_reps})")
    for (name, variant, metric), values in samples.items():
        bench.results.figures.append(Figure(
            "latency", "pipeline", name, metric, "s", values, variant=variant,
            baseline=None if name == "direct" else key("pipeline", "direct", "", metric),
            knobs={**KNOBS[name], **({"executor": variant} if name == "dagster" else {})}))
    reference = versions.get(("direct", ""))
    for impl, got in versions.items():
        if reference and got != reference:
            bench.results.notes.append(
                f"parity: {impl[0]} {impl[1]} produced model versions {got}, direct {reference}")
    bench.cache["pipeline_versions"] = {f"{n}/{v}": got for (n, v), got in versions.items()}
