"""The benchmark's result file: what was measured, how, where and when.

One JSON document per `orchbench bench` run, with a schema version, so reports
from two machines or two releases can be put side by side (`orchbench report
--compare`). Every number is a `Figure` that keeps its raw samples: the summary
(median and spread) is derived, and a reader can recompute it.

Shape (schema_version 1):

    {"schema_version": 1, "kind": "orchbench-bench", "mode": "quick"|"full",
     "command": "...", "started": ISO, "ended": ISO,
     "environment": {...},            # benchmarks/environment.py
     "settings": {...},               # the Plan: repetitions, sizes, timeouts
     "figures": [Figure, ...],        # every number, with its samples
     "chains": [ChainPoint, ...],     # per-task overhead: (orchestrator, variant, n, samples)
     "timelines": [Timeline, ...],    # the real pipeline, step by step, one run each
     "failures": [FailureCase, ...],  # the failure matrix
     "policy_runs": [PolicyRun, ...], # warm/cold policies on the same real days
     "notes": ["...", ...]}           # caveats found while running (e.g. a skipped part)

Lists added later (policy_runs) are optional when a file is read: a file written
before them loads with the list empty, and an older orchbench ignores them. So are
fields added later (a Figure's or FailureCase's `backend`, issue 13): absent, they
take their default, "" (the development layout, or not a served stack). A Figure's
median interval, precision and two-mode flag (issue 13) are derived like its median:
summarise() fills them in, so an older file gets them when it is rendered.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from benchmarks import stats
from core.config import POLICIES  # the policy scenario's policies, in report order
from core.lake import write_text

SCHEMA_VERSION = 1
KIND = "orchbench-bench"


@dataclass
class Figure:
    """One measured quantity for one orchestrator (and variant), with its samples.

    dimension: "setup" | "latency" | "failure"
    scenario:  e.g. "definition_load", "chain", "fanout", "pipeline", "served_lag",
               "ui_start", "environment", "wrapper"
    orchestrator: "direct" | "docker" | "prefect" | "airflow" | "dagster"
    variant:   "default" | "tuned" | "in_process" | "multiprocess" | "" (none)
    metric:    what was measured, e.g. "wall_s", "slope_s_per_task", "rss_mb"
    baseline:  the `key` of the figure this one is compared with, measured in the
               same run (ratio and its bootstrap interval are then filled in)
    knobs:     the settings that decide this figure (executor, poll interval, …)
    backend:   the served stack's layout (infra/stacks BACKENDS: "sqlite", "postgres",
               "celery"); "" when not a served stack, or in files written before
               backends (read as "sqlite" where a layout applies: it was the only one)
    """

    dimension: str
    scenario: str
    orchestrator: str
    metric: str
    unit: str
    samples: list[float]
    variant: str = ""
    baseline: str | None = None
    knobs: dict[str, str] = field(default_factory=dict)
    note: str = ""
    backend: str = ""
    # derived by summarise()
    median: float | None = None
    low: float | None = None
    high: float | None = None
    spread: str = ""  # "iqr" | "single" | "exact"
    ratio: float | None = None
    ratio_low: float | None = None
    ratio_high: float | None = None
    # derived by summarise() too (issue 13; absent in older files, recomputed on reading):
    # the median's distribution-free 95 % interval (stats.median_ci; None below 6 samples),
    # whether it lies within ±PRECISION_REL of the median (None: fewer than 3 samples,
    # not judged), and whether the samples have two modes (stats.modes)
    median_low: float | None = None
    median_high: float | None = None
    precise: bool | None = None
    bimodal: bool = False

    @property
    def key(self) -> str:
        return key(self.scenario, self.orchestrator, self.variant, self.metric, self.backend)


# The layout whose figures keep the keys they had before backends existed (issue 13):
# a report or `report --compare` of an older file matches them.
DEVELOPMENT = "sqlite"


def key(scenario: str, orchestrator: str, variant: str, metric: str,
        backend: str = "") -> str:
    """"scenario/orchestrator/variant/metric"; a production layout's figure has its
    backend after the variant ("served/prefect/default@postgres/trigger_to_done_s")."""
    return "/".join([scenario, orchestrator, (variant or "-") + backend_suffix(backend),
                     metric])


def backend_suffix(backend: str) -> str:
    """"@postgres" for a production layout; "" for the development one ("" or "sqlite")."""
    return "" if backend in ("", DEVELOPMENT) else f"@{backend}"


def layout(backend: str) -> str:
    """The backend as the report names it: "" (a file written before backends) is the
    development layout, "sqlite"."""
    return backend or DEVELOPMENT


@dataclass
class ChainPoint:
    """Wall time of a chain (or fan-out) of n no-op tasks, each repetition a sample.

    "scale_fanout" points (benchmarks/scale.py) come from a served stack: its layout
    (`backend`, as Figure's), the stack's peak PSS during the run (MB), and how long
    after the run's end its last task was recorded succeeded (s; Prefect's events)."""

    scenario: str  # "chain" | "fanout" | "scale_fanout"
    orchestrator: str
    variant: str
    n: int
    samples: list[float]
    backend: str = ""
    peak_pss_mb: float | None = None
    recorded_after_s: float | None = None


@dataclass
class Timeline:
    """One real pipeline run, step by step, in seconds from the driver's start."""

    orchestrator: str
    variant: str
    run: str  # "first" | "later"
    wall_s: float
    steps: list[dict[str, Any]]  # name, status, attempts, queued, started, ended (offsets, s)


