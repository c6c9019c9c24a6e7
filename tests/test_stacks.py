"""What every stack refuses at once, before starting anything: a taken port and a
second stack on the same home. A user must get a sentence naming the holder,
never a hang; these need no orchestrator to run, so they take milliseconds.
(The stacks themselves run in test_browser.py, through `orchbench ui`, in
test_production.py (the production layouts), and in the benchmark's served scenario,
test_bench.py.)"""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path

import pytest

from core.errors import OrchbenchError
from infra.stacks import StackSettings, stack
from infra.stacks.base import SERVICE_PORTS, SPAN, free_ports, lock_path, running_stack

NAMES = ("prefect", "airflow", "dagster")
LAYOUTS = [(name, backend) for name in NAMES for backend in stack(name).backends
           if backend != "sqlite"]


@pytest.mark.parametrize("name", NAMES)
def test_a_taken_port_is_refused_at_once_naming_it(name: str, tmp_path: Path) -> None:
    port = free_ports(3)
    settings = StackSettings(home=tmp_path, config=tmp_path / "config.json", port=port)
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", port))
        holder.listen()
        began = time.perf_counter()
        with pytest.raises(OrchbenchError) as caught:
            stack(name).start(settings, log=lambda _: None)
    assert time.perf_counter() - began < 5
    assert f"Port {port}" in caught.value.problem and f"pid {os.getpid()}" in caught.value.problem
    assert "--port" in caught.value.fix
    assert not lock_path(tmp_path, name).exists()


@pytest.mark.parametrize("name", NAMES)
def test_a_second_stack_on_one_home_is_refused(name: str, tmp_path: Path) -> None:
    lock = lock_path(tmp_path, name)
    lock.parent.mkdir(parents=True)
    lock.write_text(json.dumps({"pid": os.getpid(), "port": 4321, "host": "127.0.0.1",
                                "config": str(tmp_path / "config.json")}))
    held = running_stack(tmp_path, name)
    assert held is not None and held.port == 4321
    settings = StackSettings(home=tmp_path, config=tmp_path / "config.json", port=free_ports(3))
    with pytest.raises(OrchbenchError, match="already running from this home, on port 4321"):
        stack(name).start(settings, log=lambda _: None)
    lock.write_text(json.dumps({"pid": 2**22 + 7, "port": 4321, "config": "c"}))  # no such pid
    assert running_stack(tmp_path, name) is None  # a crashed UI's lock does not block


@pytest.mark.parametrize(("name", "backend"), LAYOUTS, ids=[f"{n}-{b}" for n, b in LAYOUTS])
def test_a_production_layout_refuses_a_taken_service_port(name: str, backend: str,
                                                          tmp_path: Path) -> None:
    """PostgreSQL's port (the UI port + 10) taken: refused before anything starts, the
    message naming the server and the holder; no cluster is made."""
    port = free_ports(SPAN)
    settings = StackSettings(home=tmp_path, config=tmp_path / "config.json", port=port,
                             backend=backend)
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", port + SERVICE_PORTS["postgres"]))
        holder.listen()
        with pytest.raises(OrchbenchError) as caught:
            stack(name).start(settings, log=lambda _: None)
    assert "postgres (the UI port + 10)" in caught.value.problem, caught.value.problem
    assert f"pid {os.getpid()}" in caught.value.problem
    assert not lock_path(tmp_path, name).exists()
    assert not (tmp_path / "orchestrators" / "postgres").exists()
