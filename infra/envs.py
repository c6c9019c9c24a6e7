"""The four Python environments: one for the CLI/core/tests, one per orchestrator.

Prefect, Airflow and Dagster pin incompatible versions of shared packages
(fastapi above all), so each gets its own virtual environment, all resolved in
the one committed uv.lock (extras declared as conflicting). uv makes a sync of
an unchanged environment take well under a second, so `orchbench setup` can
simply sync every time: that is what makes it idempotent and fast.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from core.errors import OrchbenchError

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Env:
    name: str
    path: Path
    extras: tuple[str, ...]  # the pyproject extras that add the orchestrator
    package: str  # whose version `doctor` reports

    @property
    def extra_flags(self) -> list[str]:
        """`--extra X` for each of its extras (uv sync and uv export)."""
        return [flag for extra in self.extras for flag in ("--extra", extra)]

    @property
    def python(self) -> Path:
        return self.path / "bin" / "python"


# An orchestrator's environment has its development layout's extra and its production
# layouts' (pyproject.toml: the compose UI images export only the first).
ENVS: dict[str, Env] = {
    "base": Env("base", ROOT / ".venv", (), "orchbench"),
    "prefect": Env("prefect", ROOT / ".venvs" / "prefect", ("prefect",), "prefect"),
    "airflow": Env("airflow", ROOT / ".venvs" / "airflow", ("airflow", "airflow-production"),
                   "apache-airflow"),
    "dagster": Env("dagster", ROOT / ".venvs" / "dagster", ("dagster", "dagster-production"),
                   "dagster"),
}


def uv() -> str:
    found = shutil.which("uv")
    if found:
        return found
    candidate = Path(sys.executable).parent / "uv"
    if candidate.exists():
        return str(candidate)
    raise OrchbenchError("uv is not installed, and orchbench manages its environments with it.",
                         "Install it with `python3 -m pip install uv`, then run the command again.")


# uv installs no bytecode by default (pip compiles it), so each process compiles what it
# imports, and keeps nothing where PYTHONDONTWRITEBYTECODE=1 is set, as on the machines
# this project is measured and tested on. Measured here (2026-12-02, 2 cores): `import
# evidently` 5.5 s from source, 2.5 s from bytecode; `import airflow.models` 2.2 / 0.9 s;
# `import prefect` 1.5 / 0.6 s; `import dagster` 1.1 / 0.4 s. Compiling costs about 15 s
# an environment once; a sync with nothing to do stays under a second.
SYNC_FLAGS = ("--frozen", "--quiet", "--compile-bytecode")


def sync(env: Env, log: Callable[[str], None] = print) -> float:
    """Create or update one environment from uv.lock, its bytecode compiled (SYNC_FLAGS);
    returns the seconds it took."""
    command = [uv(), "sync", *SYNC_FLAGS]
    if env.extras:
        # No default group: neither the test tools nor MLflow's UI (pyproject.toml).
        command += [*env.extra_flags, "--no-default-groups"]
    environ = {**os.environ, "UV_PROJECT_ENVIRONMENT": str(env.path),
               "UV_PYTHON_DOWNLOADS": "never"}
    started = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, env=environ, capture_output=True, text=True,
                          check=False)
    if done.returncode != 0:
        raise OrchbenchError(
            f"Creating the {env.name} environment at {env.path} failed:\n{done.stderr.strip()}",
            "If a package could not be downloaded, check the connection to the package index "
            "and run `orchbench setup` again; it resumes where it stopped.",
        )
    return time.perf_counter() - started


def version(env: Env) -> str | None:
    """The installed version of the env's main package, or None if the env is absent."""
    if not env.python.exists():
        return None
    code = f"import importlib.metadata as m; print(m.version({env.package!r}))"
    done = subprocess.run([str(env.python), "-c", code], capture_output=True, text=True,
                          check=False, timeout=60)
    return done.stdout.strip() if done.returncode == 0 else None
