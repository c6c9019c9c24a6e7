"""The orchestrators as a user deploys them locally: their UI stack, served runs, a dead worker.

For each orchestrator, and each of its layouts the plan asks for (Plan.served_backends,
where the stack has it: infra/stacks BACKENDS; "sqlite" is the development layout,
"postgres" the production one, "celery" Airflow's distributed one), its stack
(infra/stacks) is started on a fresh copy of the prepared history, once per variant:
as installed ("default"), and with the settings a user tuning for latency would
choose plus those that make it notice a dead worker quickly ("tuned"; each stack's
knobs() and detection_knobs() say which — they are recorded with every figure, the
backend among them). Every figure and the killed-worker case carry the backend. On
each start:

- setup effort (default start only): seconds until the UI answers and the
  pipeline can be triggered, idle memory of every process of the stack after it
  settles, its processes, listening ports and config files;
- served latency: pipeline runs triggered through the orchestrator's own API;
  lag from the trigger to the first task's recorded start, and to the run's end;
- a dead worker: a run whose transform container hangs is triggered, and once
  the container runs, the process executing the run's steps gets SIGKILL. Then:
  does the orchestrator's record reach a final state within the grace period,
  which state, how long after the kill, what containers stayed, are the lake and
  the current model intact;
- a backfill (default start only, on Plan.backfill_backends; benchmarks/backfill.py):
  right after the UI answers, so the home is still the history's copy, the first
  Plan.backfill_days dates through the orchestrator's own backfill mechanism, compared
  with the direct backfill of the same dates; the served runs take the dates after;
- scale (default start only; benchmarks/scale.py): Plan.scale_runs runs at once
  against the fan-out's run concurrency limit, then the fan-out curve
  (Plan.scale_fanout_sizes); last, after the killed worker, and the curve last of all,
  so that a size that passes its timeout (and runs on) leaves nothing behind it to
  measure.

A production layout's PostgreSQL cluster lives outside the home (as root, under
/var/lib/postgresql/orchbench/): it is removed once its stack stopped. A production
layout that fails to start or to run is a note in the results, and the next start
follows; the development layout failing still ends the scenario, as before backends.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import time
from pathlib import Path

import psutil

from benchmarks import backfill, scale
from benchmarks.failure import count_containers, snapshot, verify
from benchmarks.fixtures import bench_day, fresh_home
from benchmarks.plan import Bench, Plan
from benchmarks.repeat import Budget
from benchmarks.results import FailureCase, Figure
from core.config import Fault, load_config, save_config
from core.errors import OrchbenchError, problem_of
from core.models import ModelStore
from core.runner import sweep
from infra.services import remove_cluster
from infra.stacks import RunningStack, Stack, StackSettings, stack
from infra.stacks.base import SPAN, free_ports
from infra.tracking import RunningServer, start_tracking_ui

KILL_EXPECTED = ("the orchestrator marks the step (or the run) failed soon after its worker "
                 "dies, and its container is stopped")


def units(plan: Plan) -> int:
    starts = sum(_units_per_start(plan, v, b) for _, b in layouts(plan)
                 for v in plan.served_variants)
    direct = 1 if any(_backfills(plan, v, b) for _, b in layouts(plan)
                      for v in plan.served_variants) else 0
    return starts + direct + 1


def _units_per_start(plan: Plan, variant: str, backend: str) -> int:
    """The UI answers, the backfill, each served run, the killed worker; the scale
    curve's sizes."""
    scale_units = len(plan.scale_fanout_sizes) + (1 if plan.scale_runs else 0)
    return (2 + plan.served_triggers + (scale_units if _scales(variant) else 0)
            + (1 if _backfills(plan, variant, backend) else 0))


def _scales(variant: str) -> bool:
    """Whether a start measures the scale curve: the default one (as installed)."""
    return variant == "default"


def _backfills(plan: Plan, variant: str, backend: str) -> bool:
    """Whether a start measures the backfill: the default one, on the plan's layouts."""
    return variant == "default" and backend in plan.backfill_backends and plan.backfill_days > 0