@dataclass
class FailureCase:
    """What one orchestrator did in one failure scenario (one or more repetitions)."""

    scenario: str  # transient | always_fails | hang | killed | bad_input | docker_down
    orchestrator: str
    variant: str
    expected: str  # what a correct orchestrator does, in words
    noticed: bool  # the orchestrator's own record reached the right final state
    final_state: str  # as the orchestrator recorded it ("failed", "running", …)
    seconds_to_final: list[float]  # per repetition; from the failure's start
    attempts: int | None  # of the failing step
    containers_left: int
    lake_intact: bool
    model_intact: bool
    detail: str = ""  # the human text the report shows (benchmarks/failure.py summary)
    # The failing step's error as data (core.errors.StepError), beside `detail`: its kind
    # ("container_exit", "timeout", "bad_input", "docker_unavailable", …; "|"-joined
    # when repetitions differ) and the container's exit code. None: the run succeeded,
    # or it left no step error (a killed run). Absent in files written before them.
    error_kind: str | None = None
    exit_code: int | None = None
    # The served stack's layout (Figure.backend); "" for a local driver's case, and in
    # files written before backends.
    backend: str = ""

    @property
    def key(self) -> str:
        """"killed/prefect/default", with "@postgres" after the variant for a
        production layout (as Figure.key)."""
        return (f"{self.scenario}/{self.orchestrator}/{self.variant or '-'}"
                + backend_suffix(self.backend))


@dataclass
class PolicyRun:
    """One policy's daily run of one logical date (benchmarks/policy.py): check_drift,
    train and evaluate on the same lake as the other policies' runs of that date.

    skill = 1 − mse / persistence_mse (None when the evaluate step did not report it).
    """

    policy: str  # "drift" (core/policy.py) | "always_cold" | "always_warm"
    day: str  # the logical date, YYYY-MM-DD
    strategy: str  # "warm" | "cold", as check_drift decided
    reason: str  # the decision's reason (core/policy.py)
    mse: float | None
    skill: float | None
    persistence_mse: float | None
    train_s: float  # wall time of the train step (its container included)
    drifted_columns: list[str] = field(default_factory=list)
    dataset: str = ""  # the dataset profile's name




@dataclass
class PolicySummary:
    """One policy over the days it ran: what the report's policy table shows."""

    policy: str
    days: int
    mean_mse: float | None  # over the days with a finite MSE
    mean_skill: float | None  # over the days with a skill (None: evaluate gave none)
    # 1 − ΣMSE / Σpersistence MSE over the days with both: unlike the mean of daily
    # skills, a calm day whose persistence MSE is tiny cannot outweigh a smog day
    pooled_skill: float | None
    train_s: float  # total wall time of the train steps
    cold_starts: int


def policy_summary(runs: list[PolicyRun]) -> list[PolicySummary]:
    """Per policy (drift, always_cold, always_warm, then any other), in that order."""
    names = sorted({r.policy for r in runs},
                   key=lambda p: (POLICIES.index(p) if p in POLICIES else len(POLICIES), p))
    out = []
    for name in names:
        mine = [r for r in runs if r.policy == name]
        mses = [r.mse for r in mine if r.mse is not None and math.isfinite(r.mse)]
        skills = [r.skill for r in mine if r.skill is not None and math.isfinite(r.skill)]
        both = [(r.mse, r.persistence_mse) for r in mine
                if r.mse is not None and r.persistence_mse is not None]
        persistence = sum(b for _, b in both)
        out.append(PolicySummary(
            name, len(mine), sum(mses) / len(mses) if mses else None,
            sum(skills) / len(skills) if skills else None,
            1 - sum(a for a, _ in both) / persistence if persistence > 0 else None,
            sum(r.train_s for r in mine), sum(r.strategy == "cold" for r in mine)))
    return out


