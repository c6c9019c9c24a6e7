"""Latency scenarios: definition load, no-op chains, fan-out and a raw `docker run`.

Each orchestrator is measured by a probe (benchmarks/probes/) run as a subprocess
in that orchestrator's own environment; this module imports no orchestrator, it
reads the probes' JSON. The plain-Python `direct` probe runs beside them in the
same scenario, so ratios compare numbers taken under the same machine load.

What each figure means, and why it is measured that way:
- definition_load: one fresh process per repetition (imports are cached
  in-process), interleaved across orchestrators; the probe times the framework
  import and the loading of our definitions, this side times the whole process.
- chain: one process per orchestrator and variant runs chains of N no-op tasks,
  every size once per repetition. The per-task overhead is the slope of wall time
  against N; each repetition gives its own slope (and intercept), and those are
  the figure's samples, so the median and IQR are over repetitions. The first run
  (fresh home: Prefect starts its temporary server, databases are created) is
  its own figure.
- fanout: N tasks that each sleep S s, run the orchestrator's usual way;
  parallelism = N × S / wall (N means every task ran at once, 1 means one at a time).
- container: `docker run --rm --network none <train image> true`, the floor under
  any containerised step.

Under a plan with precision on (the full plan; benchmarks/repeat.py), every figure here
is retaken until its median's 95 % interval is within ±Plan.precision_rel or a cap is
reached: definition load and the raw `docker run` one sample (one process, one
container) at a time, only for the orchestrators still imprecise; chains and fan-outs
in batches, each one more probe process (its fresh-home first run and warm-up are not
samples; the first run figure stays the first process's). Samples beyond the plan's
repetitions report no progress unit: the progress total stays what the plan promised.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks import stats
from benchmarks.plan import Bench, Plan
from benchmarks.repeat import Budget
from benchmarks.results import ChainPoint, Figure, key
from core.errors import OrchbenchError
from infra import process

REPO = Path(__file__).resolve().parent.parent
DIMENSION = "latency"
# The variants each orchestrator's chain and fan-out are measured with (names: brief_names).
VARIANTS: dict[str, tuple[str, ...]] = {
    "direct": ("",),
    # tuned: flow-run heartbeats off (benchmarks/probes/prefect.py says why it matters)
    "prefect": ("default", "tuned"),
    "airflow": ("default",),
    "dagster": ("in_process", "multiprocess"),
}
LOAD_TIMEOUT_S = 300.0
RUN_TIMEOUT_S = 3600.0  # a multiprocess Dagster chain costs seconds per op on 2 cores
DOCKER_TIMEOUT_S = 120.0
TAIL_LINES = 30


@dataclass
class ProbeRun:
    doc: dict[str, Any]
    wall_s: float  # the probe process, start to exit, as this side saw it


def python_for(orchestrator: str) -> Path:
    """The interpreter of the orchestrator's own environment (direct: this one)."""
    if orchestrator == "direct":
        return Path(sys.executable)
    python = REPO / ".venvs" / orchestrator / "bin" / "python"
    if not python.exists():
        raise OrchbenchError(f"The {orchestrator} environment ({python.parent.parent}) is missing.",
                             "Run `orchbench setup` to create it, then run the benchmark again.")
    return python


def probe_command(orchestrator: str, command: str, out: Path, workdir: Path,
                  extra: list[str]) -> list[str]:
    return [str(python_for(orchestrator)), "-m", f"benchmarks.probes.{orchestrator}", command,
            "--out", str(out), "--workdir", str(workdir), *extra]


