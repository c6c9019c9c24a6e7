"""`orchbench bench`: run the chosen scenarios under one plan, write one result file.

Scenarios run one after another, never in parallel: on a 2-core machine two
measurements at once would measure each other. Every container a benchmark
starts carries one session label, so at the end a sweep proves none was left
behind (and removes any, saying so in the results' notes).
"""

from __future__ import annotations

import datetime as dt
import importlib
import os
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks import environment, results
from benchmarks.plan import Bench, Plan
from core.errors import OrchbenchError


@dataclass(frozen=True)
class Scenario:
    """A scenario names its module and functions; the module is imported only when
    the scenario is chosen (`--scenario chain` loads nothing of the failure matrix)."""

    name: str
    doc: str
    module: str
    run_name: str
    units_name: str

    def _function(self, attr: str) -> Callable[..., Any]:
        return getattr(importlib.import_module(f"benchmarks.{self.module}"), attr)

    def units(self, plan: Plan) -> int:
        return int(self._function(self.units_name)(plan))

    def run(self, bench: Bench) -> None:
        self._function(self.run_name)(bench)

    def describe(self, plan: Plan) -> str | None:
        """What the scenario will run under this plan, in a line, if its module says
        (a `describe(plan)` function: served lists its stacks × layouts × variants)."""
        describe = getattr(importlib.import_module(f"benchmarks.{self.module}"), "describe",
                           None)
        return describe(plan) if describe is not None else None


SCENARIOS: dict[str, Scenario] = {s.name: s for s in [
    Scenario("setup", "wrapper code, environments, install time", "setup_effort", "run",
             "units"),
    Scenario("load", "definition load: flow import, DAG parse, Definitions load", "latency",
             "definition_load", "definition_load_units"),
    Scenario("chain", "per-task overhead: chains of N no-op tasks", "latency", "chain",
             "chain_units"),
    Scenario("fanout", "N parallel tasks", "latency", "fanout", "fanout_units"),
    Scenario("container", "a raw `docker run` (the baseline of container steps)", "latency",
             "container", "container_units"),
    Scenario("pipeline", "the real pipeline, first and later run, step by step", "pipeline",
             "run", "units"),
    Scenario("served", "UI stacks: start, memory, served runs, a killed worker", "served",
             "run", "units"),
    Scenario("failure", "six failure scenarios through each driver", "failure", "failure",
             "units"),
    Scenario("policy", "does the warm/cold policy pay? three policies on the same real days",
             "policy", "run", "units"),
]}


def run_suite(plan: Plan, out: Path, command: str, log: Callable[[str], None]) -> Path:
    chosen = SCENARIOS
    unknown = [s for s in plan.scenarios if s not in chosen]
    if unknown:
        raise OrchbenchError(f"Unknown scenario(s): {', '.join(unknown)}.",
                             f"Choose from: {', '.join(chosen)}.")
    _check_ready(plan)
    os.environ.setdefault("ORCHBENCH_SESSION", f"bench-{uuid.uuid4().hex[:8]}")
    result_set = results.ResultSet(
        mode=plan.mode, command=command,
        started=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        environment=environment.capture(), settings=plan.to_dict())
    work = Path(tempfile.mkdtemp(prefix="orchbench-bench-"))
    todo = [chosen[name] for name in plan.scenarios]
    total = sum(s.units(plan) for s in todo)
    for scenario in todo:  # the plan up front: what the next hour(s) will be spent on
        line = scenario.describe(plan)
        if line:
            log(f"plan: {line}")
    started = time.perf_counter()
    try:
        with _progress(total, log) as advance:
            bench = Bench(plan, result_set, work, log=log, advance=advance)
            for scenario in todo:
                log(f"── {scenario.name}: {scenario.doc}")
                begun = time.perf_counter()
                scenario.run(bench)
                result_set.notes.append(
                    f"timing: scenario {scenario.name} took {time.perf_counter() - begun:.0f} s")
                results.save(result_set.summarise(), out)  # a partial file survives a crash
    finally:
        left = _sweep()
        if left:
            result_set.notes.append(f"{left} container(s) of this benchmark were still there at "
                                    "the end and were removed")
        shutil.rmtree(work, ignore_errors=True)
    result_set.ended = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    result_set.notes.append(f"timing: the whole run took {time.perf_counter() - started:.0f} s")
    return results.save(result_set.summarise(), out)


def _check_ready(plan: Plan) -> None:
    """Fail before measuring anything if an environment or image is missing."""
    from infra.envs import ENVS
    from infra.images import missing_images

    for name in plan.orchestrators:
        if not ENVS[name].python.exists():
            raise OrchbenchError(f"The {name} environment is missing.",
                                 "Run `orchbench setup` first (it takes a few minutes once).")
    missing = missing_images()
    if missing:
        raise OrchbenchError(f"The workload images {', '.join(missing)} are not built.",
                             "Run `orchbench images build` (offline, a few minutes once).")


def _sweep() -> int:
    from core.runner import sweep

    return sweep(session=os.environ["ORCHBENCH_SESSION"])


class _progress:
    """A progress bar on a terminal; one line per unit of work otherwise (CI logs)."""

    def __init__(self, total: int, log: Callable[[str], None]) -> None:
        self.total, self.log, self.done = total, log, 0
        self.started = time.perf_counter()
        self.bar = None
        if sys.stderr.isatty():
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self.bar = Progress(TextColumn("{task.description}"), BarColumn(),
                                MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn(),
                                transient=False)

    def __enter__(self) -> Callable[[str], None]:
        if self.bar is not None:
            self.bar.start()
            self.task = self.bar.add_task("starting", total=self.total)
        return self.advance

    def advance(self, label: str) -> None:
        self.done += 1
        if self.bar is not None:
            self.bar.update(self.task, advance=1, description=label[:60])
        else:
            elapsed = time.perf_counter() - self.started
            self.log(f"[{self.done}/{self.total} {elapsed:5.0f} s] {label}")

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()
