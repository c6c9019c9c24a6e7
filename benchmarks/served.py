"""The orchestrators as a user deploys them locally: their UI stack, served runs, a dead worker.

For each orchestrator, its stack (infra/stacks) is started twice on a fresh
copy of the prepared history: once as installed ("default"), once with the
settings a user tuning for latency would choose plus those that make it notice a
dead worker quickly ("tuned"; each stack's knobs() and detection_knobs() say
which — they are recorded with every figure). On each start:

- setup effort (default start only): seconds until the UI answers and the
  pipeline can be triggered, idle memory of every process of the stack after it
  settles, its processes, listening ports and config files;
- served latency: pipeline runs triggered through the orchestrator's own API;
  lag from the trigger to the first task's recorded start, and to the run's end;
- a dead worker: a run whose transform container hangs is triggered, and once
  the container runs, the process executing the run's steps gets SIGKILL. Then:
  does the orchestrator's record reach a final state within the grace period,
  which state, how long after the kill, what containers stayed, are the lake and
  the current model intact.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import time
from pathlib import Path

import psutil

from benchmarks.failure import count_containers, snapshot, verify
from benchmarks.fixtures import bench_day, fresh_home
from benchmarks.plan import Bench, Plan
from benchmarks.results import FailureCase, Figure
from core.config import Fault, load_config, save_config
from core.models import ModelStore
from core.runner import sweep
from infra.stacks import RunningStack, Stack, StackSettings, stack
from infra.stacks.base import free_ports
from infra.tracking import RunningServer, start_tracking_ui

KILL_EXPECTED = ("the orchestrator marks the step (or the run) failed soon after its worker "
                 "dies, and its container is stopped")


def units(plan: Plan) -> int:
    return len(plan.orchestrators) * len(plan.served_variants) * (2 + plan.served_triggers) + 1


def run(bench: Bench) -> None:
    for name in bench.plan.orchestrators:
        for variant in bench.plan.served_variants:
            _one_stack(bench, stack(name), variant)
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
            *_idle_figures(bench, "mlflow", server, []),
        ]


def _one_stack(bench: Bench, st: Stack, variant: str) -> None:
    home = fresh_home(bench, f"served-{st.name}-{variant}")
    session = f"{os.environ.get('ORCHBENCH_SESSION', 'bench')}-{st.name}-{variant}"
    settings = StackSettings(home=home, config=home / "config.json", port=free_ports(3),
                             variant=variant, session=session)
    knobs = {**st.knobs(variant), **(st.detection_knobs() if variant == "tuned" else {})}
    running = st.start(settings, log=lambda line: None)
    try:
        ready = running.wait_ready(timeout_s=600, log=lambda line: None)
        bench.advance(f"served: {st.name} {variant} answers after {ready:.1f} s")
        figures = [Figure("setup", "ui", st.name, "ready_s", "s", [ready], variant=variant,
                          knobs=knobs)]
        if variant == "default":
            figures += _idle_figures(bench, st.name, running, st.config_files(settings))
        bench.results.figures += figures
        _served_runs(bench, st, running, settings, knobs)
        bench.results.failures.append(_kill_worker(bench, st, running, settings))
        bench.advance(f"served: {st.name} {variant} worker killed")
    finally:
        running.stop()
        sweep(session=session)


def _idle_figures(bench: Bench, name: str, running: RunningStack | RunningServer,
                  files: list[Path]) -> list[Figure]:
    """Memory, processes, ports and config files of a started UI, once it settled."""
    time.sleep(bench.plan.ui_settle_s)
    rss = []
    for _ in range(3):  # three readings a second apart: the spread shows it has settled
        time.sleep(1)
        rss.append(running.rss_bytes() / 2**20)
    described = running.describe()
    ports = running.listening_ports()
    return [
        Figure("setup", "ui", name, "idle_rss_mb", "MB", rss, variant="default",
               note=f"after {bench.plan.ui_settle_s:g} s idle; proportional set size (PSS) summed "
               "over the stack's processes (the key keeps its first name, rss)"),
        Figure("setup", "ui", name, "processes", "count", [float(len(described))],
               variant="default",
               note="; ".join(f"{p['name']} ({p['rss_mb']} MB)" for p in described)),
        Figure("setup", "ui", name, "ports", "count", [float(len(ports))], variant="default",
               note=", ".join(map(str, ports))),
        Figure("setup", "ui", name, "config_files", "count", [float(len(files))],
               variant="default", note=", ".join(p.name for p in files) or "none"),
    ]


def _served_runs(bench: Bench, st: Stack, running: RunningStack, s: StackSettings,
                 knobs: dict[str, str]) -> None:
    lags: list[float] = []
    done: list[float] = []
    for i in range(bench.plan.served_triggers):
        day = bench_day(bench, i)
        triggered = time.time()
        run_id = st.trigger(s, day)
        status = running.wait_run(run_id, timeout_s=900)
        if not status.succeeded:
            bench.results.notes.append(
                f"served: {st.name} {s.variant} run of {day} ended {status.state} "
                f"(steps: {status.steps}); its times are left out")
        elif status.first_task_started is not None:
            lags.append(status.first_task_started - triggered)
            done.append((status.ended or time.time()) - triggered)
        bench.advance(f"served: {st.name} {s.variant} run {i + 1}/{bench.plan.served_triggers}")
    bench.results.figures += [
        Figure("latency", "served", st.name, "trigger_to_first_task_s", "s", lags,
               variant=s.variant, knobs=knobs),
        Figure("latency", "served", st.name, "trigger_to_done_s", "s", done,
               variant=s.variant, knobs=knobs),
    ]


def _kill_worker(bench: Bench, st: Stack, running: RunningStack,
                 s: StackSettings) -> FailureCase:
    """Trigger a run whose transform hangs, SIGKILL its worker mid-step, watch."""
    cfg = load_config(s.config)
    hang = dataclasses.replace(cfg, faults={"transform": Fault(hang_seconds=900)})
    config = save_config(hang, s.home / "kill-config.json")
    day = bench_day(bench, bench.plan.served_triggers)
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
                   f"{bench.plan.kill_grace_s:g} s")))


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

