"""Latency: definition load, per-task overhead (chains), fan-out, the real pipeline with
its step timelines, served mode, and the knobs behind each figure."""

from __future__ import annotations

from typing import Any

from benchmarks import stats
from benchmarks.report import svg
from benchmarks.report.blocks import (
    chart,
    figure_table,
    figures_of,
    impls_in,
    layout_table,
    layouts_in,
    plots,
)
from benchmarks.report.document import Block, Cell, Heading, Para, Plots, Row, Table, Text
from benchmarks.report.formatting import (
    NONE,
    figure_plain,
    impl_label,
    is_secondary,
    layouts_sentence,
    order_key,
)
from benchmarks.report.sections.scale import scale_blocks
from benchmarks.results import ChainPoint, ResultSet, Timeline

# A chain line whose slowest point is this many times the median line's is left out of
# the zoomed plot.
ZOOM_FACTOR = 4.0


def latency_section(results: ResultSet) -> list[Block]:
    """Heading and the seven subsections, in page order."""
    blocks: list[Block] = [Heading(2, "Latency", "latency")]
    blocks += definition_load_blocks(results)
    blocks += chain_blocks(results)
    blocks += fanout_blocks(results)
    blocks += pipeline_blocks(results)
    blocks += served_blocks(results)
    blocks += scale_blocks(results)
    blocks += knobs_blocks(results)
    return blocks


def definition_load_blocks(results: ResultSet) -> list[Block]:
    """Framework import, our definitions and the whole process, as a table and two charts."""
    metrics = [("framework_import_s", "framework import"), ("definitions_s", "our definitions"),
               ("process_wall_s", "whole process")]
    return [Heading(3, "Definition load"),
            Para("A fresh process imports the framework and loads the pipeline's definitions "
                 "(flow import, DAG parse, Definitions load); the whole process is timed "
                 "from outside."),
            figure_table(results, "definition_load", metrics),
            *plots(chart(results, "definition_load", "process_wall_s",
                         "Definition load, whole process"),
                   chart(results, "definition_load", "framework_import_s", "Framework import"))]


def chain_blocks(results: ResultSet) -> list[Block]:
    """Slope, intercept and first run per implementation, one column per chain size n,
    and the chain plots."""
    sizes = sorted({c.n for c in results.chains if c.scenario == "chain"})
    metrics = [("slope_s_per_task", "per task (slope)"), ("intercept_s", "intercept"),
               ("first_run_s", "first run")]
    pairs = sorted(set(impls_in(results, "chain")) | {(c.orchestrator, c.variant)
                                                       for c in results.chains
                                                       if c.scenario == "chain"},
                   key=lambda p: order_key(*p))
    table = figure_table(results, "chain", metrics, pairs)
    table.header += [f"n={n}" for n in sizes]
    for row, (orch, variant) in zip(table.rows, pairs, strict=True):
        row.cells += [Cell([chain_texts(results.chains, orch, variant, n)]) for n in sizes]
    return [Heading(3, "Per-task overhead"),
            Para("Chains of n no-op tasks, run with each orchestrator's local test mode; the "
                 "slope of wall time against n is the cost of one more task, the intercept the "
                 "fixed cost of a run. Points are medians, bars the IQR."),
            table, *plots(*chain_plots(results))]


def chain_texts(chains: list[ChainPoint], orch: str, variant: str, n: int) -> list[Text]:
    """"median s [q1–q3] (n=…)" of the chain of n tasks; ["—"] if not run."""
    point = next((c for c in chains if c.scenario == "chain" and c.orchestrator == orch
                  and c.variant == variant and c.n == n), None)
    if point is None or not point.samples:
        return [Text(NONE)]
    q1, med, q3 = stats.quartiles(point.samples)
    return [Text(f"{svg.fmt(med)} s"),
            Text(f" [{svg.fmt(q1)}–{svg.fmt(q3)}] (n={len(point.samples)})", "spread")]