def run_probe(orchestrator: str, command: str, workdir: Path, extra: list[str],
              timeout_s: float) -> ProbeRun:
    """Run one probe process and return its JSON; a failure says which probe and why."""
    workdir.mkdir(parents=True, exist_ok=True)
    out = workdir / f"{command}-result.json"
    out.unlink(missing_ok=True)
    argv = probe_command(orchestrator, command, out, workdir, extra)
    log_path = workdir / f"{command}.log"
    with log_path.open("w") as log:
        t0 = time.perf_counter()
        proc = process.spawn(argv, cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL, text=True)
        try:
            code = proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            # A probe's children (Prefect's temporary server, Dagster's step processes)
            # go with it; a probe has nothing to clean up, so no grace.
            process.stop_tree(proc, grace_s=0, sig=signal.SIGKILL)
            code = None
        except BaseException:  # Ctrl-C or SIGTERM: the probe's own session would outlive us
            process.stop_tree(proc, grace_s=0, sig=signal.SIGKILL)
            raise
        wall = time.perf_counter() - t0
    if code != 0 or not out.exists():
        tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-TAIL_LINES:])
        what = f"timed out after {timeout_s:.0f} s" if code is None else f"exited with {code}"
        raise OrchbenchError(
            f"The {orchestrator} {command} probe {what}: {' '.join(argv)}\nLast lines:\n{tail}",
            f"Run `orchbench doctor`; the probe's full log is {log_path} while the run lasts.")
    return ProbeRun(json.loads(out.read_text()), wall)


def _attempt(bench: Bench, label: str, work: Callable[[], Any],
             advance: bool = True) -> Any | None:
    """Run one unit of work; a failed probe becomes a note, and the other figures still come.

    advance False: a sample beyond the plan's repetitions (benchmarks/repeat.py), which
    the progress total does not count."""
    try:
        return work()
    except OrchbenchError as err:
        bench.results.notes.append(f"latency: {label} failed: {err.problem}")
        bench.log(f"{label} failed: {err.problem}")
        return None
    finally:
        if advance:
            bench.advance(label)


def _targets(plan: Plan) -> list[str]:
    return ["direct", *[o for o in plan.orchestrators if o in VARIANTS]]


def _pairs(plan: Plan) -> list[tuple[str, str]]:
    return [(o, v) for o in _targets(plan) for v in VARIANTS[o] if plan.measures(o, v)]


def _base_key(scenario: str, metric: str, orchestrator: str) -> str | None:
    return None if orchestrator == "direct" else key(scenario, "direct", "", metric)


def _knobs(doc: dict[str, Any]) -> dict[str, str]:
    knobs = {k: str(v) for k, v in doc.get("knobs", {}).items()}
    if doc.get("version"):
        knobs["version"] = str(doc["version"])
    return knobs


# --- definition load --------------------------------------------------------------

LOAD_KNOBS = {
    "direct": {"definitions": "import core.direct, core.registry"},
    "prefect": {"framework": "import prefect",
                "definitions": "import prefect_impl.flow, touch the flow"},
    "airflow": {"framework": "import airflow.sdk + DagBag",
                "definitions": "DagBag parse of airflow_impl/dags (2 DAGs)"},
    "dagster": {"framework": "import dagster",
                "definitions": "import dagster_impl.definitions, resolve job + 2 schedules"},
}


def definition_load_units(plan: Plan) -> int:
    return (plan.warmup + plan.reps) * len(_targets(plan))


def definition_load(bench: Bench) -> None:
    """Fresh processes, interleaved (A B C D, then D C B A, …); warm-ups discarded.

    Each orchestrator keeps one home for the whole scenario, as a user's machine
    does: files written on a first import (config, caches) are not paid every time.
    Once every orchestrator has the plan's repetitions, the rounds go on, still
    interleaved, with those whose figures are not precise yet (benchmarks/repeat.py).
    """
    plan = bench.plan
    targets = _targets(plan)
    root = bench.workdir / "latency" / "load"
    samples: dict[str, dict[str, list[float]]] = {o: {} for o in targets}
    budgets = {o: Budget(plan) for o in targets}
    versions: dict[str, Any] = {}
    rep = 0
    while True:
        measured = rep >= plan.warmup
        todo = [o for o in targets if not measured or budgets[o].more(*samples[o].values())]
        if not todo:
            break
        for orch in todo if rep % 2 == 0 else list(reversed(todo)):
            label = f"definition load: {orch} ({'rep' if measured else 'warm-up'} {rep + 1})"
            extra = measured and budgets[orch].extra

            def work(o: str = orch, lab: str = label, ex: bool = extra) -> ProbeRun | None:
                return _attempt(bench, lab, lambda: run_probe(
                    o, "load", root / o, [], LOAD_TIMEOUT_S), advance=not ex)

            run = budgets[orch].take(work) if measured else work()
            if run is None or not measured:
                continue
            versions[orch] = run.doc.get("version")
            got = samples[orch]
            got.setdefault("process_wall_s", []).append(run.wall_s)
            for metric in ("framework_import_s", "definitions_s"):
                if run.doc.get(metric) is not None:
                    got.setdefault(metric, []).append(float(run.doc[metric]))
        rep += 1
    shutil.rmtree(root, ignore_errors=True)
    _log_extra(bench, "definition load", budgets)
    for orch in targets:
        knobs = dict(LOAD_KNOBS[orch])
        if versions.get(orch):
            knobs["version"] = str(versions[orch])
        for metric, values in samples[orch].items():
            baseline = None if metric == "framework_import_s" else _base_key(
                "definition_load", metric, orch)
            bench.results.figures.append(Figure(
                DIMENSION, "definition_load", orch, metric, "s", values, variant="",
                baseline=baseline, knobs=knobs))


