"""Run one pipeline date through an orchestrator, in that orchestrator's environment.

The orchestrators cannot share a Python environment, so the CLI (and later the
benchmarks) never import them: a driver saves the run's exact config as JSON,
starts `<impl>.run` with the orchestrator's own interpreter, streams its output
and reads back the uniform result (core/result.py) that the entry point wrote.

Contract of every `<name>_impl/run.py` (run as `python -m <name>_impl.run`):
  --date YYYY-MM-DD --run-id ID --config CONFIG.json --result OUT.json [--force-cold]
It runs the pipeline for that date through the orchestrator's own machinery,
with its metadata in SQLite under <home>/orchestrators/<name>/, writes the
uniform result (per-step attempts and times read from the orchestrator) to
OUT.json, and exits 0 whether the pipeline run succeeded or failed; a non-zero
exit means the driver itself broke.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import tempfile
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from core.config import Config, save_config
from core.errors import OrchbenchError
from infra.envs import ENVS, ROOT

WRAPPED = ("prefect", "airflow", "dagster")


def orchestrator_home(cfg: Config, name: str) -> Path:
    return cfg.home / "orchestrators" / name


def run_wrapped(name: str, cfg: Config, day: str, *, force_cold: bool = False,
                log: Callable[[str], None] = print, timeout_s: float = 1800,
                config: Path | None = None) -> dict[str, Any]:
    """Run one date through `name`'s driver and return its result record.

    `config` is a file that already holds `cfg` (saved with core.config.save_config);
    without one, cfg is saved under the orchestrator's home. Pass it when a served
    stack uses that file: Airflow writes the path it parsed with into the DAG's
    params, and two paths for one DAG make the trigger form's default depend on which
    parse was serialised last."""
    env = ENVS[name]
    if not env.python.exists():
        raise OrchbenchError(f"The {name} environment is missing ({env.path}).",
                             f"Run `orchbench setup --env {name}`.")
    home = orchestrator_home(cfg, name)
    home.mkdir(parents=True, exist_ok=True)
    config = config or save_config(cfg, home / "config.json")
    run_id = uuid.uuid4().hex[:12]
    with tempfile.TemporaryDirectory(prefix="orchbench-result-") as tmp:
        result_file = Path(tmp) / "result.json"
        command = [str(env.python), "-m", f"{name}_impl.run", "--date", day, "--run-id", run_id,
                   "--config", str(config), "--result", str(result_file)]
        if force_cold:
            command.append("--force-cold")
        # Its own session: if the driver dies (SIGKILL, a crash), whatever it started —
        # Prefect's temporary API server above all — is ended with it, instead of
        # holding our end of the pipe open and this call with it.
        proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, env=_environment(),
                                start_new_session=True)
        tail: deque[str] = deque(maxlen=40)

        def pump() -> None:
            assert proc.stdout is not None
            for line in proc.stdout:
                line = line.rstrip("\n")
                log(line)
                tail.append(line)

        reader = threading.Thread(target=pump, name=f"{name}-driver-log", daemon=True)
        reader.start()
        try:
            code = proc.wait(timeout=timeout_s)
        finally:
            _end_group(proc)
            reader.join(timeout=10)
        if code != 0 or not result_file.exists():
            joined = "\n".join(tail)
            raise OrchbenchError(
                f"The {name} driver exited with code {code} before writing a result. "
                f"Last lines:\n{joined}",
                "This is a bug in orchbench's wrapper, not in your data; please report it.",
            )
        return json.loads(result_file.read_text())


def _end_group(proc: subprocess.Popen[str]) -> None:
    """Stop the driver's process group (a no-op after a clean exit)."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            return
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            continue
        time.sleep(0.2)  # let group members that outlived the leader see the signal


def _environment() -> dict[str, str]:
    """The caller's environment, minus anything that would point the child at our venv."""
    env = dict(os.environ)
    env.pop("VIRTUAL_ENV", None)
    env["PYTHONUNBUFFERED"] = "1"
    return env
