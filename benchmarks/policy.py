"""Does the warm/cold policy pay? Three policies on the same real days.

Warm starts save training time; the question is whether they drift into a worse
model, and whether the drift policy (core/policy.py) buys its cold starts where
they help. On the real Beijing data (`orchbench data get beijing`), the same
daily dates are trained three ways:

- "drift": the pipeline's own policy (drift check, periodic cold start);
- "always_cold": a fresh model every day;
- "always_warm": the first start is cold (there is no model yet), every later one warm.

The lake (ingest of every date, then one transform container over the whole
range) is built once and copied per policy, so every policy reads the same
refined files; each then runs the real steps check_drift → train → evaluate
(core.steps, no orchestrator) for every date in order, its models in its own
store. Policies are interleaved per date, in a rotating order (drift, cold, warm;
cold, warm, drift; …), so a change in the machine's load hits all three alike
and none is always first. Per policy and date the result file keeps one
PolicyRun: the decision and its reason, the held-out day's MSE (and skill against
persistence, when the evaluate step reports it) and the train step's wall time.

The window (measured on the data): 35 days of history, 2013-10-11..2013-11-14,
fill the drift check's 28 + 7 day windows on the first daily date (the history's
first day has no rows: its lags need the day before); the daily dates start on
2013-11-15 (28 of them in the full plan, to 2013-12-12).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import shutil
import time
from collections.abc import Callable
from itertools import count
from pathlib import Path
from typing import Any

from benchmarks.plan import Bench, Plan
from benchmarks.results import POLICIES, PolicyRun, policy_summary
from core import steps
from core.config import Config, DriftConfig
from core.dataset import DatasetProfile, built_in
from core.dates import date_range
from core.errors import InputDataError
from infra.data import FIRST_DAILY

DATASET = "beijing"
FIRST_DAY = FIRST_DAILY[DATASET]  # 2013-11-15, the demo's first daily date too
# The drift windows' history (policy_config's default windows: 7 + 28 = 35 days).
HISTORY_START = FIRST_DAY - dt.timedelta(
    days=DriftConfig().current_days + DriftConfig().reference_days)


def units(plan: Plan) -> int:
    return 1 + plan.policy_days  # the shared lake, then one per date (all policies)


def daily_dates(plan: Plan) -> list[dt.date]:
    return [FIRST_DAY + dt.timedelta(days=i) for i in range(plan.policy_days)]


def profile(log: Callable[[str], None]) -> DatasetProfile:
    """The Beijing profile, reading the file `orchbench data get beijing` keeps (fetched
    now if it is not there yet)."""
    from infra.data import get

    path = get(DATASET, log=log)
    return dataclasses.replace(built_in(DATASET), files=str(path))


def policy_config(home: Path, dataset: DatasetProfile, policy: str = "drift") -> Config:
    """The pipeline's default config on the real dataset; only the policy differs."""
    return Config(home=home, dataset=dataset).replace(**{"drift.policy": policy})


def run(bench: Bench) -> None:
    days = daily_dates(bench.plan)
    if not days:
        bench.log("policy: policy_days is 0, nothing to run")
        return
    history = date_range(HISTORY_START, FIRST_DAY - dt.timedelta(days=1))
    bench.log(f"policy: dataset {DATASET}; history {history[0]}..{history[-1]} "
              f"({len(history)} days), then {len(days)} daily date(s) {days[0]}..{days[-1]} "
              f"× policies {', '.join(POLICIES)} (check_drift → train → evaluate, "
              "interleaved per date)")
    dataset = profile(bench.log)
    root = bench.workdir / "policy"
    shutil.rmtree(root, ignore_errors=True)
    base = root / "lake"
    started = time.perf_counter()
    _backfill(policy_config(base, dataset), HISTORY_START, days[-1])
    bench.log(f"policy: ingested and transformed {HISTORY_START}..{days[-1]} once in "
              f"{time.perf_counter() - started:.0f} s")
    bench.advance(f"policy: lake {HISTORY_START}..{days[-1]}")

    configs = {}
    for policy in POLICIES:
        home = root / policy
        shutil.copytree(base, home, symlinks=True)
        configs[policy] = policy_config(home, dataset, policy)
    for i, day in enumerate(days):
        order = POLICIES[i % len(POLICIES):] + POLICIES[:i % len(POLICIES)]
        try:
            done = {policy: run_day(configs[policy], day, policy) for policy in order}
        except InputDataError as err:
            # The day's data cannot be trained on or scored (e.g. no PM2.5 that day): the
            # same for every policy, so the date is left out for all of them, and said so.
            bench.results.notes.append(f"policy: {day} left out: {err.problem}")
            bench.log(f"policy {day}: left out: {err.problem}")
        else:
            bench.results.policy_runs.extend(done[p] for p in POLICIES)
            bench.log(f"policy {day}: " + " | ".join(
                f"{p} {r.strategy} mse {_num(r.mse)} train {r.train_s:.1f} s"
                for p, r in done.items()))
        bench.advance(f"policy: {day} ({i + 1}/{len(days)})")
    for s in policy_summary(bench.results.policy_runs):
        bench.log(f"policy: {s.policy:12} mean mse {_num(s.mean_mse)}, mean skill "
                  f"{_num(s.mean_skill)}, training {s.train_s:.0f} s, "
                  f"{s.cold_starts} cold of {s.days}")


def run_day(cfg: Config, day: dt.date, policy: str) -> PolicyRun:
    """check_drift → train → evaluate for one date, as the daily pipeline runs them."""
    ctx = steps.RunContext(cfg, day, log=_quiet, container_log=_quiet)
    decision = _step(ctx, "check_drift")
    begun = time.perf_counter()
    trained = _step(ctx, "train", decision)
    train_s = time.perf_counter() - begun
    metrics = _step(ctx, "evaluate", trained)
    return PolicyRun(policy, day.isoformat(), decision["strategy"], decision["reason"],
                     _finite(metrics.get("mse")), _finite(metrics.get("skill")),
                     _finite(metrics.get("persistence_mse")), round(train_s, 3),
                     list(decision.get("drifted_columns") or []), cfg.dataset.name)


def _backfill(cfg: Config, start: dt.date, end: dt.date) -> None:
    from core.direct import backfill_history

    backfill_history(cfg, start, end, log=_quiet)


def _step(ctx: steps.RunContext, name: str, *args: Any) -> dict[str, Any]:
    """One step with its configured retries, as the direct run does (a transient Docker
    hiccup must not end a half-hour measurement); the last failure is raised, naming it."""
    policy = ctx.cfg.steps[name]
    for attempt in count(1):
        try:
            return getattr(steps, name)(ctx, *args)
        except Exception as exc:
            if isinstance(exc, InputDataError):
                raise
            if not getattr(exc, "retryable", True) or attempt > policy.retries:
                raise RuntimeError(f"policy {ctx.cfg.drift.policy}, {ctx.day}: {name} failed "
                                   f"after {attempt} attempt(s): {exc}") from exc
            time.sleep(policy.retry_delay_s)
    raise AssertionError("unreachable")


def _quiet(_: str) -> None:
    pass


def _finite(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else None


def _num(value: float | None) -> str:
    return "—" if value is None else f"{value:.4g}"
