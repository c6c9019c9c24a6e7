"""Scale (issue 13, item 4; benchmarks/scale.py), per served stack and layout: the
fan-out curve (wall time and peak memory against the number of mapped tasks, the fitted
slope, whether the cost grows faster than linearly), runs triggered at once against
a run concurrency limit (makespan, queue wait, runs per minute, the most at once), and a
backfill of consecutive dates against direct's (benchmarks/backfill.py)."""

from __future__ import annotations

from benchmarks import stats
from benchmarks.report import svg
from benchmarks.report.blocks import layout_table, plots
from benchmarks.report.document import Block, Cell, Heading, Para, Row, Table, Text
from benchmarks.report.formatting import (
    NONE,
    figure_plain,
    impl_label,
    layout_rank,
    layouts_sentence,
    order_key,
)
from benchmarks.results import ChainPoint, ResultSet, layout
from core.names import FANOUT_RUN_LIMIT

SCENARIO = "scale_fanout"
BACKFILL = "backfill"  # benchmarks/backfill.py SCENARIO (the report does not run benchmarks)
RECORDED_LATE_S = 1.0  # a task recorded this long after its run's end is worth a mention


def scale_blocks(results: ResultSet) -> list[Block]:
    """The fan-out curve, the runs at once, the backfill; each only if the run measured it."""
    return (fanout_curve_blocks(results) + concurrent_runs_blocks(results)
            + backfill_blocks(results))


def backfill_blocks(results: ResultSet) -> list[Block]:
    """A row per stack and layout, and direct's (layout_table): the backfill's wall time,
    a date's run, the mechanism's own time, the dates identical to direct's; then each
    stack's mechanism, from its figures' knob."""
    figures = [f for f in results.figures if f.scenario == BACKFILL]
    if not figures:
        return []
    mechanisms = sorted({(f.orchestrator, f.knobs["mechanism"]) for f in figures
                         if f.metric == "wall_s" and "mechanism" in f.knobs},
                        key=lambda om: order_key(om[0], ""))
    metrics = [("wall_s", "wall"), ("run_s", "a date's run"),
               ("overhead_s", "mechanism's own"), ("identical_dates", "identical to direct")]
    return [Heading(3, "Scale: a backfill of consecutive dates"),
            Para("The real pipeline over consecutive logical dates after the history, one date "
                 "at a time and in order (a date's features need the day before), each as its "
                 "schedule runs it (Sundays a forced cold start), through the orchestrator's "
                 "own mechanism, against the direct backfill of the same dates from the same "
                 "history. Wall is from the first submission to the last run's recorded end; "
                 "a date's run from its first task's start to its end; the mechanism's own "
                 "time is wall minus the runs (scheduler loop, poll, queue, process starts); "
                 "identical counts the dates whose decision and model version equal direct's "
                 "(the figures' notes give the number of dates). Mechanisms: "
                 + "; ".join(f"{impl_label(o, '')}: {m}" for o, m in mechanisms) + "."),
            layout_table(results, BACKFILL, metrics)]


def concurrent_runs_blocks(results: ResultSet) -> list[Block]:
    """A row per stack and layout (layout_table): makespan, queue wait (median and p95),
    runs per minute, the most runs at once."""
    if not any(f.scenario == "scale_runs" for f in results.figures):
        return []
    metrics = [("makespan_s", "makespan"), ("queue_wait_s", "queue wait"),
               ("queue_wait_p95_s", "queue wait p95"), ("runs_per_min", "runs per minute"),
               ("max_at_once", "most at once")]
    return [Heading(3, "Scale: runs triggered at once"),
            Para("Fan-out runs triggered one API call after another, against the fan-out's "
                 f"run concurrency limit of {FANOUT_RUN_LIMIT}, each orchestrator's own "
                 "(Airflow max_active_runs, Prefect the deployment's concurrency_limit, "
                 "Dagster a tag limit of the run queue). Makespan is from the first trigger "
                 "to the last run's recorded end; queue wait from a run's trigger to its "
                 "recorded start; \"most at once\" must not pass the limit. How many runs "
                 "and tasks: see the Knobs and the figures' notes."),
            layout_table(results, "scale_runs", metrics)]