# --- chains of no-op tasks ----------------------------------------------------------

def chain_units(plan: Plan) -> int:
    return len(_pairs(plan))


def per_rep_fits(sizes: list[int], samples: dict[str, list[float]]) -> list[tuple[float, float]]:
    """(slope, intercept) of each repetition: every repetition ran every size once."""
    reps = min(len(samples[str(n)]) for n in sizes)
    xs = [float(n) for n in sizes]
    return [stats.linear_fit(xs, [samples[str(n)][r] for n in sizes]) for r in range(reps)]


def pooled_fit(sizes: list[int], samples: dict[str, list[float]]) -> tuple[float, float]:
    """One least-squares line over every sample: the fit a reader would draw."""
    xs = [float(n) for n in sizes for _ in samples[str(n)]]
    ys = [y for n in sizes for y in samples[str(n)]]
    return stats.linear_fit(xs, ys)


def _chain_figures(bench: Bench, orch: str, variant: str, doc: dict[str, Any]) -> None:
    sizes = [int(n) for n in doc["sizes"]]
    samples = {str(k): [float(x) for x in v] for k, v in doc["samples"].items()}
    fits = per_rep_fits(sizes, samples)
    slope, intercept = pooled_fit(sizes, samples)
    knobs = _knobs(doc)
    note = (f"pooled least-squares fit over all samples: {slope:.4f} s/task + {intercept:.3f} s; "
            f"first run: a chain of {doc['first_run_n']} in a fresh home")
    if doc.get("setup_s"):
        note += "; setup, not counted: " + ", ".join(
            f"{k} {v:.1f} s" for k, v in doc["setup_s"].items())
    if doc.get("processes"):
        note += f"; samples from {doc['processes']} probe processes (repeated until precise)"
    for metric, values in (("slope_s_per_task", [f[0] for f in fits]),
                           ("intercept_s", [f[1] for f in fits]),
                           ("first_run_s", [float(doc["first_run_s"])])):
        bench.results.figures.append(Figure(DIMENSION, "chain", orch, metric, "s", values,
                                            variant=variant, knobs=knobs, note=note))
    for n in sizes:
        bench.results.chains.append(ChainPoint("chain", orch, variant, n, samples[str(n)]))


def _variant_args(orch: str, variant: str) -> list[str]:
    return ["--variant", variant] if orch in ("dagster", "prefect") else []


# Dagster's multiprocess executor starts a process per op (2–3 s each on 2 cores): a
# full plan's repetitions would take most of an hour for a figure whose spread is
# small next to its size. Its chains and fan-outs stop at this many repetitions.
SLOW_VARIANT_REPS = {("dagster", "multiprocess"): 3}


def _reps(plan: Plan, orch: str, variant: str) -> int:
    return min(plan.reps, SLOW_VARIANT_REPS.get((orch, variant), plan.reps))


def _chain_precision(doc: dict[str, Any]) -> list[list[float]]:
    """The samples a chain's precision is judged on: each repetition's slope."""
    sizes = [int(n) for n in doc["sizes"]]
    samples = {str(k): [float(x) for x in v] for k, v in doc["samples"].items()}
    return [[f[0] for f in per_rep_fits(sizes, samples)]]