def layouts(plan: Plan) -> list[tuple[str, str]]:
    """(orchestrator, backend) pairs the plan serves: its backends each stack supports,
    in the plan's order."""
    return [(name, backend) for name in plan.orchestrators
            for backend in plan.served_backends if backend in stack(name).backends]


def describe(plan: Plan) -> str:
    """The served plan in one line: which stacks on which layouts, variants, runs."""
    stacks = "; ".join(
        f"{name} on {', '.join(b for o, b in layouts(plan) if o == name) or 'no layout'}"
        for name in plan.orchestrators)
    return (f"served: {stacks}; variants {', '.join(plan.served_variants)}; "
            f"{plan.served_triggers} run(s) and a killed worker per start "
            f"({len(layouts(plan)) * len(plan.served_variants)} start(s)), then on the "
            f"default start fan-outs of {', '.join(map(str, plan.scale_fanout_sizes)) or 'no'}"
            f" task(s) and {plan.scale_runs} run(s) of {plan.scale_run_tasks} at once"
            + (f", and before its served runs, on {', '.join(plan.backfill_backends)}, a "
               f"backfill of {plan.backfill_days} date(s) (and direct's)"
               if plan.backfill_days and plan.backfill_backends else "")
            + "; then the MLflow UI")


def run(bench: Bench) -> None:
    served = layouts(bench.plan)
    missing = [f"{backend} for {name}" for name in bench.plan.orchestrators
               for backend in bench.plan.served_backends if (name, backend) not in served]
    if missing:
        bench.results.notes.append(f"served: layouts not measured (the stack has none): "
                                   f"{'; '.join(missing)}")
    for name, backend in served:
        for variant in bench.plan.served_variants:
            _one_layout(bench, stack(name), variant, backend)
    _mlflow_ui(bench)


