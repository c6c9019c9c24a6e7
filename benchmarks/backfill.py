"""Backfill (issue 13, item 4): consecutive logical dates of the real pipeline through
each orchestrator's own backfill mechanism, against the direct backfill of the same dates.

Where: on a served stack's default start (benchmarks/served.py), on the layouts
Plan.backfill_backends names, right after the stack answers and before its served runs,
so its home is still a fresh copy of the history. Plan.backfill_days dates from the first
after the history go through Stack.backfill, each date as its schedule runs it
(core.schedules.schedule_for: Sundays a forced cold start). Each stack's
`backfill_mechanism` names the mechanism, and it is recorded as a knob:
- Airflow: `POST /api/v2/backfills` (Airflow 3's backfill), a DAG at a time;
- Dagster: a run per date, all launched at once, which the run queue starts one at a time
  in order (a tag limit of 1);
- Prefect (no backfill of its own): a run per date, created when the one before ended.

The baseline, measured once per bench run on another copy of the same history: the
registry's loop in plain Python (core.direct.run_date), date after date.

Figures (scenario "backfill"; per stack and layout, and for direct):
- wall_s: the first submission to the last run's recorded end, s (direct: the loop's);
- run_s: each date's run, its first task's recorded start to its recorded end, s (a
  sample per date; direct: run_date's own start and end);
- overhead_s: wall_s − the sum of run_s: what the mechanism adds before and between the
  runs (the scheduler's loop, a worker's poll, the queue's dequeue, process starts);
- identical_dates: how many dates' decisions (strategy, reason, drifted columns,
  decision_id) and trained model versions (a content hash of the model) equal direct's.
  The report shows it against the number of dates; a difference is also a note.

A run that fails stops the backfill (the dates after it would fail on the gap): a note
names it, and the figures count the dates that ran.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from typing import Any

from benchmarks.fixtures import bench_day, fresh_home, home_config
from benchmarks.plan import Bench
from benchmarks.results import Figure
from core.config import Config
from core.errors import OrchbenchError, problem_of
from core.models import ModelStore
from core.result import duration_s
from core.schedules import schedule_for
from infra.stacks import RunningStack, Stack, StackSettings

SCENARIO = "backfill"
# What a date's result is compared on: check_drift's decision record, these keys.
DECISION_KEYS = ("strategy", "reason", "drifted_columns", "decision_id")
_CACHE_KEY = "backfill_direct"


def days(bench: Bench) -> list[str]:
    """The backfill's dates: Plan.backfill_days from the first after the history."""
    return [bench_day(bench, i) for i in range(bench.plan.backfill_days)]


def direct_baseline(bench: Bench) -> dict[str, dict[str, Any]]:
    """The direct backfill of `days(bench)` on a fresh copy of the history: each date's
    outcome (see `outcomes`). Run once per bench run (cached), its figures added to the
    results then. A date that fails ends it, as in a stack, with a note."""
    cached = bench.cache.get(_CACHE_KEY)
    if cached is not None:
        return cached
    from core.direct import run_date

    cfg = home_config(fresh_home(bench, "backfill-direct"))
    runs: list[float] = []
    ran: list[str] = []
    started = time.perf_counter()
    for day in days(bench):
        date = dt.date.fromisoformat(day)
        result = run_date(cfg, date, force_cold=schedule_for(date).force_cold,
                          log=lambda _: None, container_log=lambda _: None)
        if result.status != "success":
            bench.results.notes.append(f"backfill: direct run of {day} ended {result.status}: "
                                       f"{result.error}; the direct backfill stops there")
            break
        ran.append(day)
        runs.append(duration_s(result.started, result.ended) or 0.0)
    wall = time.perf_counter() - started
    baseline = outcomes(cfg, ran)
    bench.results.figures += _figures("direct", "", "", wall, runs, len(ran), {},
                                      "the registry's loop in plain Python (core/direct.py), "
                                      "date after date")
    bench.advance(f"backfill: direct, {len(ran)} date(s) in {wall:.0f} s")
    bench.cache[_CACHE_KEY] = baseline
    return baseline


