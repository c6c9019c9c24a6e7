"""How much to measure: the quick and full plans, and the context scenarios share.

A scenario is a function `run(bench: Bench) -> None` that appends Figures (and
chain points, timelines, failure cases) to `bench.results`. The plan decides its
repetitions and sizes, so a scenario never hard-codes "how many": `--quick` and
the full run differ only here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.results import ResultSet
from core.names import ORCHESTRATORS  # the default of Plan.orchestrators

# The baselines, direct (plain Python) and docker (a raw `docker run`), are
# core.names.BASELINES: always measured.
SCENARIOS = ("setup", "load", "chain", "fanout", "container", "pipeline", "served", "failure",
             "policy")


@dataclass(frozen=True)
class Plan:
    mode: str
    warmup: int  # runs thrown away before measuring (imports, caches, first DB)
    reps: int  # repetitions of every cheap measurement
    chain_sizes: tuple[int, ...]  # no-op chain lengths: the slope is per task
    fanout_n: int  # parallel tasks in the fan-out
    fanout_sleep_s: float  # each fan-out task sleeps this long: parallelism shows
    pipeline_reps: int  # fresh-home repetitions of the real pipeline (first + later run)
    served_triggers: int  # triggered runs per stack and variant
    install_reps: int  # environment installs from a warm cache
    failure_reps: int
    kill_grace_s: float  # how long a served stack gets to notice a killed worker
    # The same for a local run. Its driver is the orchestrator there: once it is
    # killed nothing is left whose job is to notice, so a long wait only costs time.
    local_kill_grace_s: float
    ui_settle_s: float  # idle time before a UI stack's memory is read
    served_variants: tuple[str, ...]  # stack settings: "default" and/or "tuned"
    policy_days: int  # real daily dates each warm/cold policy is run on (benchmarks/policy.py)
    # (orchestrator, variant) pairs left out of the chain, fan-out and pipeline. The quick
    # plan leaves out Dagster's multiprocess executor: a process per op costs 2.5–4.5 s on
    # 2 cores (about 4 minutes of the quick run), and tests/test_dagster_impl.py runs it.
    skip_variants: tuple[tuple[str, str], ...] = ()
    # The served stacks' layouts (infra/stacks BACKENDS), each measured where the stack
    # supports it: "sqlite" the development one; the full plan adds the production ones
    # (issue 13). The quick plan keeps one: CI runs it, and each layout is another start
    # of every stack.
    served_backends: tuple[str, ...] = ("sqlite",)
    # The scale curve (benchmarks/scale.py): fan-outs of these many no-op tasks, one run
    # each, on every served layout's "default" start; a run that passes the timeout is
    # the figure, and ends the curve. The quick plan runs one small size: the path end to
    # end, on the development layouts CI serves.
    scale_fanout_sizes: tuple[int, ...] = ()
    scale_timeout_s: float = 600.0
    # Then scale_runs fan-outs of scale_run_tasks tasks at once, against the definition's
    # run concurrency limit (core.names.FANOUT_RUN_LIMIT); 0: not measured.
    scale_runs: int = 0
    scale_run_tasks: int = 1
    # The backfill (benchmarks/backfill.py): this many consecutive dates after the history
    # through each orchestrator's own mechanism, on the "default" start of each layout
    # named here, against the direct backfill of the same dates; 0: not measured. The
    # quick plan's 2 dates are CI's run of every mechanism end to end (a Monday and a
    # Tuesday: the weekly cold start's DAG is the full plan's).
    backfill_days: int = 0
    backfill_backends: tuple[str, ...] = ()
    backfill_timeout_s: float = 900.0  # one date's run, from its start
    scenarios: tuple[str, ...] = SCENARIOS
    # Repetition until precise (issue 13, benchmarks/repeat.py): a figure whose samples can
    # be retaken one at a time is measured `reps` times (served_triggers for served runs),
    # then again while its median's 95 % interval is wider than ±precision_rel, until it
    # has max_reps samples or max_figure_s seconds went into it. precision_rel 0: fixed
    # repetitions.
    precision_rel: float = 0.0
    max_reps: int = 0
    max_figure_s: float = 0.0
    orchestrators: tuple[str, ...] = ORCHESTRATORS

    def measures(self, orchestrator: str, variant: str) -> bool:
        """Whether this plan measures the variant (skip_variants)."""
        return (orchestrator, variant) not in self.skip_variants

    def only(self, scenarios: list[str] | None, orchestrators: list[str] | None) -> Plan:
        return dataclasses.replace(
            self,
            scenarios=tuple(scenarios) if scenarios else self.scenarios,
            orchestrators=tuple(orchestrators) if orchestrators else self.orchestrators)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


# reps=2 in the quick plan (issue 11): the quick run is a smoke run whose figures are
# a first look; two samples still give a spread, and the full plan takes five. The
# third cost about 90 s of every CI run (load, chain, fan-out, container).
QUICK = Plan(mode="quick", warmup=1, reps=2, chain_sizes=(1, 4), fanout_n=4,
             fanout_sleep_s=1.0, pipeline_reps=1, served_triggers=1, install_reps=1,
             failure_reps=1, kill_grace_s=10, local_kill_grace_s=10, ui_settle_s=5,
             served_variants=("default",), policy_days=2, served_backends=("sqlite",),
             scale_fanout_sizes=(5,), scale_timeout_s=300, scale_runs=5, scale_run_tasks=1,
             backfill_days=2, backfill_backends=("sqlite",),
             skip_variants=(("dagster", "multiprocess"),))
# The full plan repeats until precise (issue 13): ±5 % needs 6 samples at the least (the
# smallest n with a 95 % interval of the median), 20 give the interval X(6)–X(15). The
# time cap bounds what one figure may cost: 120 s, so load, fan-out and container figures
# (seconds a sample) reach 20 samples while a chain (one probe process a batch) or a
# served stack (a pipeline run a sample) gets a few more at most. The quick plan keeps
# fixed repetitions: CI runs it, and it must not grow.
FULL = Plan(mode="full", warmup=1, reps=5, chain_sizes=(1, 4, 8, 16), fanout_n=6,
            fanout_sleep_s=1.0, pipeline_reps=3, served_triggers=3, install_reps=3,
            failure_reps=2, kill_grace_s=75, local_kill_grace_s=20,
            ui_settle_s=15,
            served_variants=("default", "tuned"), policy_days=28,
            served_backends=("sqlite", "postgres", "celery"),
            scale_fanout_sizes=(10, 100, 500), scale_timeout_s=600, scale_runs=20,
            scale_run_tasks=10, backfill_days=30, backfill_backends=("postgres",),
            precision_rel=0.05, max_reps=20, max_figure_s=120.0)


@dataclass
class Bench:
    """What a scenario gets: the plan, the results to add to, a scratch folder
    (deleted after the run), and progress reporting."""

    plan: Plan
    results: ResultSet
    workdir: Path
    log: Callable[[str], None] = print
    advance: Callable[[str], None] = lambda label: None  # one unit of progress done
    cache: dict[str, Any] = field(default_factory=dict)  # shared fixtures (e.g. a history)

    def wanted(self, name: str) -> bool:
        return name in self.plan.orchestrators
