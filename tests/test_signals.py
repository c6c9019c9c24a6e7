"""A stopped `orchbench run` stops its work: every implementation, Ctrl-C and SIGTERM.

Real Docker, the real CLI in a subprocess, as a user runs it: the first container
step (transform) hangs for 600 s (a fault in the TOML config), and once its
container runs the run is stopped — Ctrl-C as a terminal sends it (SIGINT to the
whole foreground process group), or SIGTERM to the `orchbench run` process alone
(`kill`, a CI timeout). Then, within a bounded time: the exit code a shell expects
(130, 143), one "cancelled" line, no container of the run (running or stopped), no
process of the recorded tree alive (drivers, Prefect's temporary API server,
Dagster's helpers), none of their ports listening, and no half-written file in the
lake.

Each case runs under its own ORCHBENCH_SESSION label, so its containers are told
apart from any other run's. The two signals of one implementation share a home:
the second run finds the orchestrator's database already migrated.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
import uuid
from pathlib import Path

import docker
import psutil
import pytest

from core.runner import LABEL_SESSION, sweep
from infra import process
from infra.envs import ENVS, ROOT

pytestmark = pytest.mark.slow

DAY = "2026-03-01"
CONTAINER_WITHIN_S = 300.0  # start-up on 2 busy cores: Airflow's first run takes ~60 s
EXIT_WITHIN_S = 60.0
SIGNALS = {"SIGINT": (signal.SIGINT, 130), "SIGTERM": (signal.SIGTERM, 143)}
CASES = [(name, sig) for name in ("direct", "prefect", "airflow", "dagster") for sig in SIGNALS]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One folder for the module: the config, and one home per implementation."""
    base = tmp_path_factory.mktemp("signals")
    (base / "hang.toml").write_text("[faults.transform]\nhang_seconds = 600\n")
    return base


def _containers(client: docker.DockerClient, session: str, **filters: str) -> list[dict]:
    return client.api.containers(all=True, filters={"label": f"{LABEL_SESSION}={session}",
                                                    **filters})


def _wait_for_container(client: docker.DockerClient, session: str,
                        proc: subprocess.Popen[bytes], stderr: Path) -> None:
    deadline = time.monotonic() + CONTAINER_WITHIN_S
    while time.monotonic() < deadline:
        if _containers(client, session, status="running"):
            return
        if proc.poll() is not None:
            pytest.fail(f"the run exited ({proc.returncode}) before its container ran:\n"
                        f"{stderr.read_text()[-3000:]}")
        time.sleep(0.3)
    pytest.fail(f"no running container within {CONTAINER_WITHIN_S:g} s:\n"
                f"{stderr.read_text()[-3000:]}")


def _listening(pids: set[int]) -> set[int]:
    return {c.laddr.port for c in psutil.net_connections(kind="inet")
            if c.status == psutil.CONN_LISTEN and c.laddr and (not pids or c.pid in pids)}


def _lake_leftovers(home: Path) -> list[str]:
    """Half-written files: atomic writes' hidden temporaries, container staging folders."""
    lake = home / "lake"
    return [str(p.relative_to(lake)) for p in lake.rglob("*") if p.is_file()
            and any(part.startswith(".") or part.endswith(".tmp")
                    for part in p.relative_to(lake).parts)]


@pytest.mark.parametrize(("name", "sig"), CASES, ids=[f"{n}-{s}" for n, s in CASES])
def test_a_stopped_run_removes_its_containers_and_processes(
    name: str, sig: str, workdir: Path, docker_client: docker.DockerClient
) -> None:
    signum, expected_code = SIGNALS[sig]
    session = f"{os.environ['ORCHBENCH_SESSION']}-sig-{uuid.uuid4().hex[:6]}"
    home = workdir / name
    out, err = workdir / f"{name}-{sig}.out", workdir / f"{name}-{sig}.err"
    command = [str(ENVS["base"].path / "bin" / "orchbench"), "run", "-o", name, "--date", DAY,
               "--config", str(workdir / "hang.toml"), "--home", str(home)]
    env = process.clean_environment({"ORCHBENCH_SESSION": session}, drop=("ORCHBENCH_HOME",))
    with out.open("wb") as stdout, err.open("wb") as stderr:
        # A new session, as a terminal gives a command its own foreground process group.
        proc = process.spawn(command, cwd=ROOT, env=env, stdout=stdout, stderr=stderr,
                             stdin=subprocess.DEVNULL)
    recorded: list[psutil.Process] = []
    try:
        _wait_for_container(docker_client, session, proc, err)
        time.sleep(1.0)  # the step is waiting on its container now, not still starting it
        recorded = process.tree(proc.pid)
        ports = _listening({p.pid for p in recorded})
        if sig == "SIGINT":
            os.killpg(proc.pid, signum)  # Ctrl-C: the whole foreground group
        else:
            proc.send_signal(signum)  # `kill`: the orchbench process only
        sent = time.monotonic()
        try:
            code = proc.wait(timeout=EXIT_WITHIN_S)
        except subprocess.TimeoutExpired:
            pytest.fail(f"still running {EXIT_WITHIN_S:g} s after {sig}:\n"
                        f"{err.read_text()[-3000:]}")
        seconds = time.monotonic() - sent
        message = err.read_text()
        containers = [c["Names"][0] for c in _containers(docker_client, session)]
        alive = process.survivors(recorded)
        still_listening = ports & _listening(set())
        print(f"{name} {sig}: exit {code} after {seconds:.1f} s; tree {len(recorded)} "
              f"processes, ports {sorted(ports)}; left: containers {containers}, "
              f"processes {alive}, ports {sorted(still_listening)}")

        assert code == expected_code, message[-3000:]
        assert f"orchbench: cancelled ({sig}); the run of {DAY} through {name}" in message
        assert "Traceback" not in message
        # The implementation's own clean-up removed its container and ended its processes:
        # the driver's safety net (sweep by run id, stopping the tree) found nothing.
        assert "left behind" not in message and "still running after" not in message
        assert containers == []
        assert alive == []
        assert still_listening == set()
        assert _lake_leftovers(home) == []
    finally:
        if proc.poll() is None or recorded:
            process.stop_tree(proc, grace_s=5, also=recorded)
        with contextlib.suppress(Exception):
            sweep(session=session, client=docker_client)
