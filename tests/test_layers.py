"""The layers as rooms (issue 11): imports run one way, CLI → benchmarks → infra →
wrappers → core, and only a wrapper (or a probe, in its own environment) imports its
orchestrator. The contracts are import-linter's, in pyproject.toml; this runs them,
and shows on a copy of the tree that an arrow added upwards breaks them."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from infra.envs import ENVS, ROOT

LINT_IMPORTS = str(ENVS["base"].path / "bin" / "lint-imports")
PACKAGES = ("core", "infra", "orchbench", "benchmarks", "prefect_impl", "airflow_impl",
            "dagster_impl")


def lint(cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([LINT_IMPORTS, "--no-cache"], cwd=cwd, capture_output=True,
                          text=True, check=False, timeout=120)


def test_the_tree_keeps_its_import_contracts() -> None:
    done = lint(ROOT)
    assert done.returncode == 0, done.stdout[-3000:]
    assert "3 kept, 0 broken" in done.stdout


def test_an_arrow_upwards_breaks_the_contract(tmp_path: Path) -> None:
    for name in PACKAGES:
        shutil.copytree(ROOT / name, tmp_path / name,
                        ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    with (tmp_path / "core" / "lake.py").open("a") as f:
        f.write("\nimport benchmarks.plan  # an upper layer, from the ground\n")
    with (tmp_path / "infra" / "envs.py").open("a") as f:
        f.write("\nimport dagster  # an orchestrator, outside its wrapper\n")
    done = lint(tmp_path)
    assert done.returncode != 0
    assert "core.lake -> benchmarks.plan" in done.stdout
    assert "infra.envs -> dagster" in done.stdout
