"""Where and with what a benchmark ran: recorded in every result file.

Figures from a 2-core shared VM and from a laptop are not comparable, and a
figure without the orchestrator's version is not evidence. So every result
carries the machine (CPUs, memory, kernel), Python, Docker's client and engine
versions, each orchestrator's version (read from its own environment's metadata,
without importing it), whether the environments hold compiled bytecode, the orchbench
commit and the date.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

from core.docker_client import docker_client
from infra.envs import ENVS, ROOT

PACKAGES = {
    "prefect": ["prefect"],
    "airflow": ["apache-airflow", "apache-airflow-providers-standard"],
    "dagster": ["dagster", "dagster-webserver"],
    "base": ["evidently", "duckdb", "pandas", "docker", "mlflow"],
}


def installed_version(env_name: str, package: str) -> str | None:
    """A package's version in one of our environments, from its dist-info folder:
    reading metadata costs nothing, importing the orchestrator would cost seconds."""
    site = site_packages(ENVS[env_name].path)
    if site is None:
        return None
    prefix = package.replace("-", "_").lower() + "-"
    for entry in site.glob("*.dist-info"):
        if entry.name.lower().startswith(prefix):
            return entry.name[len(prefix):-len(".dist-info")]
    return None


def site_packages(env_path: Path) -> Path | None:
    found = sorted((env_path / "lib").glob("python3*/site-packages"))
    return found[0] if found else None


def bytecode_compiled(env_path: Path) -> bool | None:
    """Whether an environment's installed packages carry compiled bytecode (a .pyc in a
    package's __pycache__; `orchbench setup` compiles it, infra.envs.SYNC_FLAGS); None
    when there is no environment. Without it, and with PYTHONDONTWRITEBYTECODE=1, every
    process compiles what it imports, and start-up figures measure the compiler: Airflow's
    definition load took 3.0 s from source and 1.4 s from bytecode here (quick runs on 2
    cores, 2026-12-02)."""
    site = site_packages(env_path)
    if site is None:
        return None
    return next(site.glob("*/__pycache__/*.pyc"), None) is not None


def docker_versions() -> dict[str, str]:
    try:
        client = docker_client(timeout=5)
        version = client.version()
        client.close()
        return {"docker_engine": version.get("Version", "?"),
                "docker_api": version.get("ApiVersion", "?"),
                "docker_storage_driver": _storage_driver()}
    except Exception as exc:  # the environment record must never fail a run
        return {"docker_engine": f"unreachable ({type(exc).__name__})"}


def _storage_driver() -> str:
    try:
        client = docker_client(timeout=5)
        driver = client.info().get("Driver", "?")
        client.close()
        return str(driver)
    except Exception:
        return "?"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def memory_gib() -> float | None:
    try:
        import psutil

        return round(psutil.virtual_memory().total / 2**30, 1)
    except Exception:
        return None


def git_commit() -> str:
    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                          text=True, check=False)
    dirty = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True,
                           text=True, check=False)
    commit = done.stdout.strip() or "unknown"
    return commit + ("+changes" if dirty.stdout.strip() else "")


def capture() -> dict[str, Any]:
    versions = {f"{env}:{pkg}": installed_version(env, pkg)
                for env, pkgs in PACKAGES.items() for pkg in pkgs}
    return {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "host": platform.node(),
        "os": f"{platform.system()} {platform.release()}",
        "cpu_count": os.cpu_count(),
        "cpu_model": cpu_model(),
        "memory_gib": memory_gib(),
        "python": platform.python_version(),
        "orchbench_commit": git_commit(),
        "versions": versions,
        "bytecode_compiled": {name: bytecode_compiled(env.path) for name, env in ENVS.items()},
        "pythondontwritebytecode": os.environ.get("PYTHONDONTWRITEBYTECODE", ""),
        **docker_versions(),
    }
