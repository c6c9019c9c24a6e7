"""Setup effort, measured rather than opined: the code a user writes, what it installs.

- Wrapper code: lines of code (not blank, not comment, not docstring) of each
  `<name>_impl/` package, and the distinct framework symbols it uses — a proxy
  for how much of the orchestrator's API a user must learn to do the same job.
  `core/direct.py`, the plain loop, is the baseline.
- Environment: installed packages and size on disk of each orchestrator's virtual
  environment, and the time to install it from a warm package cache (uv, into a
  fresh folder), against the core environment alone; and MLflow's share of the
  core environment (the model store, issue 12): what is installed only for it.

The UI stack's figures (time until it answers, idle memory, processes, ports,
config files) come from starting it, in benchmarks/served.py.
"""

from __future__ import annotations

import ast
import importlib.metadata
import io
import os
import subprocess
import tempfile
import time
import tokenize
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from benchmarks.environment import site_packages
from benchmarks.plan import Bench, Plan
from benchmarks.results import Figure
from core.names import ORCHESTRATORS
from infra.envs import ENVS, ROOT, SYNC_FLAGS, uv
from infra.process import clean_environment

FRAMEWORKS = {name: name for name in ORCHESTRATORS}  # wrapper → the package it imports
# The model store's requirements (pyproject.toml, issue 12): MLflow's client and its
# SQL store, in every environment, and its UI, in the core's.
MODEL_STORE = {"mlflow-skinny", "sqlalchemy", "alembic", "mlflow"}


def wrapper_files(name: str) -> list[Path]:
    """What a user of that orchestrator writes: the flow/DAG/job and its schedules.
    `run.py`, our driver that reads the orchestrator's records back into the uniform
    result, is benchmark plumbing and is counted apart (driver_files)."""
    if name == "direct":
        return [ROOT / "core" / "direct.py"]
    return sorted(p for p in (ROOT / f"{name}_impl").rglob("*.py")
                  if p.name not in ("run.py", "__init__.py"))


def driver_files(name: str) -> list[Path]:
    return [] if name == "direct" else [ROOT / f"{name}_impl" / "run.py"]


def code_lines(source: str) -> int:
    """Lines holding code: not blank, not only a comment, not part of a docstring."""
    docstrings: set[int] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                    and isinstance(body[0].value.value, str):
                end = body[0].end_lineno or body[0].lineno
                docstrings.update(range(body[0].lineno, end + 1))
    lines: set[int] = set()
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type in (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT,
                        tokenize.DEDENT, tokenize.ENDMARKER):
            continue
        lines.update(range(tok.start[0], tok.end[0] + 1))
    return len(lines - docstrings)


def framework_symbols(source: str, framework: str) -> set[str]:
    """Distinct names of the framework the code uses: everything imported from it,
    and attributes reached through an imported framework module (`dg.op`).
    Attributes of framework objects (`context.log`) cannot be resolved statically
    and are not counted, which undercounts all three alike."""
    found: set[str] = set()
    modules: dict[str, str] = {}  # local name → framework module
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and \
                node.module.split(".")[0] == framework:
            for alias in node.names:
                found.add(f"{node.module}.{alias.name}")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == framework:
                    modules[alias.asname or alias.name.split(".")[0]] = (
                        alias.name if alias.asname else alias.name.split(".")[0])
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            chain = _dotted(node)
            if chain and chain.split(".")[0] in modules:
                head, _, rest = chain.partition(".")
                found.add(f"{modules[head]}.{rest}")
    return found


def _dotted(node: ast.AST) -> str | None:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        return ".".join([node.id, *reversed(parts)])
    return None


def env_packages(path: Path) -> tuple[int, float]:
    """(installed distributions, size in MB) of the environment at `path`."""
    site = site_packages(path)
    packages = len(list(site.glob("*.dist-info"))) if site else 0
    return packages, _du_mb(path)


def _du_mb(path: Path) -> float:
    """Bytes on disk, hard links counted once (uv links files from its cache)."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                st = os.lstat(os.path.join(root, name))
            except OSError:
                continue
            if (st.st_dev, st.st_ino) in seen:
                continue
            seen.add((st.st_dev, st.st_ino))
            total += st.st_blocks * 512
    return round(total / 2**20, 1)


def exclusive_share(site: Path, roots: list[str], packages: set[str]) -> tuple[list[str], float]:
    """What an environment holds only because of `packages`: (distribution names, MB on
    disk of their files). The closure of `roots` (requirement strings, as pyproject's
    dependencies) minus the closure without `packages`, walked over the installed
    distributions' own Requires-Dist (markers evaluated for this interpreter, no extras)."""
    dists = {canonicalize_name(d.metadata["Name"]): d
             for d in importlib.metadata.distributions(path=[str(site)])}

    def closure(names: list[str]) -> set[str]:
        seen: set[str] = set()
        todo = [canonicalize_name(Requirement(n).name) for n in names]
        while todo:
            name = todo.pop()
            if name in seen or name not in dists:
                continue
            seen.add(name)
            for text in dists[name].requires or []:
                req = Requirement(text)
                if req.marker is None or req.marker.evaluate({"extra": ""}):
                    todo.append(canonicalize_name(req.name))
        return seen

    targets = {canonicalize_name(p) for p in packages}
    only = sorted(closure(roots) - closure(
        [r for r in roots if canonicalize_name(Requirement(r).name) not in targets]))
    size = sum(dists[n].locate_file(f).stat().st_size for n in only
               for f in dists[n].files or [] if dists[n].locate_file(f).is_file())
    return only, round(size / 2**20, 1)