def _chain_merge(doc: dict[str, Any], more: dict[str, Any]) -> None:
    """Another probe process's repetitions, every size, after doc's own."""
    for n, values in more["samples"].items():
        doc["samples"].setdefault(n, []).extend(values)


def chain(bench: Bench) -> None:
    sizes = ",".join(str(n) for n in bench.plan.chain_sizes)
    _each_pair(bench, "chain", lambda orch, variant: ["--sizes", sizes], _chain_figures,
               _chain_precision, _chain_merge)


def _each_pair(bench: Bench, command: str, args: Callable[[str, str], list[str]],
               figures: Callable[[Bench, str, str, dict[str, Any]], None],
               precision: Callable[[dict[str, Any]], list[list[float]]],
               merge: Callable[[dict[str, Any], dict[str, Any]], None]) -> None:
    """One probe process per (orchestrator, variant), with the plan's repetitions; then,
    while `precision(doc)` (the samples the figures are judged on) is not precise and
    the caps allow (benchmarks/repeat.py), more probe processes, each with as many
    repetitions as still fit, `merge`d into the first one's document."""
    plan = bench.plan
    for orch, variant in _pairs(plan):
        reps = _reps(plan, orch, variant)
        budget = Budget(plan, reps, max_reps=SLOW_VARIANT_REPS.get((orch, variant)))
        label = f"{command}: {orch}{f' {variant}' if variant else ''}"
        doc: dict[str, Any] | None = None
        processes = 0
        count = reps
        while count > 0:
            workdir = bench.workdir / "latency" / f"{command}-{orch}-{variant or 'plain'}"
            extra = [*args(orch, variant), "--reps", str(count),
                     "--warmup", str(plan.warmup), *_variant_args(orch, variant)]
            first = doc is None

            def work(o: str = orch, w: Path = workdir, e: list[str] = extra,
                     lab: str = label if first else f"{label} ({count} more)",
                     f: bool = first) -> ProbeRun | None:
                return _attempt(bench, lab, lambda: run_probe(o, command, w, e, RUN_TIMEOUT_S),
                                advance=f)

            run = budget.take_batch(work, count)
            shutil.rmtree(workdir, ignore_errors=True)
            if run is None:
                break
            processes += 1
            if doc is None:
                doc = run.doc
            else:
                merge(doc, run.doc)
            count = budget.next_batch(reps) if budget.more(*precision(doc)) else 0
        if doc is not None:
            if processes > 1:
                doc["processes"] = processes
            figures(bench, orch, variant, doc)
        _log_extra(bench, label, {"": budget})


def _log_extra(bench: Bench, what: str, budgets: dict[str, Budget]) -> None:
    """One line for the figures that took more than the plan's repetitions."""
    grown = {name: b for name, b in budgets.items() if b.taken > b.reps}
    if grown:
        bench.log(f"{what}: repeated until precise or capped: " + ", ".join(
            f"{name + ' ' if name else ''}{b.taken} samples in {b.spent:.0f} s"
            for name, b in grown.items()))


# --- fan-out -----------------------------------------------------------------------

def fanout_units(plan: Plan) -> int:
    return len(_pairs(plan))


def _fanout_figures(bench: Bench, orch: str, variant: str, doc: dict[str, Any]) -> None:
    n, sleep = int(doc["n"]), float(doc["sleep_s"])
    walls = [float(x) for x in doc["samples"]]
    knobs = {**_knobs(doc), "n": str(n), "sleep_s": f"{sleep:g}"}
    note = f"first run (fresh home): {float(doc['first_run_s']):.2f} s"
    if doc.get("processes"):
        note += f"; samples from {doc['processes']} probe processes (repeated until precise)"
    bench.results.figures.append(Figure(
        DIMENSION, "fanout", orch, "wall_s", "s", walls, variant=variant,
        baseline=_base_key("fanout", "wall_s", orch), knobs=knobs, note=note))
    bench.results.figures.append(Figure(
        DIMENSION, "fanout", orch, "parallelism", "x", [n * sleep / w for w in walls],
        variant=variant, knobs=knobs, note=f"n × sleep / wall; {n} = all at once"))
    bench.results.chains.append(ChainPoint("fanout", orch, variant, n, walls))