def chain_plots(results: ResultSet) -> list[str]:
    """The chain plot; plus a zoomed one without the slowest lines when they flatten the rest.

    Dagster's multiprocess executor costs seconds per task where others cost
    milliseconds: on one linear axis every other line lies on the floor.
    """
    series = chain_series(results)
    if not series:
        return []
    out = [svg.line_plot(series, title="Chain of n no-op tasks: wall time",
                         x_label="tasks in the chain (n)", y_label="wall time (s)")]
    peaks = [max(p[3] for p in s.points) for s in series]
    typical = stats.median(peaks)
    slow = {i for i, v in enumerate(peaks) if v > ZOOM_FACTOR * typical}
    kept = [s for i, s in enumerate(series) if i not in slow]
    if slow and len(kept) >= 2:
        out.append(svg.line_plot(kept, title="The same, zoomed: without "
                                 + ", ".join(series[i].label.split(":")[0] for i in sorted(slow)),
                                 x_label="tasks in the chain (n)", y_label="wall time (s)"))
    return out


def chain_series(results: ResultSet) -> list[svg.Series]:
    """One line per implementation: (n, median, q1, q3) points, the fit in the label."""
    groups: dict[tuple[str, str], list[ChainPoint]] = {}
    for c in results.chains:
        if c.scenario == "chain" and c.samples:
            groups.setdefault((c.orchestrator, c.variant), []).append(c)
    series = []
    for (orch, variant), points in sorted(groups.items(), key=lambda kv: order_key(*kv[0])):
        slope, intercept = chain_fit(results, orch, variant, points)
        label = (f"{impl_label(orch, variant)}: {svg.fmt(slope)} s/task + "
                 f"{svg.fmt(intercept)} s")
        series.append(svg.Series(label, svg.colour(orch),
                                 [(c.n, *_mid_iqr(c.samples)) for c in points],
                                 dashed=is_secondary(variant)))
    return series


def _mid_iqr(samples: list[float]) -> tuple[float, float, float]:
    q1, med, q3 = stats.quartiles(samples)
    return med, q1, q3


def chain_fit(results: ResultSet, orch: str, variant: str,
              points: list[ChainPoint]) -> tuple[float, float]:
    """(slope s/task, intercept s): the recorded figures' medians; if absent, a
    least-squares fit of the points' medians (stats.linear_fit), or with a single chain
    size a flat line through their mean. points must not be empty."""
    slope = results.figure("chain", orch, variant, "slope_s_per_task")
    intercept = results.figure("chain", orch, variant, "intercept_s")
    if slope is not None and slope.median is not None and intercept is not None \
            and intercept.median is not None:
        return slope.median, intercept.median
    xs = [float(c.n) for c in points]
    ys = [stats.median(c.samples) for c in points]
    if len(set(xs)) < 2:
        return 0.0, sum(ys) / len(ys)
    return stats.linear_fit(xs, ys)


def fanout_blocks(results: ResultSet) -> list[Block]:
    """Fan-out wall and parallelism, a chart, and the raw container start if measured."""
    container = figures_of(results, "container", "wall_s")
    blocks: list[Block] = [
        Heading(3, "Fan-out"),
        Para("n independent tasks that each sleep the same time, run the orchestrator's "
             "usual way; parallelism = n × sleep / wall (n would be perfect)."),
        figure_table(results, "fanout", [("wall_s", "wall"), ("parallelism", "parallelism")]),
        *plots(chart(results, "fanout", "wall_s", "Fan-out wall time")),
    ]
    if container:
        blocks.append(Para("Raw container start, `docker run --rm --network none IMAGE true`: "
                           + "; ".join(figure_plain(f) for f in container) + "."))
    return blocks