def fanout_curve_blocks(results: ResultSet) -> list[Block]:
    """A row per stack and layout: wall (s) and peak PSS (MB) at each size, the slope,
    the growth; one line plot of wall against n. Nothing if the run measured no curve."""
    curves = _curves(results)
    if not curves:
        return []
    sizes = sorted({p.n for points in curves.values() for p in points})
    rows = []
    for (orch, variant, backend), points in curves.items():
        by_n = {p.n: p for p in points}
        slope = results.figure(SCENARIO, orch, variant, "slope_s_per_task", backend)
        cells = [Cell.of(backend)]
        cells += [Cell([_point_texts(by_n.get(n))]) for n in sizes]
        cells += [Cell.of(figure_plain(slope) if slope is not None else NONE),
                  Cell.of(stats.growth([(p.n, p.samples[0]) for p in points]) or NONE)]
        rows.append(Row(impl_label(orch, variant), cells))
    series = [svg.Series(f"{impl_label(o, v)} ({b})", svg.colour(o),
                         [(p.n, p.samples[0], p.samples[0], p.samples[0]) for p in points],
                         dashed=b != "sqlite")
              for (o, v, b), points in curves.items() if len(points) >= 2]
    return [Heading(3, "Scale: fan-out of n no-op tasks"),
            Para("One run per size through the served stack's API: a task lists n items and "
                 "n no-op tasks are mapped over them the orchestrator's dynamic way (Airflow "
                 ".expand, Prefect .map, Dagster DynamicOut). Wall is the run's duration as "
                 "the orchestrator records it (start to end: the poll before it is the served "
                 "figures'); memory is the stack's peak PSS during the run; \"tasks +s\" is how "
                 "long after the run's end its last task was recorded (Prefect records task "
                 "runs from events). The slope "
                 "is a least-squares fit; \"faster than linear\" means a task costs more than "
                 f"{stats.SUPERLINEAR:g}× as much between the two largest sizes as between "
                 "the two smallest. "
                 "A size missing after a measured one failed or timed out (see Notes). "
                 + layouts_sentence({b for _, _, b in curves})),
            Table(["", "layout", *[f"n={n}" for n in sizes], "per task (slope)", "growth"],
                  rows),
            *plots(*([svg.line_plot(series, title="Fan-out: wall time against n",
                                    x_label="mapped tasks (n)", y_label="wall time (s)")]
                     if series else []))]


def _curves(results: ResultSet) -> dict[tuple[str, str, str], list[ChainPoint]]:
    """(orchestrator, variant, layout) → its points, ordered by size, in report order."""
    groups: dict[tuple[str, str, str], list[ChainPoint]] = {}
    for p in results.chains:
        if p.scenario == SCENARIO and p.samples:
            groups.setdefault((p.orchestrator, p.variant, layout(p.backend)), []).append(p)
    ordered = sorted(groups.items(), key=lambda kv: (*order_key(kv[0][0], kv[0][1]),
                                                      layout_rank(kv[0][2])))
    return {k: sorted(v, key=lambda p: p.n) for k, v in ordered}


def _point_texts(point: ChainPoint | None) -> list[Text]:
    """"wall s, peak MB" of one size; ["—"] if not measured."""
    if point is None:
        return [Text(NONE)]
    wall = stats.median(point.samples)
    peak = "" if point.peak_pss_mb is None else f", {point.peak_pss_mb:.0f} MB"
    late = point.recorded_after_s
    recorded = f", tasks +{late:.0f} s" if late is not None and late >= RECORDED_LATE_S else ""
    return [Text(f"{svg.fmt(wall)} s"), Text(peak + recorded, "spread")]
