"""Run one pipeline date through an orchestrator, in that orchestrator's environment.

The orchestrators cannot share a Python environment, so the CLI and the benchmarks
never import them: a driver saves the run's exact config as JSON, starts the
wrapper's entry point with the orchestrator's own interpreter, streams its output
and reads back the uniform result (core/result.py) that the entry point wrote. The
command line both sides speak is core/protocol.py.
"""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
import tempfile
import threading
import uuid
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from core.config import Config, save_config
from core.errors import OrchbenchError
from core.protocol import entry_command
from core.runner import sweep
from infra import process
from infra.envs import ENVS, ROOT

# How long a stopped driver gets to unwind (remove its container, record the run as
# cancelled) before its process tree is stopped.
CANCEL_GRACE_S = 20.0


def orchestrator_home(cfg: Config, name: str) -> Path:
    return cfg.home / "orchestrators" / name


def prepare_metadata(name: str, home: Path) -> bool:
    """Create `name`'s metadata store under `home` without running anything; whether
    there was one to create.

    Only Prefect's is worth it: its driver's temporary server migrates a new SQLite file
    on its first start. Measured here: `prefect server database upgrade -y` takes 12.2 s
    on a new file and 6.2 s on a migrated one (its imports), so a first run pays about
    6 s more; Airflow's `db migrate` stamp makes its second run skip 3-4 s, and Dagster's
    instance costs a moment. Raises OrchbenchError with Prefect's output if the
    migration fails."""
    if name != "prefect":
        return False
    prefect_home = home / "orchestrators" / name
    prefect_home.mkdir(parents=True, exist_ok=True)
    env = process.clean_environment({"PREFECT_HOME": str(prefect_home),
                                     "PREFECT_SERVER_ANALYTICS_ENABLED": "false"})
    done = subprocess.run([str(ENVS[name].path / "bin" / "prefect"), "server", "database",
                           "upgrade", "-y"], env=env, capture_output=True, text=True,
                          check=False, timeout=600)
    if done.returncode != 0:
        raise OrchbenchError(f"Migrating Prefect's database in {prefect_home} failed:\n"
                             f"{(done.stdout + done.stderr).strip()[-1500:]}",
                             "Run `orchbench doctor`; `orchbench setup --env prefect` "
                             "repairs the environment.")
    return True


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
        command = entry_command(env.python, name, day, run_id, config, result_file,
                                force_cold=force_cold)
        # Its own session: if the driver dies (SIGKILL, a crash), whatever it started —
        # Prefect's temporary API server above all — is ended with it, instead of
        # holding our end of the pipe open and this call with it. It also keeps a
        # terminal's Ctrl-C from reaching it behind our back: we forward the stop.
        proc = process.spawn(command, cwd=ROOT, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
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
        except BaseException:  # Ctrl-C, SIGTERM turned into it, or our timeout
            _cancel(proc, run_id, name)
            raise
        finally:
            process.stop_tree(proc, grace_s=5)  # leftovers of a clean exit, if any
            reader.join(timeout=10)
        if code != 0 or not result_file.exists():
            joined = "\n".join(tail)
            raise OrchbenchError(
                f"The {name} driver exited with code {code} before writing a result. "
                f"Last lines:\n{joined}",
                "This is a bug in orchbench's wrapper, not in your data; please report it.",
            )
        return json.loads(result_file.read_text())


def _cancel(proc: subprocess.Popen[str], run_id: str, name: str) -> None:
    """Stop a driver mid-run: interrupt it, wait a bounded grace, stop its tree, then
    remove any container still labelled with the run's id.

    The driver gets SIGINT, whichever signal stopped us: each `<name>_impl.run` turns
    it into Ctrl-C's unwinding (core.runner.unwind_on_signals), which removes the
    step's container, and so do the orchestrators' own handlers of it (Dagster's
    interrupt, Prefect's crash handling). SIGTERM would not do everywhere: Airflow's
    task runner replaces its handler with one that only calls the operator's
    on_kill. Only the driver gets it, not its whole group: Prefect's temporary API
    server must outlive the flow long enough to record the run as crashed (killed
    first, the flow spends 20 s retrying it), and Dagster forwards the interrupt to
    its step processes itself. The group and every descendant are stopped after."""
    tracked = process.tree(proc.pid)  # before the driver exits and orphans its children
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGINT)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=CANCEL_GRACE_S)
    left = process.stop_tree(proc, grace_s=5, also=tracked)
    with contextlib.suppress(OrchbenchError):
        if swept := sweep(run_id):  # the driver's own clean-up should have done it
            print(f"orchbench: removed {swept} container(s) the {name} driver left behind",
                  file=sys.stderr)
    if left:
        print(f"orchbench: still running after the {name} driver was stopped: "
              f"{', '.join(left)}", file=sys.stderr)


