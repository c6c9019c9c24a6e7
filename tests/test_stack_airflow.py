"""Airflow's local stack (`airflow standalone`) for real: UI, REST trigger, a run, stop.

One small history is built, the stack started once on free ports, the real
pipeline triggered through Airflow's REST API and run by its scheduler and
LocalExecutor with real Docker containers; then the stack is stopped and every
process it started must be gone and its ports free. The port checks need no
Airflow at all.
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
from orchbench.stacks import stack
from orchbench.stacks.airflow import DAG_ID, EXTRA_PORTS, STEP_NAMES, AirflowStack
from orchbench.stacks.base import RunningStack, StackSettings


def _free_ports(count: int) -> int:
    """A port P such that P … P+count-1 are all free (the UI and its derived ports)."""
    for _ in range(50):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port + count < 65536 and all(_free(port + i) for i in range(count)):
            return port
    raise RuntimeError("no run of free ports found")


def _free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> StackSettings:
    home = tmp_path_factory.mktemp("stack_airflow")
    cfg = small_config(home)
    backfill_history(cfg, FIRST, LAST_HISTORY, log=lambda _: None)
    config = save_config(cfg, home / "config.json")
    return StackSettings(home=home, config=config, port=_free_ports(1 + len(EXTRA_PORTS)))


@pytest.fixture(scope="module")
def running(settings: StackSettings) -> Iterator[RunningStack]:
    started = stack("airflow").start(settings, log=lambda _: None)
    try:
        ready_s = started.wait_ready(timeout_s=300, log=lambda _: None)
        print(f"\nairflow standalone answered after {ready_s:.1f} s")
        yield started
    finally:
        started.stop()


def test_knobs_by_variant() -> None:
    st = AirflowStack()
    default, tuned = st.knobs("default"), st.knobs("tuned")
    assert default["AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME"] == "1"
    assert float(tuned["AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME"]) < 1
    # Benchmarks: no cron run in front of a triggered one; the UI: the schedule is live.
    assert default["AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE"] == "False"
    assert st.knobs("ui")["AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE"] == "True"
    detect = StackSettings(home=Path("/h"), config=Path("/h/c.json"), port=1, variant="detect")
    timeout = st.environment(detect)["AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT"]
    assert int(timeout) < 60 < int(default["AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT"])
    with pytest.raises(OrchbenchError, match="variant"):
        st.knobs("fast")


def test_taken_log_server_port_fails_fast(tmp_path: Path) -> None:
    """The UI port is free but the worker log server's (UI + 1) is not: refuse at once."""
    port = _free_ports(1 + len(EXTRA_PORTS))
    s = StackSettings(home=tmp_path, config=tmp_path / "config.json", port=port)
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", port + 1))
        holder.listen()
        started = time.perf_counter()
        with pytest.raises(OrchbenchError, match=f"port {port + 1}"):
            AirflowStack().start(s, log=lambda _: None)
    assert time.perf_counter() - started < 5
    assert not (tmp_path / "orchestrators" / "airflow" / "ui.json").exists()


def test_triggered_run_and_clean_stop(running: RunningStack, settings: StackSettings,
                                      tmp_path: Path) -> None:
    st = running.stack
    assert st.ready(settings)
    dag = st._api(settings, "GET", f"/api/v2/dags/{DAG_ID}")  # type: ignore[attr-defined]
    assert dag["is_paused"] is False

    # A second stack on the same port fails at once and names the port.
    other = StackSettings(home=tmp_path, config=settings.config, port=settings.port)
    began = time.perf_counter()
    with pytest.raises(OrchbenchError, match=str(settings.port)):
        AirflowStack().start(other, log=lambda _: None)
    assert time.perf_counter() - began < 5

    triggered = time.time()
    run_id = st.trigger(settings, DAILY[0].isoformat())
    status = running.wait_run(run_id, timeout_s=420)
    print(f"trigger → first task {status.first_task_started - triggered:.1f} s, "  # type: ignore[operator]
          f"→ done {status.ended - triggered:.1f} s")  # type: ignore[operator]
    assert status.succeeded and status.state == "success", status
    assert status.steps == {name: "success" for name in STEP_NAMES}
    assert status.first_task_started is not None and status.first_task_started >= triggered - 1
    assert status.ended is not None and status.ended > status.first_task_started
    day = DAILY[0].isoformat()
    assert (settings.home / "lake" / "refined" / "features" / f"{day}.parquet").exists()
    assert (settings.home / "drift" / day / "decision.json").exists()

    ports = running.listening_ports()
    assert settings.port in ports
    assert running.rss_bytes() > 0
    roles = " ".join(_command(p) for p in running.processes())
    for component in ("scheduler", "dag-processor", "triggerer", "api_server"):
        assert component in roles
    assert all(path.exists() for path in st.config_files(settings))

    seen = list({p.pid: p for p in [*running.seen.values(), *running.processes()]}.values())
    running.stop()
    for port in ports:
        assert not _listening(port), f"port {port} still listens after stop()"
    survivors = [p.pid for p in seen if _alive(p)]
    assert not survivors, f"processes left after stop(): {survivors}"


def _command(proc: psutil.Process) -> str:
    """A process's command line; empty once it exited (a finished task's worker)."""
    try:
        return " ".join(proc.cmdline())
    except psutil.Error:
        return ""


def _alive(proc: psutil.Process) -> bool:
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False