def through_stack(bench: Bench, st: Stack, running: RunningStack, s: StackSettings,
                  knobs: dict[str, str]) -> int:
    """The backfill on one started stack whose home is a fresh copy of the history (see
    the module's docstring); how many of its dates succeeded (the stack's next runs take
    the dates after them: a date that failed is run again first, as after a real failed
    backfill). A failure is a note and ends it; never raises for a run that fails. If the
    mechanism itself fails (a run past its timeout, the API refusing), that is a note too,
    and all its dates count as used."""
    baseline = direct_baseline(bench)
    label = s.label(st.name)
    wanted = days(bench)
    mechanism = st.backfill_mechanism(s)
    submitted = time.time()
    try:
        statuses = st.backfill(running, wanted, timeout_s=bench.plan.backfill_timeout_s)
    except (OrchbenchError, OSError) as err:  # a run past its timeout; the API refused
        bench.results.notes.append(f"backfill: {label} failed: "
                                   f"{problem_of(err).splitlines()[0]}")
        bench.advance(f"backfill: {label} failed")
        return len(wanted)  # where its runs stand is unknown: the next runs come after
    done = [status for status in statuses if status.succeeded]
    if len(done) < len(wanted):
        last = statuses[-1] if statuses else None
        bench.results.notes.append(
            f"backfill: {label}: {len(done)} of {len(wanted)} date(s) succeeded"
            + (f"; the run of {wanted[len(statuses) - 1]} ended {last.state} (steps: "
               f"{last.steps})" if last is not None and not last.succeeded else ""))
    runs = [(status.ended or 0.0) - (status.first_task_started or 0.0) for status in done]
    wall = (max(status.ended or 0.0 for status in done) - submitted) if done else None
    ran = wanted[:len(done)]
    got = outcomes(home_config(s.home), ran)
    same = [day for day in ran if got.get(day) == baseline.get(day)]
    if len(same) < len(ran):
        differ = [day for day in ran if day not in same]
        bench.results.notes.append(
            f"backfill: {label}: {len(differ)} date(s) differ from the direct backfill: "
            + "; ".join(f"{day}: {got.get(day)} against {baseline.get(day)}"
                        for day in differ[:2]))
    bench.results.figures += _figures(st.name, s.variant, s.backend, wall, runs, len(same),
                                      {**knobs, "mechanism": mechanism}, mechanism)
    bench.advance(f"backfill: {label}, {len(done)}/{len(wanted)} date(s) in {wall or 0:.0f} "
                  f"s, {len(same)} identical to direct")
    return len(done)


def outcomes(cfg: Config, ran: list[str]) -> dict[str, dict[str, Any]]:
    """{date: its decision's DECISION_KEYS and the version of the model trained for it}
    for each date of `ran`, read from the home's lake and model store: what two
    backfills of the same dates from the same history must agree on."""
    from core.steps import decision_file

    index = ModelStore.of(cfg).index()
    found = {}
    for day in ran:
        path = decision_file(cfg, dt.date.fromisoformat(day))
        decision = json.loads(path.read_text()) if path.exists() else {}
        found[day] = {**{k: decision.get(k) for k in DECISION_KEYS}, "model": index.get(day)}
    return found


def _figures(name: str, variant: str, backend: str, wall: float | None, runs: list[float],
             identical: int, knobs: dict[str, str], how: str) -> list[Figure]:
    """The scenario's four Figures; `wall` None (no date succeeded) leaves wall_s and
    overhead_s without samples."""
    common: dict[str, Any] = {"variant": variant, "backend": backend, "knobs": knobs}
    return [
        Figure("latency", SCENARIO, name, "wall_s", "s",
               [round(wall, 3)] if wall is not None else [],
               note=f"{len(runs)} date(s): {how}", **common),
        Figure("latency", SCENARIO, name, "run_s", "s", [round(r, 3) for r in runs],
               note="each date's run, its first task's start to its end", **common),
        Figure("latency", SCENARIO, name, "overhead_s", "s",
               [round(wall - sum(runs), 3)] if wall is not None else [],
               note="wall_s minus the runs: the mechanism's own time", **common),
        Figure("latency", SCENARIO, name, "identical_dates", "dates", [float(identical)],
               note=f"of {len(runs)}: decision and model version equal to direct's", **common),
    ]