def _fanout_merge(doc: dict[str, Any], more: dict[str, Any]) -> None:
    doc["samples"].extend(more["samples"])


def fanout(bench: Bench) -> None:
    n, sleep = str(bench.plan.fanout_n), f"{bench.plan.fanout_sleep_s:g}"
    _each_pair(bench, "fanout", lambda orch, variant: ["--n", n, "--sleep", sleep],
               _fanout_figures, lambda doc: [[float(x) for x in doc["samples"]]],
               _fanout_merge)


# --- raw docker run ------------------------------------------------------------------

def container_units(plan: Plan) -> int:
    return 1 + plan.warmup + plan.reps  # the image check, then every run


def train_image() -> str:
    """The content tag `orchbench images build` builds; missing means not built yet."""
    from core.images import image_tag

    tag = image_tag("train")
    found = subprocess.run(["docker", "image", "inspect", tag], capture_output=True,
                           text=True, check=False, timeout=DOCKER_TIMEOUT_S)
    if found.returncode != 0:
        raise OrchbenchError(f"The image {tag} is not built (or Docker is unreachable): "
                             f"{found.stderr.strip()}",
                             "Run `orchbench images build`, then the benchmark again.")
    return tag


def docker_run_true(image: str) -> float:
    """What benchmarks/runner_overhead.py calls the CLI variant, labelled for leftover checks."""
    argv = ["docker", "run", "--rm", "--network", "none"]
    if os.environ.get("ORCHBENCH_SESSION"):
        argv += ["--label", f"orchbench.session={os.environ['ORCHBENCH_SESSION']}"]
    t0 = time.perf_counter()
    done = subprocess.run([*argv, image, "true"], capture_output=True, text=True, check=False,
                          timeout=DOCKER_TIMEOUT_S)
    wall = time.perf_counter() - t0
    if done.returncode != 0:
        raise OrchbenchError(f"`docker run --rm {image} true` failed: {done.stderr.strip()}",
                             "Check that Docker runs (`docker info`) and `orchbench doctor`.")
    return wall


def _docker_version() -> str:
    done = subprocess.run(["docker", "version", "--format", "{{.Server.Version}}"],
                          capture_output=True, text=True, check=False, timeout=DOCKER_TIMEOUT_S)
    return done.stdout.strip() or "unknown"


def container(bench: Bench) -> None:
    plan = bench.plan
    image = _attempt(bench, "docker run: image check", train_image)
    if image is None:
        for _ in range(container_units(plan) - 1):
            bench.advance("docker run: skipped")
        return
    for i in range(plan.warmup):
        _attempt(bench, f"docker run (warm-up {i + 1})", lambda: docker_run_true(image))
    budget = Budget(plan)
    walls: list[float] = []
    while budget.more(walls):
        label = f"docker run (rep {plan.warmup + budget.taken + 1})"
        wall = budget.take(lambda lab=label, ex=budget.extra: _attempt(
            bench, lab, lambda: docker_run_true(image), advance=not ex))
        if wall is not None:
            walls.append(wall)
    _log_extra(bench, "docker run", {"": budget})
    knobs = {"command": "docker run --rm --network none IMAGE true", "image": image,
             "docker_server": _docker_version()}
    bench.results.figures.append(Figure(DIMENSION, "container", "docker", "wall_s", "s", walls,
                                        knobs=knobs))


@dataclass(frozen=True)
class Scenario:
    run: Callable[[Bench], None]
    units: Callable[[Plan], int]  # how many bench.advance calls run makes


SCENARIOS: dict[str, Scenario] = {
    "load": Scenario(definition_load, definition_load_units),
    "chain": Scenario(chain, chain_units),
    "fanout": Scenario(fanout, fanout_units),
    "container": Scenario(container, container_units),
}


def units(scenario: str, plan: Plan) -> int:
    """How many progress units `SCENARIOS[scenario].run` reports under `plan`."""
    return SCENARIOS[scenario].units(plan)
