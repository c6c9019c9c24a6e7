"""Each orchestrator's production layout (issue 13), run once for real.

For every layout a stack has beyond SQLite (PostgreSQL for all three; Airflow's
CeleryExecutor with Redis too): the harness starts PostgreSQL (and Redis) and the
orchestrator's separate processes on a copy of the UI's history, the pipeline runs a
date through the orchestrator's own API, by its backfill mechanism (Stack.backfill:
Airflow's backfill API; Dagster's "tuned" start has no run queue, so a launched run),
every step must succeed, then the scale benchmark's fan-out of 5 mapped no-op tasks
(benchmarks/scale.py) must succeed with all 5 recorded, and after the stop nothing may
be left: no process, no listening port, no container, and the cluster shut down (then
deleted, as the benchmark deletes its temporary ones).

Prefect's PostgreSQL layout is driven through its UI in Chromium instead
(tests/test_browser.py: a history run through the API, one from the UI's button,
Ctrl-C, the same checks), to spend CI's time once.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import psutil
import pytest
from history import build_ui_history

from core.config import save_config
from core.names import ORCHESTRATORS
from core.runner import sweep
from infra.services import Postgres, remove_cluster
from infra.stacks import StackSettings, stack
from infra.stacks.base import SPAN, free_ports, started
from orchbench.ui import daily_dates, ui_config

pytestmark = pytest.mark.slow
FANOUT = 5  # mapped tasks: the scale curve's path, at the quick plan's size

# Prefect's postgres layout runs in tests/test_browser.py: its history run through the
# API, a run from the UI's own button, Ctrl-C, and the same checks of what is left.
IN_THE_BROWSER_TEST = {("prefect", "postgres")}
# Each orchestrator's production layouts, in turn on one home: the cluster (and the
# migrated database) the first made serves the next, as it does for a user who tries
# both (Airflow's: about 15 s less than a home each).
LAYOUTS = {name: [b for b in stack(name).backends
                  if b != "sqlite" and (name, b) not in IN_THE_BROWSER_TEST]
           for name in ORCHESTRATORS}
TESTED = [name for name, backends in LAYOUTS.items() if backends]


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The UI's first-start history, built for this module: not the session's
    `ui_history`, whose tests share one test worker (conftest.py), so that this module
    is a unit of work of its own, which the other worker can take."""
    return build_ui_history(tmp_path_factory.mktemp("production_history"))


@pytest.mark.parametrize("name", TESTED, ids=[f"{n}-{'-'.join(LAYOUTS[n])}" for n in TESTED])
def test_production_layouts_run_the_pipeline_and_leave_nothing(
        name: str, history: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    shutil.copytree(history, home)
    config = save_config(ui_config(home), home / "config.json")
    days = daily_dates(len(LAYOUTS[name]))  # a date each: a run's date is its identity
    try:
        for backend, day in zip(LAYOUTS[name], days, strict=True):
            _one_layout(name, backend, home, config, day)
    finally:
        remove_cluster(home)
    assert not Postgres.for_home(home, port=0).data.exists()


def _one_layout(name: str, backend: str, home: Path, config: Path, day: str) -> None:
    st = stack(name)
    session = f"{os.environ['ORCHBENCH_SESSION']}-{name}-{backend}"  # its containers' label
    s = StackSettings(home, config, free_ports(SPAN), variant="tuned", session=session,
                      backend=backend, scale=True)
    began = time.perf_counter()
    seen: list[psutil.Process] = []
    ports: list[int] = []
    with started(st, s, log=print, timeout_s=600) as running:
        ready = time.perf_counter() - began
        roles = [role for role, _ in running.roots]
        assert "postgres" in roles, roles
        assert (backend == "celery") == ("redis" in roles), roles
        ports = running.listening_ports()
        assert s.port in ports and s.port_of("postgres") in ports, ports
        # The layout's date through Stack.backfill: Airflow's backfill API on PostgreSQL
        # and Celery, which the quick bench (CI's) runs on SQLite only; Dagster's tuned
        # start has no queue, so its backfill is a launched run, `trigger`'s path.
        [status] = st.backfill(running, [day], timeout_s=600)
        assert status.succeeded, (status, running.log_tail(roles[-1]))
        assert len(status.steps) == 5 and all(
            v.lower() in {"success", "completed"} for v in status.steps.values()), status
        fanout = running.wait_run(st.trigger_fanout(s, FANOUT), timeout_s=300,
                                  read=st.fanout_status,
                                  until=lambda got: got.final and (
                                      not got.succeeded or got.tasks_succeeded == FANOUT))
        assert fanout.succeeded and fanout.tasks_succeeded == FANOUT, fanout
        seen = list(running.seen.values())
    assert (home / "lake" / "refined" / "features" / f"{day}.parquet").exists()
    print(f"{name} on {backend}: ready after {ready:.0f} s, run {status.state}, fan-out of "
          f"{FANOUT} {fanout.state}, {time.perf_counter() - began:.0f} s in all; ports {ports}")
    alive = [p for p in seen if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert not alive, f"{backend}: still running after the stop: {[p.pid for p in alive]}"
    listening = {c.laddr.port for c in psutil.net_connections(kind="inet")
                 if c.status == psutil.CONN_LISTEN and c.laddr}
    assert not set(ports) & listening, f"{backend}: still listening: {set(ports) & listening}"
    assert not (Postgres.of(s).data / "postmaster.pid").exists(), "the cluster still runs"
    assert sweep(session=session) == 0, "a container of the run was left behind"