@dataclass
class ResultSet:
    mode: str
    command: str
    started: str
    environment: dict[str, Any]
    settings: dict[str, Any]
    ended: str = ""
    figures: list[Figure] = field(default_factory=list)
    chains: list[ChainPoint] = field(default_factory=list)
    timelines: list[Timeline] = field(default_factory=list)
    failures: list[FailureCase] = field(default_factory=list)
    policy_runs: list[PolicyRun] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    schema_version: int = SCHEMA_VERSION
    kind: str = KIND

    def figure(self, scenario: str, orchestrator: str, variant: str,
               metric: str, backend: str = "") -> Figure | None:
        wanted = key(scenario, orchestrator, variant, metric, backend)
        return next((f for f in self.figures if f.key == wanted), None)

    def precision(self) -> tuple[int, int]:
        """(precise, judged): of the figures with PRECISION_MIN_SAMPLES samples or more,
        how many have their median's 95 % interval within ±PRECISION_REL. Summarise first."""
        judged = [f for f in self.figures if f.precise is not None]
        return sum(bool(f.precise) for f in judged), len(judged)

    def summarise(self) -> ResultSet:
        """Fill in medians, spreads and ratios against each figure's baseline."""
        by_key = {f.key: f for f in self.figures}
        for f in self.figures:
            summarise_figure(f, by_key.get(f.baseline) if f.baseline else None)
        return self

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# The report's precision criterion: a figure is precise when its median's 95 % interval
# lies within ±5 % of the median (issue 13). Figures with fewer samples are not judged.
PRECISION_REL = 0.05
PRECISION_MIN_SAMPLES = 3


def summarise_figure(f: Figure, base: Figure | None = None) -> None:
    """Median and quartiles (low, high), the median's interval and precision, two modes,
    and the ratio to the baseline with its bootstrap interval."""
    ci = stats.median_ci(f.samples) if f.samples else None
    f.median_low, f.median_high = ci if ci is not None else (None, None)
    f.precise = (stats.precise(f.samples, PRECISION_REL)
                 if len(f.samples) >= PRECISION_MIN_SAMPLES else None)
    f.bimodal = stats.bimodal(f.samples)
    if not f.samples:
        f.median = f.low = f.high = None
        f.spread = "none"
        return
    if len(f.samples) == 1:
        f.median = f.low = f.high = f.samples[0]
        f.spread = "single"
    else:
        f.low, f.median, f.high = stats.quartiles(f.samples)
        f.spread = "iqr"
    if base is not None and base.samples and stats.median(base.samples) > 0:
        f.ratio = stats.ratio(f.samples, base.samples)
        f.ratio_low, f.ratio_high = stats.bootstrap_ratio_ci(f.samples, base.samples)


def save(results: ResultSet, path: Path) -> Path:
    """Write atomically (core.lake): a half-written result file never replaces a good one."""
    write_text(json.dumps(results.to_dict(), indent=1, sort_keys=False) + "\n", path,
               mode=0o644)
    return path


def load(path: Path) -> ResultSet:
    """Read a result file; refuses other kinds and newer schema versions by name."""
    from core.errors import OrchbenchError

    try:
        data = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise OrchbenchError(f"No result file at {path}.",
                             "Run `orchbench bench` first, or give the path of one.") from None
    except json.JSONDecodeError as err:
        raise OrchbenchError(f"{path} is not JSON ({err}).",
                             "Give a file written by `orchbench bench`.") from None
    if not isinstance(data, dict) or data.get("kind") != KIND:
        raise OrchbenchError(f"{path} is not an orchbench benchmark result.",
                             "Give a file written by `orchbench bench` (results.json).")
    version = data.get("schema_version")
    if version != SCHEMA_VERSION:
        raise OrchbenchError(
            f"{path} has schema version {version}; this orchbench reads {SCHEMA_VERSION}.",
            "Render it with the orchbench release that wrote it.")
    try:
        return _from_dict(data)
    except (KeyError, TypeError) as err:
        raise OrchbenchError(f"{path} is damaged or was not written by orchbench ({err}).",
                             "Run `orchbench bench` again to get a complete file.") from None


def _from_dict(data: dict[str, Any]) -> ResultSet:
    return ResultSet(
        mode=data["mode"], command=data["command"], started=data["started"],
        ended=data.get("ended", ""), environment=data["environment"],
        settings=data["settings"],
        figures=[Figure(**f) for f in data.get("figures", [])],
        chains=[ChainPoint(**c) for c in data.get("chains", [])],
        timelines=[Timeline(**t) for t in data.get("timelines", [])],
        failures=[FailureCase(**c) for c in data.get("failures", [])],
        policy_runs=[PolicyRun(**p) for p in data.get("policy_runs", [])],
        notes=list(data.get("notes", [])),
    )