def _mlflow_ui(bench: Bench) -> None:
    """The model store's UI beside the orchestrators' (issue 12): `orchbench mlflow`'s
    server, lean (infra/tracking.py), on a home whose store is created empty: its idle
    memory does not depend on the runs in it, and one of the seed projects complains of
    500 MB. Reported as the UI row "mlflow"."""
    home = fresh_home(bench, "served-mlflow")
    ModelStore.of(load_config(home / "config.json", home)).create()
    with start_tracking_ui(home, free_ports(1), log=lambda line: None) as server:
        ready = server.wait_ready()
        bench.advance(f"served: the MLflow UI answers after {ready:.1f} s")
        knobs = {"workers": "1", "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
        bench.results.figures += [
            Figure("setup", "ui", "mlflow", "ready_s", "s", [ready], variant="default",
                   knobs=knobs),
            *_idle_figures(bench, "mlflow", server, [], ""),
        ]


def _one_layout(bench: Bench, st: Stack, variant: str, backend: str) -> None:
    """One start of a stack on one layout. A production layout's failure becomes a note,
    and its remaining progress units are counted as skipped."""
    done = 0

    def advance(label: str) -> None:
        nonlocal done
        done += 1
        bench.advance(label)

    try:
        _one_stack(dataclasses.replace(bench, advance=advance), st, variant, backend)
    except Exception as err:  # not KeyboardInterrupt: Ctrl-C still ends the run
        if backend == "sqlite":
            raise
        problem = problem_of(err)
        bench.results.notes.append(f"served: {st.name} {variant} on {backend} failed, its "
                                   f"figures from then on are missing: "
                                   f"{problem.splitlines()[0]}")
        bench.log(f"served: {st.name} {variant} on {backend} failed: {problem}")
        for _ in range(_units_per_start(bench.plan, variant, backend) - done):
            bench.advance(f"served: {st.name} {variant} {backend} skipped")


def _one_stack(bench: Bench, st: Stack, variant: str, backend: str = "sqlite") -> None:
    home = fresh_home(bench, f"served-{st.name}-{backend}-{variant}")
    session = (f"{os.environ.get('ORCHBENCH_SESSION', 'bench')}-{st.name}-{backend}-"
               f"{variant}")
    scales = _scales(variant) and bool(bench.plan.scale_fanout_sizes or bench.plan.scale_runs)
    settings = StackSettings(home=home, config=home / "config.json", port=free_ports(SPAN),
                             variant=variant, session=session, backend=backend, scale=scales)
    label = settings.label(st.name)
    knobs = {**st.knobs(variant, backend), **(st.detection_knobs() if variant == "tuned" else {}),
             "backend": backend}
    try:
        running = st.start(settings, log=lambda line: None)
        try:
            ready = running.wait_ready(timeout_s=600, log=lambda line: None)
            bench.advance(f"served: {label} answers after {ready:.1f} s")
            figures = [Figure("setup", "ui", st.name, "ready_s", "s", [ready],
                              variant=variant, knobs=knobs, backend=backend)]
            if variant == "default":
                figures += _idle_figures(bench, st.name, running, st.config_files(settings),
                                         backend)
            bench.results.figures += figures
            # First, while the home is still the history's copy: identity with direct.
            first = (backfill.through_stack(bench, st, running, settings, knobs)
                     if _backfills(bench.plan, variant, backend) else 0)
            runs = _served_runs(bench, st, running, settings, knobs, first)
            # The next date: a date after a gap would fail in train (the pipeline's rule).
            bench.results.failures.append(
                _kill_worker(bench, st, running, settings, bench_day(bench, first + runs)))
            bench.advance(f"served: {label} worker killed")
            if scales:  # the runs at once first: a curve's size that times out runs on
                if bench.plan.scale_runs:
                    scale.concurrent_runs(bench, st, running, settings, knobs)
                scale.fanout_curve(bench, st, running, settings, knobs)
        finally:
            running.stop()
            sweep(session=session)
    finally:
        if backend != "sqlite":
            _remove_cluster(bench, home)


def _remove_cluster(bench: Bench, home: Path) -> None:
    """Delete the layout's PostgreSQL cluster (it lives outside the home); a cluster
    still running is a note, not an error hiding the stack's own."""
    try:
        remove_cluster(home)
    except OrchbenchError as err:
        bench.results.notes.append(f"served: {err.problem}")


def _idle_figures(bench: Bench, name: str, running: RunningStack | RunningServer,
                  files: list[Path], backend: str) -> list[Figure]:
    """Memory, processes, ports and config files of a started UI, once it settled;
    `backend` is the stack's layout ("" for the MLflow UI: not an orchestrator's)."""
    time.sleep(bench.plan.ui_settle_s)
    rss = []
    for _ in range(3):  # three readings a second apart: the spread shows it has settled
        time.sleep(1)
        rss.append(running.rss_bytes() / 2**20)
    described = running.describe()
    ports = running.listening_ports()
    return [
        Figure("setup", "ui", name, "idle_rss_mb", "MB", rss, variant="default", backend=backend,
               note=f"after {bench.plan.ui_settle_s:g} s idle; proportional set size (PSS) summed "
               "over the stack's processes (the key keeps its first name, rss)"),
        Figure("setup", "ui", name, "processes", "count", [float(len(described))],
               variant="default", backend=backend,
               note="; ".join(f"{p['name']} ({p['rss_mb']} MB)" for p in described)),
        Figure("setup", "ui", name, "ports", "count", [float(len(ports))], variant="default",
               backend=backend, note=", ".join(map(str, ports))),
        Figure("setup", "ui", name, "config_files", "count", [float(len(files))],
               variant="default", backend=backend,
               note=", ".join(p.name for p in files) or "none"),
    ]


def _served_runs(bench: Bench, st: Stack, running: RunningStack, s: StackSettings,
                 knobs: dict[str, str], first: int = 0) -> int:
    """The served runs, on consecutive dates from the `first`-th after the history (the
    backfill's took those before); how many were triggered (the killed worker's run
    takes the next date)."""
    label = s.label(st.name)
    lags: list[float] = []
    done: list[float] = []
    # served_triggers runs, then more while the plan asks for precision and the two
    # figures' medians are not precise yet (benchmarks/repeat.py); a run beyond
    # served_triggers reports no progress unit
    budget = Budget(bench.plan, reps=bench.plan.served_triggers)
    i = 0
    while budget.more(lags, done):
        day = bench_day(bench, first + i)
        triggered = time.time()
        run_id = st.trigger(s, day)
        status = budget.take(lambda r=run_id: running.wait_run(r, timeout_s=900))
        if not status.succeeded:
            budget.failed = True  # a stack whose runs fail gets no runs beyond the plan's
            bench.results.notes.append(
                f"served: {label} run of {day} ended {status.state} "
                f"(steps: {status.steps}); its times are left out")
        elif status.first_task_started is not None:
            lags.append(status.first_task_started - triggered)
            done.append((status.ended or time.time()) - triggered)
        if i < bench.plan.served_triggers:
            bench.advance(f"served: {label} run {i + 1}/{bench.plan.served_triggers}")
        i += 1
    if i > bench.plan.served_triggers:
        bench.log(f"served: {label}: {i} runs, repeated until precise or capped "
                  f"({budget.spent:.0f} s)")
    bench.results.figures += [
        Figure("latency", "served", st.name, "trigger_to_first_task_s", "s", lags,
               variant=s.variant, knobs=knobs, backend=s.backend),
        Figure("latency", "served", st.name, "trigger_to_done_s", "s", done,
               variant=s.variant, knobs=knobs, backend=s.backend),
    ]
    return i


def _kill_worker(bench: Bench, st: Stack, running: RunningStack,
                 s: StackSettings, day: str) -> FailureCase:
    """Trigger a run whose transform hangs, SIGKILL its worker mid-step, watch."""
    cfg = load_config(s.config)
    hang = dataclasses.replace(cfg, faults={"transform": Fault(hang_seconds=900)})
    config = save_config(hang, s.home / "kill-config.json")
    before = snapshot(s.home)
    run_id = st.trigger(s, day, config=config)
    deadline = time.time() + 300
    while not count_containers(s.session or "", "transform") and time.time() < deadline:
        time.sleep(0.2)
    victims = st.step_processes(running, run_id)
    killed_at = time.time()
    for proc in victims:
        with contextlib.suppress(psutil.Error):
            proc.send_signal(signal.SIGKILL)
    last, noticed_at = None, None
    while time.time() < killed_at + bench.plan.kill_grace_s:
        last = _quiet_status(st, s, run_id) or last
        if last is not None and (last.final or _failed(last.steps.get("transform", ""))):
            noticed_at = time.time()
            break
        time.sleep(0.25)
    left = count_containers(s.session or "", "transform")
    sweep(session=s.session or "")
    lake_ok, model_ok = verify(before, s.home, succeeded=False)
    noticed = noticed_at is not None and not (last and last.succeeded)
    state = "unknown" if last is None else (
        last.state if last.final else f"{last.state}, transform {last.steps.get('transform')}")
    return FailureCase(
        scenario="killed", orchestrator=st.name, variant=s.variant, expected=KILL_EXPECTED,
        noticed=noticed, final_state=state,
        seconds_to_final=[round(noticed_at - killed_at, 1)] if noticed_at else [],
        attempts=None, containers_left=left, lake_intact=lake_ok, model_intact=model_ok,
        detail=(f"SIGKILL to {len(victims)} process(es): "
                + ", ".join(_name(p) for p in victims)
                + ("" if noticed else f"; still {last.state if last else '?'} after "
                   f"{bench.plan.kill_grace_s:g} s")),
        backend=s.backend)


def _failed(step_state: str) -> bool:
    """The orchestrators' words for "this attempt is over, and not well": Prefect's
    Crashed/Failed, Airflow's failed/up_for_retry, Dagster's FAILURE."""
    word = step_state.lower()
    return any(part in word for part in ("fail", "retry", "crash", "error"))


def _quiet_status(st: Stack, s: StackSettings, run_id: str):  # type: ignore[no-untyped-def]
    with contextlib.suppress(Exception):
        return st.status(s, run_id)
    return None


def _name(proc: psutil.Process) -> str:
    with contextlib.suppress(psutil.Error):
        return f"{proc.pid} {' '.join(proc.cmdline()[:4])[:60]}"
    return str(proc.pid)

