"""Prefect's local stack for real: `prefect server start` plus the served deployment,
the real pipeline in real containers, driven only over Prefect's HTTP API.

One small history home per module; the stack runs on a free port with its state in
`<home>/orchestrators/prefect/`, as `orchbench ui prefect` will. Prefect is never
imported here (base.py's rule): the stack module talks HTTP and reads processes.
"""

from __future__ import annotations

import socket
import sqlite3
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
from orchbench.stacks import RunningStack, StackSettings, stack
from orchbench.stacks.base import answers


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> StackSettings:
    home = tmp_path_factory.mktemp("stack_prefect")
    cfg = small_config(home)
    backfill_history(cfg, FIRST, LAST_HISTORY, log=lambda _: None)
    config = save_config(cfg, home / "config.json")
    return StackSettings(home=home, config=config, port=free_port())


@pytest.fixture(scope="module")
def running(settings: StackSettings) -> Iterator[RunningStack]:
    started = stack("prefect").start(settings, log=lambda _: None)
    try:
        started.wait_ready(timeout_s=240, log=lambda _: None)
        yield started
    finally:
        started.stop()


def test_stack_answers_and_runs_the_pipeline(settings: StackSettings,
                                             running: RunningStack) -> None:
    prefect = running.stack
    assert running.ready_after_s is not None and running.ready_after_s > 0
    assert answers(prefect.ui_url(settings))  # the UI, not only the API
    triggered = time.time()
    run_id = prefect.trigger(settings, str(DAILY[0]))
    running.wait_run(run_id, timeout_s=120, until=lambda st: st.first_task_started is not None)
    # What the worker-kill benchmark would SIGKILL: the run's own engine subprocess.
    workers = prefect.step_processes(running, run_id)
    assert [" ".join(p.cmdline()[-2:]) for p in workers] == ["-m prefect.engine"]
    status = running.wait_run(run_id, timeout_s=240)
    assert status.succeeded, (status, running.log_tail("serve"))
    assert (status.state, status.final) == ("COMPLETED", True)
    assert status.steps == {name: "COMPLETED" for name in STEP_NAMES}
    assert status.first_task_started is not None
    assert triggered < status.first_task_started < status.ended  # Prefect's own clock
    # The stack keeps its state where the driver does (PREFECT_HOME), so the UI shows
    # the driver's runs and the driver's later reads see these.
    db = settings.home / "orchestrators" / "prefect" / "prefect.db"
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as con:
        assert con.execute("SELECT state_type FROM flow_run WHERE id = ?",
                           (run_id,)).fetchall() == [("COMPLETED",)]
    assert settings.port in running.listening_ports()
    assert running.rss_bytes() > 50 * 2**20  # a Python server and a Python serve process
    assert {row["name"] for row in running.describe()} >= {"prefect", "python"}


def test_a_second_stack_on_the_same_port_fails_fast(settings: StackSettings,
                                                    running: RunningStack,
                                                    tmp_path: Path) -> None:
    other = StackSettings(home=tmp_path, config=settings.config, port=settings.port)
    started = time.perf_counter()
    with pytest.raises(OrchbenchError) as caught:
        stack("prefect").start(other, log=lambda _: None)
    assert time.perf_counter() - started < 10
    assert f"Port {settings.port}" in str(caught.value)


def test_stop_leaves_nothing_running(settings: StackSettings, running: RunningStack) -> None:
    seen = list({**running.seen, **{p.pid: p for p in running.processes()}}.values())
    assert len(seen) >= 2  # server and serve process (flow-run subprocesses come and go)
    running.stop()
    assert not [p for p in seen if _alive(p)]
    assert settings.port not in _listening()
    assert not (settings.state_dir / "prefect" / "ui.json").exists()


def _alive(proc: psutil.Process) -> bool:
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _listening() -> set[int]:
    return {c.laddr.port for c in psutil.net_connections(kind="inet")
            if c.status == psutil.CONN_LISTEN and c.laddr}