def pipeline_blocks(results: ResultSet) -> list[Block]:
    """First and later runs of the real pipeline, and its step timelines."""
    metrics = [("first_wall_s", "first run"), ("later_wall_s", "later run"),
               ("later_steps_s", "later run, steps only"), ("overhead_s", "overhead")]
    blocks: list[Block] = [
        Heading(3, "The real pipeline, first run vs later runs"),
        Para("The five-step pipeline on the same data; the first run on a fresh home includes "
             "creating the orchestrator's database. Overhead = wall time not spent inside "
             "the steps."),
        figure_table(results, "pipeline", metrics)]
    blocks += timeline_blocks(results.timelines)
    return blocks


def timeline_blocks(timelines: list[Timeline]) -> list[Block]:
    """One Gantt chart per run, later runs first; runs of one kind share a time axis."""
    if not timelines:
        return []
    ordered = sorted(timelines, key=lambda t: (t.run != "later", *order_key(t.orchestrator,
                                                                             t.variant)))
    x_max = {run: max(_timeline_end(t) for t in timelines if t.run == run)
             for run in {t.run for t in timelines}}
    images = [svg.timeline(_lane(t), x_max=x_max[t.run]) for t in ordered]
    return [Para("Step timelines, one run each: a pale bar is time queued, a solid bar time "
                 "running, a red outline a failed step; timelines of the same kind of run "
                 "share one time axis."), Plots(images)]


def _timeline_end(t: Timeline) -> float:
    ends = [s.get("ended") for s in t.steps if isinstance(s.get("ended"), int | float)]
    return max([t.wall_s or 0.0, *ends])


def _lane(t: Timeline) -> svg.Lane:
    spans = [svg.Span(str(s.get("name", "?")), _num(s.get("queued")), _num(s.get("started")),
                      _num(s.get("ended")), str(s.get("status", "")), s.get("attempts"))
             for s in t.steps]
    title = f"{impl_label(t.orchestrator, t.variant)} — {t.run} run"
    return svg.Lane(title, svg.colour(t.orchestrator), spans, t.wall_s)


def _num(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def served_blocks(results: ResultSet) -> list[Block]:
    """Trigger → first task and trigger → done with the orchestrator's services running,
    a row per variant and layout (backend)."""
    metrics = [("trigger_to_first_task_s", "trigger → first task"),
               ("trigger_to_done_s", "trigger → done")]
    served = layouts_in(results, "served")
    where = ("in each layout measured (a stack's layouts in adjacent rows)" if len(served) > 1
             else "as a user deploys it locally")
    return [Heading(3, "Served mode: trigger to first task"),
            Para(f"The orchestrator's own scheduler or worker is running, {where}; a run is "
                 "triggered and we time until its first task starts. \"default\" is out of "
                 "the box, \"tuned\" with the settings a user tuning for latency would "
                 "choose (see Knobs). " + layouts_sentence(set(served or ["sqlite"]))),
            layout_table(results, "served", metrics),
            *plots(chart(results, "served", "trigger_to_first_task_s",
                         "Served: trigger → first task"))]


def knobs_blocks(results: ResultSet) -> list[Block]:
    """Each distinct set of knobs once, with the scenarios it applies to."""
    groups: dict[tuple[str, str, str], list[str]] = {}
    for f in results.figures:
        if f.knobs:
            knobs = "; ".join(f"{k}={v}" for k, v in sorted(f.knobs.items()))
            scenarios = groups.setdefault((f.orchestrator, f.variant, knobs), [])
            if f.scenario not in scenarios:
                scenarios.append(f.scenario)
    if not groups:
        return [Heading(3, "Knobs"), Para("No knobs recorded in this run.")]
    rows = [Row(impl_label(o, v), [Cell.of(", ".join(sc)), Cell.of(knobs)])
            for (o, v, knobs), sc in sorted(groups.items(), key=lambda kv: order_key(*kv[0][:2]))]
    return [Heading(3, "Knobs"),
            Para("The settings that decide each figure (executor, database, poll intervals)."),
            Table(["", "scenarios", "knobs"], rows)]