def core_requirements() -> list[str]:
    """The core environment's requirements as pyproject.toml declares them: the
    project's dependencies and the group `mlflow-ui`."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return [*project["project"]["dependencies"], *project["dependency-groups"]["mlflow-ui"]]


def install_flags(env_name: str) -> list[str]:
    """What a user's environment holds, no test tools: the core's with MLflow's UI (the
    group `mlflow-ui`, which `orchbench mlflow` and `serve` need), an orchestrator's
    with its extras (infra/envs.py syncs it so)."""
    env = ENVS[env_name]
    return ["--no-default-groups", *(env.extra_flags or ["--group", "mlflow-ui"])]


def install(env_name: str) -> tuple[float, int, float]:
    """Install one environment into a new folder from the warm uv cache, as a user's
    first `orchbench setup` would (no dev tools), its bytecode compiled as setup and pip
    compile it (infra.envs.SYNC_FLAGS; uv alone only links files from its cache): (seconds,
    packages, MB on disk). Measuring the fresh copy, not our working environments, keeps
    test and lint tools out of the core's figures."""
    with tempfile.TemporaryDirectory(prefix=f"orchbench-install-{env_name}-") as tmp:
        target = Path(tmp) / "venv"
        command = [uv(), "sync", *SYNC_FLAGS, *install_flags(env_name)]
        environ = clean_environment({"UV_PROJECT_ENVIRONMENT": str(target),
                                     "UV_PYTHON_DOWNLOADS": "never"})
        started = time.perf_counter()
        done = subprocess.run(command, cwd=ROOT, env=environ, capture_output=True, text=True,
                              check=False)
        seconds = time.perf_counter() - started
        if done.returncode != 0:
            raise RuntimeError(f"uv sync of {env_name} failed: {done.stderr.strip()[-500:]}")
        packages, size = env_packages(target)
    return seconds, packages, size


def units(plan: Plan) -> int:
    return 1 + (len(plan.orchestrators) + 1) * plan.install_reps


def run(bench: Bench) -> None:
    names = ["direct", *bench.plan.orchestrators]
    for name in names:
        sources = [p.read_text() for p in wrapper_files(name)]
        loc = sum(code_lines(s) for s in sources)
        symbols: set[str] = set()
        for s in sources:
            symbols |= framework_symbols(s, FRAMEWORKS.get(name, "core"))
        files = ", ".join(str(p.relative_to(ROOT)) for p in wrapper_files(name))
        driver_loc = sum(code_lines(p.read_text()) for p in driver_files(name))
        bench.results.figures += [
            Figure("setup", "wrapper", name, "lines_of_code", "lines", [float(loc)],
                   note=files),
            Figure("setup", "wrapper", name, "driver_lines_of_code", "lines",
                   [float(driver_loc)],
                   note="run.py: reads the orchestrator's records into the uniform result"),
            Figure("setup", "wrapper", name, "framework_symbols", "count",
                   [float(len(symbols))] if name != "direct" else [0.0],
                   note=", ".join(sorted(symbols)) if name != "direct" else ""),
        ]
    bench.advance("setup: wrapper code and environments")
    # Installs, interleaved across environments so drift in machine load hits all.
    samples: dict[str, list[float]] = {n: [] for n in names}
    sizes: dict[str, tuple[int, float]] = {}
    for rep in range(bench.plan.install_reps):
        for name in names if rep % 2 == 0 else list(reversed(names)):
            seconds, packages, size = install("base" if name == "direct" else name)
            samples[name].append(seconds)
            sizes[name] = (packages, size)
            bench.advance(f"setup: install {name} ({rep + 1}/{bench.plan.install_reps})")
    base_key = Figure("setup", "environment", "direct", "install_s", "s", []).key
    base_packages, base_size = sizes["direct"]
    for name in names:
        packages, size = sizes[name]
        env_name = "base" if name == "direct" else name
        bench.results.figures += [
            Figure("setup", "environment", name, "install_s", "s", samples[name],
                   baseline=None if name == "direct" else base_key,
                   knobs={"installer": " ".join(["uv sync", *SYNC_FLAGS,
                                                 *install_flags(env_name)]),
                          "cache": "warm"}),
            Figure("setup", "environment", name, "packages", "count", [float(packages)],
                   note=f"a fresh install of {ENVS[env_name].path.name}'s packages, the "
                   "core's included, no dev tools"),
            Figure("setup", "environment", name, "size_mb", "MB", [size]),
        ]
        if name == "direct":  # the model store's share of the core (issue 12)
            only, mb = exclusive_share(site_packages(ENVS["base"].path), core_requirements(),
                                       MODEL_STORE)
            note = ("installed only for MLflow (tracking, registry, UI, scoring server), "
                    "of the core environment's packages: " + ", ".join(only))
            bench.results.figures += [
                Figure("setup", "environment", name, "mlflow_packages", "count",
                       [float(len(only))], note=note),
                Figure("setup", "environment", name, "mlflow_mb", "MB", [mb], note=note),
            ]
        if name != "direct":  # what the orchestrator adds to the pipeline's own needs
            bench.results.figures += [
                Figure("setup", "environment", name, "added_packages", "count",
                       [float(packages - base_packages)]),
                Figure("setup", "environment", name, "added_mb", "MB",
                       [round(size - base_size, 1)]),
            ]
