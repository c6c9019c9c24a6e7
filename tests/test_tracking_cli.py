"""`orchbench mlflow`, `orchbench serve` and `orchbench ui --mlflow` refuse at once, with
the problem and its fix, what would otherwise hang or fail late: a taken port (MLflow's
own server then prints "Address already in use" and exits 0), a home with no model
store, a store with no current version. The servers themselves, on the demo's home, are
in tests/test_demo.py."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def orchbench(*args: str) -> tuple[subprocess.CompletedProcess[str], float]:
    began = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "orchbench.cli", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    return done, time.perf_counter() - began


def assert_refused(done: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert done.returncode == 2, (done.returncode, done.stderr)
    assert "Traceback" not in done.stderr
    assert "\nfix:" in done.stderr, done.stderr
    for needle in needles:
        assert needle in done.stderr, done.stderr


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port this test process listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


def test_mlflow_refuses_a_taken_port_at_once_naming_its_holder(taken_port: int,
                                                               tmp_path: Path) -> None:
    done, seconds = orchbench("mlflow", "--port", str(taken_port), "--home", str(tmp_path))
    assert_refused(done, f"Port {taken_port} on 127.0.0.1 is already taken",
                   f"by pid {os.getpid()}", "MLflow's UI cannot start there",
                   "`orchbench mlflow --port N`")
    assert seconds < 5, f"took {seconds:.1f} s to refuse"
    assert not (tmp_path / "mlflow").exists()  # nothing was started, nothing written


def test_serve_refuses_a_taken_port(taken_port: int, tmp_path: Path) -> None:
    done, seconds = orchbench("serve", "--port", str(taken_port), "--home", str(tmp_path))
    assert_refused(done, f"Port {taken_port} on 127.0.0.1 is already taken",
                   "scoring server cannot start there", "`orchbench serve --port N`")
    assert seconds < 5, f"took {seconds:.1f} s to refuse"


@pytest.mark.parametrize("command", ["serve", "mlflow"])
def test_a_home_without_a_store_says_to_run_the_demo_first(command: str,
                                                           tmp_path: Path) -> None:
    done, seconds = orchbench(command, "--home", str(tmp_path), "--port", "0")
    assert_refused(done, f"{tmp_path} has no MLflow store yet",
                   str(tmp_path / "mlflow" / "mlflow.db"), "Run `orchbench demo` first")
    assert seconds < 5, f"took {seconds:.1f} s to refuse"
    assert not (tmp_path / "mlflow").exists()  # no empty store made on the way


def test_ui_with_mlflow_refuses_a_taken_port_before_building_anything(
        taken_port: int, tmp_path: Path) -> None:
    done, seconds = orchbench("ui", "dagster", "--mlflow", "--mlflow-port", str(taken_port),
                              "--home", str(tmp_path))
    assert_refused(done, f"Port {taken_port} on 127.0.0.1 is already taken",
                   "MLflow's UI (for dagster) cannot start there",
                   "`orchbench ui dagster --mlflow --mlflow-port N`")
    assert seconds < 5, f"took {seconds:.1f} s to refuse"
    assert list(tmp_path.iterdir()) == []  # no history built, no stack started


def test_ui_help_says_mlflow_is_off_by_default_and_what_it_costs() -> None:
    done, _ = orchbench("ui", "--help")
    assert done.returncode == 0
    text = " ".join(done.stdout.split())
    assert "--mlflow" in text and "off by default" in text and "0.5 GB" in text


@pytest.mark.slow  # MLflow creates its SQLite schema: about 10 s
def test_serve_on_a_store_without_a_current_version_says_so(tmp_path: Path) -> None:
    from core.models import ModelStore

    store = ModelStore(tmp_path / "mlflow", "orchbench-synthetic")
    assert store.client is not None  # creates the database and the registered model
    assert store.exists() and store.current() is None  # no version
    done, _ = orchbench("serve", "--home", str(tmp_path), "--port", "0")
    assert_refused(done, "No model version in", "alias 'champion'",
                   "orchbench-synthetic has no current version", "Run `orchbench demo` first")
