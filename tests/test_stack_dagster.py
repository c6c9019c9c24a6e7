"""Dagster's local stack (`dagster dev`) for real: UI, GraphQL trigger, a run, stop.

One small history is built, the stack started once on a free port with the "tuned"
knobs (no run queue, in-process executor: the quickest real run), the real pipeline
launched through Dagster's GraphQL API and run with real Docker containers; then the
stack is stopped and every process it started must be gone and its port free.
The settings checks need no Dagster at all.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from history import DAILY, FIRST, LAST_HISTORY, small_config

from core.config import save_config
from core.direct import backfill_history
from core.errors import OrchbenchError
from core.registry import STEP_NAMES
from orchbench.stacks import stack
from orchbench.stacks.base import RunningStack, StackSettings
from orchbench.stacks.dagster import DagsterStack


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> StackSettings:
    home = tmp_path_factory.mktemp("stack_dagster")
    cfg = small_config(home)
    backfill_history(cfg, FIRST, LAST_HISTORY, log=lambda _: None)
    config = save_config(cfg, home / "config.json")
    return StackSettings(home=home, config=config, port=_free_port(), variant="tuned")


@pytest.fixture(scope="module")
def running(settings: StackSettings) -> Iterator[RunningStack]:
    started = stack("dagster").start(settings, log=lambda _: None)
    try:
        ready_s = started.wait_ready(timeout_s=300, log=lambda _: None)
        print(f"\ndagster dev answered after {ready_s:.1f} s")
        yield started
    finally:
        started.stop()


def test_knobs_and_instance_settings() -> None:
    """default writes Dagster's defaults out (queue polled every 5 s, multiprocess);
    tuned launches in the request and runs steps in process; detect adds run monitoring."""
    st = DagsterStack()
    env = {v: st.environment(StackSettings(home=Path("/h"), config=Path("/h/c.json"), port=1,
                                           variant=v)) for v in ("default", "tuned", "detect")}
    assert env["default"]["ORCHBENCH_DAGSTER_EXECUTOR"] == "multiprocess"
    assert env["tuned"]["ORCHBENCH_DAGSTER_EXECUTOR"] == "in_process"
    default, tuned, detect = (st.dagster_yaml(env[v]) for v in ("default", "tuned", "detect"))
    assert "class: QueuedRunCoordinator" in default and "dequeue_interval_seconds: 5" in default
    assert "run_monitoring" not in default
    assert "class: DefaultRunCoordinator" in tuned
    assert "class: QueuedRunCoordinator" in detect
    assert "enabled: true" in detect and "poll_interval_seconds: 10" in detect
    with pytest.raises(OrchbenchError, match="variant"):
        st.knobs("fast")


def test_triggered_run_and_clean_stop(running: RunningStack, settings: StackSettings,
                                      tmp_path: Path) -> None:
    st = running.stack
    assert st.ready(settings)
    [yaml] = st.config_files(settings)
    assert "DefaultRunCoordinator" in yaml.read_text()

    # A second stack on the same port fails at once and names the port.
    other = StackSettings(home=tmp_path, config=settings.config, port=settings.port)
    began = time.perf_counter()
    with pytest.raises(OrchbenchError, match=str(settings.port)):
        DagsterStack().start(other, log=lambda _: None)
    assert time.perf_counter() - began < 5

    triggered = time.time()
    run_id = st.trigger(settings, DAILY[0].isoformat())
    status = running.wait_run(run_id, timeout_s=300, until=lambda st: st.steps.get(
        "ingest") == "SUCCESS" or st.final)
    # While it runs, its steps run in the run worker: a spawn child of the code server.
    workers = st.step_processes(running, run_id)
    if not status.final:
        assert workers and "spawn_main" in " ".join(workers[0].cmdline()), workers
        assert workers[0].pid in {p.pid for p in running.processes()}
    status = running.wait_run(run_id, timeout_s=420)
    assert status.state == "SUCCESS" and status.succeeded and status.final, status
    assert status.steps == {name: "SUCCESS" for name in STEP_NAMES}
    assert status.first_task_started is not None and status.first_task_started > triggered
    assert status.ended is not None and status.ended > status.first_task_started
    print(f"run {status.state}: first step after {status.first_task_started - triggered:.1f} s, "
          f"done after {status.ended - triggered:.1f} s")
    # The run worker is gone once the run is over: nothing left to kill.
    assert st.step_processes(running, run_id) == []

    assert settings.port in running.listening_ports()
    assert running.rss_bytes() > 0
    seen = running.processes()
    assert len(seen) >= 4  # dagster dev, webserver, daemon, code server(s)

    running.stop()
    assert not _listening(settings.port)
    alive = [p.pid for p in seen if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert alive == []
    assert not (settings.state_dir / "dagster" / "ui.json").exists()
