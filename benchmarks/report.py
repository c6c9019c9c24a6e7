"""`orchbench report`: one result file as HTML, Markdown and JSON; two side by side.

The reader is choosing an orchestrator and has five minutes, so the page opens with
one summary table, then one section per dimension (setup effort, latency, failure
handling), then how to reproduce and the caveats. Every number carries its spread
and sample count ("median [q1–q3] (n=…)") and, where it has a baseline measured in
the same run, the ratio with its bootstrap interval: a bare median from a shared
2-core machine would invite more trust than it deserves.

The page is self-contained (inline CSS and SVG, no script, no font, no URL), so it
opens offline and can be attached to an issue. The report is built once as a list
of blocks (headings, tables, plots) and written twice, as HTML and as GitHub
Markdown, so the two never disagree. A partial run (`--scenario chain`) renders too:
every missing figure shows "—".
"""

from __future__ import annotations

import datetime as dt
import math
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any

from benchmarks import stats, svg
from benchmarks.results import (
    ChainPoint,
    FailureCase,
    Figure,
    PolicyRun,
    PolicySummary,
    ResultSet,
    Timeline,
    load,
    policy_summary,
)

IMPLEMENTATIONS = ("direct", "prefect", "airflow", "dagster")
ORCHESTRATOR_ORDER = ("direct", "docker", "prefect", "airflow", "dagster")
VARIANT_ORDER = ("", "local", "default", "tuned", "detect", "in_process", "multiprocess")
FAILURE_ORDER = ("transient", "always_fails", "hang", "killed", "bad_input", "docker_down")
DIMENSIONS = ("setup", "latency", "failure")
NONE = "—"
# A failure is "noticed late" when its final state came this much later than the
# quickest implementation's in the same scenario (e.g. zombie detection after minutes).
LATE_MARGIN_S = 30.0

HOW_TO_READ = (
    "Every figure is the median of its samples with the interquartile range in brackets, "
    "median [q1–q3], and n = the number of samples (after warm-up runs, which are not "
    "counted). Where a figure has a baseline (the plain-Python `direct` run, or a raw "
    "`docker run`), it is measured in the same run, and ×r [lo–hi] is the ratio of the two "
    "medians with a 95 % bootstrap interval: on a shared machine, ratios to a baseline taken "
    "at the same time hold better than absolute seconds. \"—\" means not measured in this run.")

FIXED_CAVEATS = (
    "The machine may be shared and has few cores: absolute times are noisy; compare ratios "
    "and orders of magnitude, and rerun on your own machine before deciding.",
    "Every orchestrator keeps its metadata in a local SQLite database (its default for a "
    "laptop); a production set-up with PostgreSQL and separate workers has other latencies.",
    "Dagster is measured with its in_process executor (one process, ops in series) and its "
    "default multiprocess executor (a subprocess per op): the executor dominates its "
    "per-task overhead.",
    "Airflow's local runs use `dag.test()`, which runs tasks serially in one process; its "
    "served mode (scheduler and executor running) is measured separately.",
    "First-run figures include one-time work: creating the metadata database, Prefect's "
    "temporary API server, import caches. Later runs are what a running deployment sees.",
)

CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#1f1f1f;
 max-width:1180px;margin:24px auto;padding:0 16px;line-height:1.45}
h1{margin-bottom:4px}h2{border-bottom:1px solid #ddd;padding-bottom:4px;margin-top:36px}
.meta{color:#444;margin:2px 0}.how{background:#f5f7fa;border-left:4px solid #1f63c6;
 padding:8px 12px}
table{border-collapse:collapse;margin:10px 0 18px;font-size:14px}
th,td{border:1px solid #d0d0d0;padding:4px 8px;vertical-align:top;text-align:left}
thead th{background:#f0f0f0}tbody th{font-weight:600;background:#fafafa}
.spread,.lbl{color:#666;font-size:12px}.ratio{color:#1f1f1f;font-size:12px;font-weight:600}
td.green{background:#d8f0de}td.amber{background:#fbe8c2}td.red{background:#f6cfcb}
td.diff{background:#fff5cc}
.plots{display:flex;flex-wrap:wrap;gap:12px}.plots svg{border:1px solid #eee}
code,pre{background:#f3f3f3;font-size:13px}pre{padding:8px 12px;overflow-x:auto}
.swatch{display:inline-block;width:12px;height:12px;border-radius:2px;margin-right:4px;
 vertical-align:middle}nav a{margin-right:12px}
"""


# ------------------------------------------------------------------ document model


@dataclass(frozen=True)
class Text:
    """A run of text in a cell; cls styles it ("spread", "ratio", "lbl")."""

    text: str
    cls: str = ""


@dataclass
class Cell:
    lines: list[list[Text]]
    cls: str = ""  # "green" | "amber" | "red" | "diff"
    attrs: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, text: str, css: str = "") -> Cell:
        return cls([[Text(text)]], css)

    @property
    def plain(self) -> str:
        return " / ".join("".join(t.text for t in line) for line in self.lines)


@dataclass
class Row:
    head: str
    cells: list[Cell]
    key: str = ""  # data-row attribute: lets tests and readers' scripts find a row


@dataclass
class Table:
    header: list[str]
    rows: list[Row]


@dataclass
class Heading:
    level: int
    text: str
    anchor: str = ""


@dataclass
class Para:
    text: str
    cls: str = ""


@dataclass
class Code:
    text: str


@dataclass
class Bullets:
    items: list[str]


@dataclass
class Plots:
    svgs: list[str]  # Markdown refers to the HTML for these


Block = Heading | Para | Code | Bullets | Table | Plots


# ------------------------------------------------------------------ formatting


def fmt_num(value: float | None, unit: str = "") -> str:
    if value is None:
        return NONE
    if unit in {"count", "lines", ""} and float(value).is_integer():
        return str(int(value))
    return svg.fmt(value)


def unit_suffix(unit: str) -> str:
    return "" if unit in {"", "count"} else f" {unit}"


def figure_texts(f: Figure | None, *, ratio: bool = True) -> list[Text]:
    """"median unit [q1–q3] (n=…) ×r [lo–hi]" as styled runs."""
    if f is None or f.median is None:
        return [Text(NONE)]
    out = [Text(fmt_num(f.median, f.unit) + unit_suffix(f.unit))]
    n = len(f.samples)
    if f.spread == "iqr" and f.low is not None and f.high is not None:
        out.append(Text(f" [{fmt_num(f.low, f.unit)}–{fmt_num(f.high, f.unit)}] (n={n})",
                        "spread"))
    elif f.spread != "exact" and not (n == 1 and f.unit in {"lines", "count"}):
        # one sample of a count (lines, packages, ports) is exact, not a small sample
        out.append(Text(f" (n={n})", "spread"))
    if ratio and f.ratio is not None:
        out.append(Text(" " + ratio_text(f.ratio, f.ratio_low, f.ratio_high), "ratio"))
    return out


def ratio_text(r: float | None, lo: float | None = None, hi: float | None = None) -> str:
    if r is None:
        return NONE
    if lo is None or hi is None:
        return f"×{svg.fmt(r)}"
    return f"×{svg.fmt(r)} [{svg.fmt(lo)}–{svg.fmt(hi)}]"


def figure_plain(f: Figure | None) -> str:
    return "".join(t.text for t in figure_texts(f))


def order_key(orchestrator: str, variant: str) -> tuple[int, str, int, str]:
    o = (ORCHESTRATOR_ORDER.index(orchestrator) if orchestrator in ORCHESTRATOR_ORDER
         else len(ORCHESTRATOR_ORDER))
    v = VARIANT_ORDER.index(variant) if variant in VARIANT_ORDER else len(VARIANT_ORDER)
    return o, orchestrator, v, variant


def impl_label(orchestrator: str, variant: str) -> str:
    return f"{orchestrator} {variant}" if variant else orchestrator


def is_secondary(variant: str) -> bool:
    return variant in svg.SECONDARY_VARIANTS


# ------------------------------------------------------------------ lookups


def figures_of(results: ResultSet, scenario: str, metric: str,
               orchestrator: str | None = None) -> list[Figure]:
    found = [f for f in results.figures if f.scenario == scenario and f.metric == metric
             and (orchestrator is None or f.orchestrator == orchestrator)]
    return sorted(found, key=lambda f: order_key(f.orchestrator, f.variant))


def impls_in(results: ResultSet, scenario: str) -> list[tuple[str, str]]:
    pairs = {(f.orchestrator, f.variant) for f in results.figures if f.scenario == scenario}
    return sorted(pairs, key=lambda p: order_key(*p))


def multi_cell(figs: list[Figure], labels: dict[str, str] | None = None) -> Cell:
    """Several figures in one cell, one a line, labelled by variant (or metric) if needed."""
    if not figs:
        return Cell.of(NONE)
    lines = []
    for f in figs:
        label = (labels or {}).get(f.metric) or f.variant
        needs_label = len(figs) > 1 or f.variant not in {"", "default", "local"}
        prefix = [Text(f"{label}: ", "lbl")] if label and needs_label else []
        lines.append(prefix + figure_texts(f))
    return Cell(lines)


# ------------------------------------------------------------------ header


def flatten(data: Any, prefix: str = "") -> dict[str, str]:
    """Nested environment dicts as dotted keys, so any shape of environment renders."""
    if isinstance(data, dict):
        out: dict[str, str] = {}
        for k, v in data.items():
            out.update(flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    if isinstance(data, list | tuple):
        return {prefix: ", ".join(map(str, data))}
    return {prefix: "" if data is None else str(data)}


def _find(env: dict[str, str], *names: str) -> str | None:
    for name in names:
        for k, v in env.items():
            if k.split(".")[-1].lower() == name and v:
                return v
    return None


def machine_line(environment: dict[str, Any]) -> str:
    """CPU, memory, Docker, Python and orchestrator versions, from whatever keys exist."""
    env = flatten(environment)
    parts = []
    cpus = _find(env, "cpu_count", "cpus", "cores", "logical_cpus")
    if cpus:
        parts.append(f"{cpus} CPUs")
    cpu_model = _find(env, "cpu_model", "cpu", "processor")
    if cpu_model:
        parts.append(cpu_model)
    for names, unit in ((("memory_gib",), "GiB"), (("memory_gb", "mem_gb"), "GB"),
                        (("memory_mb", "mem_mb", "memory_total_mb"), "MB")):
        memory = _find(env, *names)
        if memory:
            parts.append(f"{memory} {unit} memory")
            break
    for label, names in (("Docker", ("docker_engine", "docker_version", "docker",
                                     "docker_server_version")),
                         ("Python", ("python_version", "python")),
                         ("", ("os", "platform", "system")),
                         ("orchbench", ("orchbench_commit", "commit"))):
        value = _find(env, *names)
        if value:
            parts.append(f"{label} {value}".strip())
    versions = orchestrator_versions(env)
    parts.extend(f"{name} {version}" for name, version in versions.items())
    return " · ".join(parts) if parts else "machine not recorded"


def orchestrator_versions(env: dict[str, str]) -> dict[str, str]:
    """Versions under keys like versions.prefect, prefect_version or versions.airflow:apache-
    airflow; the package's own name wins over a plugin's (apache-airflow-providers-…)."""
    found = {}
    for name in ("prefect", "airflow", "dagster"):
        exact = {name, f"{name}_version", f"apache_{name}"}
        hits = []
        for k, v in env.items():
            parts = re.split(r"[.:]", k.lower().replace("-", "_"))
            if re.match(r"^\d+\.\d+", v) and any(p in exact for p in parts):
                hits.append((parts[-1] not in exact, v))
        if hits:
            found[name] = min(hits)[1]
    return found


def when(results: ResultSet) -> str:
    start, end = _parse_time(results.started), _parse_time(results.ended)
    if start is None:
        return results.started or "date not recorded"
    text = start.strftime("%Y-%m-%d %H:%M %Z").strip()
    if end is not None:
        minutes = (end - start).total_seconds() / 60
        text += f" (took {minutes:.0f} min)"
    return text


def _parse_time(value: str) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(value) if value else None
    except ValueError:
        return None


def header_blocks(results: ResultSet, title: str) -> list[Block]:
    return [
        Heading(1, title),
        Para(f"Date: {when(results)} · mode: {results.mode}", "meta"),
        Para(f"Machine: {machine_line(results.environment)}", "meta"),
        Para("How to read this: " + HOW_TO_READ, "how"),
    ]


# ------------------------------------------------------------------ summary


SUMMARY_ROWS: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    ("wrapper_loc", "Wrapper lines of code", "wrapper", ("lines_of_code",)),
    ("framework_symbols", "Framework symbols used", "wrapper", ("framework_symbols",)),
    ("environment_size", "Environment size", "environment", ("size_mb",)),
    ("packages", "Packages in environment", "environment", ("packages",)),
    ("install", "Install time (warm cache)", "environment", ("install_s",)),
    ("ui_ready", "UI ready time", "ui", ("ready_s",)),
    ("ui_memory", "UI idle memory (PSS)", "ui", ("idle_rss_mb",)),
    ("ui_processes", "UI processes / ports", "ui", ("processes", "ports")),
    ("definition_load", "Definition load (process wall)", "definition_load",
     ("process_wall_s",)),
    ("per_task_overhead", "Per-task overhead (chain slope)", "chain", ("slope_s_per_task",)),
    ("fanout", "Fan-out wall", "fanout", ("wall_s",)),
    ("pipeline_later", "Pipeline later-run wall (× direct)", "pipeline", ("later_wall_s",)),
    ("served_lag", "Served trigger → first task (default / tuned)", "served",
     ("trigger_to_first_task_s",)),
)
METRIC_LABELS = {"processes": "processes", "ports": "ports"}


def summary_table(results: ResultSet) -> Table:
    rows = []
    for key, label, scenario, metrics in SUMMARY_ROWS:
        cells = []
        for impl in IMPLEMENTATIONS:
            figs = [f for m in metrics for f in figures_of(results, scenario, m, impl)]
            cells.append(multi_cell(figs, METRIC_LABELS if len(metrics) > 1 else None))
        rows.append(Row(label, cells, key))
    rows.append(Row("Failures handled (noticed, of scenarios run)",
                    [failures_cell(results, impl) for impl in IMPLEMENTATIONS], "failures"))
    return Table(["", *IMPLEMENTATIONS], rows)


def failures_cell(results: ResultSet, orchestrator: str) -> Cell:
    cases = [c for c in results.failures if c.orchestrator == orchestrator]
    if not cases:
        return Cell.of(NONE)
    noticed = sum(c.noticed for c in cases)
    line = [Text(f"{noticed} of {len(cases)}")]
    red = sum(case_colour(c, results.failures) == "red" for c in cases)
    if red:
        line.append(Text(f" ({red} red)", "spread"))
    return Cell([line])


# ------------------------------------------------------------------ sections


def figure_table(results: ResultSet, scenario: str, metrics: Iterable[tuple[str, str]],
                 pairs: list[tuple[str, str]] | None = None) -> Table:
    """Rows: each orchestrator/variant with figures in the scenario; columns: metrics."""
    metrics = list(metrics)
    rows = []
    for orch, variant in pairs if pairs is not None else impls_in(results, scenario):
        cells = [Cell([figure_texts(results.figure(scenario, orch, variant, m))])
                 for m, _ in metrics]
        rows.append(Row(impl_label(orch, variant), cells, f"{scenario}/{orch}/{variant or '-'}"))
    return Table(["", *(label for _, label in metrics)], rows)


def bars(results: ResultSet, scenario: str, metric: str) -> list[svg.Bar]:
    out = []
    for f in figures_of(results, scenario, metric):
        if f.median is None:
            continue
        out.append(svg.Bar(impl_label(f.orchestrator, f.variant), f.median,
                           svg.colour(f.orchestrator), f.low, f.high,
                           "".join(t.text for t in figure_texts(f, ratio=False)[:1]),
                           faded=is_secondary(f.variant)))
    return out


def chart(results: ResultSet, scenario: str, metric: str, title: str) -> str | None:
    items = bars(results, scenario, metric)
    if not items:
        return None
    unit = next(f.unit for f in figures_of(results, scenario, metric))
    return svg.bar_chart(items, title=title, unit=unit)


def plots(*maybe: str | None) -> list[Block]:
    found = [s for s in maybe if s]
    return [Plots(found)] if found else []


def setup_section(results: ResultSet) -> list[Block]:
    cols = [("lines_of_code", "wrapper lines"), ("framework_symbols", "framework symbols"),
            ("driver_lines_of_code", "result-reading lines")]
    env_cols = [("packages", "packages"), ("added_packages", "added vs direct"),
                ("size_mb", "size"), ("added_mb", "added vs direct"),
                ("install_s", "install, warm cache")]
    ui_cols = [("ready_s", "start → answers"), ("idle_rss_mb", "idle memory (PSS)"),
               ("processes", "processes"), ("ports", "ports"), ("config_files", "config files")]
    blocks: list[Block] = [Heading(2, "Setup effort", "setup")]
    blocks.append(Para("What it takes to adopt each orchestrator: the wrapper code around "
                       "the shared core and its Python environment (direct: the core's own "
                       "environment),"))
    blocks.append(combined_table(results, [("wrapper", cols), ("environment", env_cols)]))
    blocks.append(Para("and the local UI stack, started as a user would on a laptop:"))
    blocks.append(combined_table(results, [("ui", ui_cols)], IMPLEMENTATIONS[1:]))
    blocks += plots(chart(results, "environment", "size_mb", "Environment size"),
                    chart(results, "environment", "install_s", "Install time, warm cache"),
                    chart(results, "ui", "ready_s", "UI start → answers"),
                    chart(results, "ui", "idle_rss_mb", "UI stack idle memory"),
                    chart(results, "wrapper", "lines_of_code", "Wrapper lines of code"))
    return blocks


def combined_table(results: ResultSet, groups: list[tuple[str, list[tuple[str, str]]]],
                   always: Iterable[str] = IMPLEMENTATIONS) -> Table:
    """One row per implementation, columns from several scenarios (the setup tables)."""
    pairs = sorted({f.orchestrator for g, _ in groups for f in results.figures
                    if f.scenario == g} | set(always), key=lambda o: order_key(o, ""))
    header = [""] + [label for _, cols in groups for _, label in cols]
    rows = []
    for orch in pairs:
        cells = [multi_cell(figures_of(results, scenario, metric, orch))
                 for scenario, cols in groups for metric, _ in cols]
        rows.append(Row(orch, cells, f"setup/{orch}"))
    return Table(header, rows)


def latency_section(results: ResultSet) -> list[Block]:
    blocks: list[Block] = [Heading(2, "Latency", "latency")]
    blocks += definition_load_blocks(results)
    blocks += chain_blocks(results)
    blocks += fanout_blocks(results)
    blocks += pipeline_blocks(results)
    blocks += served_blocks(results)
    blocks += knobs_blocks(results)
    return blocks


def definition_load_blocks(results: ResultSet) -> list[Block]:
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


ZOOM_FACTOR = 4.0


def chain_series(results: ResultSet) -> list[svg.Series]:
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
    """The recorded slope/intercept figures; a least-squares fit of medians if absent."""
    slope = results.figure("chain", orch, variant, "slope_s_per_task")
    intercept = results.figure("chain", orch, variant, "intercept_s")
    if slope is not None and slope.median is not None and intercept is not None \
            and intercept.median is not None:
        return slope.median, intercept.median
    xs = [float(c.n) for c in points]
    ys = [stats.median(c.samples) for c in points]
    return least_squares(xs, ys)


def least_squares(xs: list[float], ys: list[float]) -> tuple[float, float]:
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx if sxx else 0.0
    return slope, my - slope * mx


def fanout_blocks(results: ResultSet) -> list[Block]:
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
    metrics = [("trigger_to_first_task_s", "trigger → first task"),
               ("trigger_to_done_s", "trigger → done")]
    return [Heading(3, "Served mode: trigger to first task"),
            Para("The orchestrator's own scheduler or worker is running, as a user deploys "
                 "it locally; a run is triggered and we time until its first task starts. "
                 "\"default\" is out of the box, \"tuned\" with the settings a user tuning "
                 "for latency would choose (see Knobs)."),
            figure_table(results, "served", metrics),
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


# ------------------------------------------------------------------ failures


def case_time(case: FailureCase) -> float | None:
    return stats.median(case.seconds_to_final) if case.seconds_to_final else None


def case_colour(case: FailureCase, all_cases: list[FailureCase]) -> str:
    """green: as expected; amber: noticed late or a container left; red: missed or data hurt."""
    if not case.noticed or not case.lake_intact or not case.model_intact:
        return "red"
    if case.containers_left > 0:
        return "amber"
    fastest = [case_time(c) for c in all_cases
               if c.scenario == case.scenario and c.noticed and c.seconds_to_final]
    mine = case_time(case)
    if mine is not None and fastest and mine > min(t for t in fastest if t is not None) \
            + LATE_MARGIN_S:
        return "amber"
    return "green"


def failure_section(results: ResultSet) -> list[Block]:
    blocks: list[Block] = [Heading(2, "Failure handling", "failure")]
    cases = results.failures
    if not cases:
        return [*blocks, Para("No failure scenarios in this run.")]
    blocks.append(Para(
        "Each cell: the final state the orchestrator recorded, attempts of the failing step, "
        "seconds until that final state (median), containers left behind, and whether the "
        "lake and the current model were intact. Green: as expected. Amber: noticed, but a "
        f"container was left behind or the final state came more than {LATE_MARGIN_S:.0f} s "
        "after the quickest implementation's in the same scenario. Red: not noticed, or the "
        "lake or model was damaged."))
    blocks.append(failure_matrix(cases))
    return blocks


def failure_matrix(cases: list[FailureCase]) -> Table:
    columns = sorted({(c.orchestrator, c.variant) for c in cases}, key=lambda p: order_key(*p))
    scenarios = sorted({c.scenario for c in cases},
                       key=lambda s: (FAILURE_ORDER.index(s) if s in FAILURE_ORDER else 99, s))
    rows = []
    for scenario in scenarios:
        in_row = [c for c in cases if c.scenario == scenario]
        expected = "; ".join(dict.fromkeys(c.expected for c in in_row if c.expected))
        cells = [Cell.of(expected or NONE)]
        for orch, variant in columns:
            case = next((c for c in in_row
                         if c.orchestrator == orch and c.variant == variant), None)
            cells.append(case_cell(case, cases))
        rows.append(Row(scenario, cells, f"failure/{scenario}"))
    return Table(["scenario", "expected", *(impl_label(o, v) for o, v in columns)], rows)


MARKS = {"green": "✓", "amber": "!", "red": "✗"}


def case_cell(case: FailureCase | None, cases: list[FailureCase]) -> Cell:
    if case is None:
        return Cell.of(NONE)
    colour = case_colour(case, cases)
    seconds = case_time(case)
    data = "lake ✓" if case.lake_intact else "lake ✗"
    data += ", model ✓" if case.model_intact else ", model ✗"
    lines = [[Text(f"{MARKS[colour]} {case.final_state or 'no state'}")],
             [Text(f"attempts {case.attempts if case.attempts is not None else NONE}, "
                   f"{svg.fmt(seconds) + ' s' if seconds is not None else NONE}", "spread")],
             [Text(f"containers left {case.containers_left}, {data}", "spread")]]
    if not case.noticed:
        lines.append([Text("not noticed", "ratio")])
    if case.detail:
        lines.append([Text(case.detail[:120], "lbl")])
    key = f"{case.scenario}/{case.orchestrator}/{case.variant or '-'}"
    return Cell(lines, colour, {"data-case": key})


# ------------------------------------------------------------------ warm/cold policy

# Not the orchestrators' colours: these lines are policies, not implementations.
# The baselines are dashed and drawn first: where the drift policy decided as one of
# them, its solid line lies on top.
POLICY_STYLE = {"drift": ("#b35900", False, "drift (the pipeline's policy)"),
                "always_cold": ("#4d7300", True, "always cold"),
                "always_warm": ("#a3195b", True, "always warm (first start cold)")}


def policy_section(results: ResultSet) -> list[Block]:
    """Three warm/cold policies on the same days (benchmarks/policy.py): table, finding,
    the MSE of every day as a line per policy, and the days themselves."""
    blocks: list[Block] = [Heading(2, "Does the warm/cold policy pay?", "policy")]
    runs = results.policy_runs
    if not runs:
        return [*blocks, Para("The policy scenario was not run (`orchbench bench -s policy`).")]
    days = sorted({r.day for r in runs})
    datasets = ", ".join(sorted({r.dataset for r in runs if r.dataset})) or "not recorded"
    summary = policy_summary(runs)
    blocks.append(Para(
        f"The same {len(days)} daily dates ({days[0]}..{days[-1]}, dataset {datasets}) run "
        "three ways on one shared lake, with the real check_drift, train and evaluate steps: "
        "`drift` is the pipeline's policy (a cold start on drift or at least every "
        "`force_cold_every_days`, warm otherwise), `always_cold` fits a fresh model every "
        "day, `always_warm` continues the previous model after the first (cold) start. Each "
        "date's model is scored on that date, held out: MSE of the hourly forecast; skill = "
        "1 − MSE / MSE of persistence (the last hour's value), above 0 beats it. The mean "
        "skill averages the days' skills, so a calm day on which persistence is nearly "
        "perfect weighs as much as a smog day; the pooled skill is 1 − ΣMSE / Σpersistence "
        "MSE over the days. Training time is the train step's wall time, its container "
        "included. One run per policy and date: the daily MSEs are paired, so compare them "
        "day by day."))
    blocks.append(policy_table(summary))
    blocks.append(Para(policy_finding(runs, summary)))
    policies = [s.policy for s in summary]
    blocks.append(Plots(policy_plots(runs, days, policies)))
    blocks.append(policy_days_table(runs, days, policies))
    return blocks


def policy_table(summary: list[PolicySummary]) -> Table:
    rows = [Row(s.policy, [Cell.of(fmt_num(s.mean_mse)), Cell.of(_skill(s.mean_skill)),
                           Cell.of(_skill(s.pooled_skill)), Cell.of(f"{svg.fmt(s.train_s)} s"),
                           Cell.of(str(s.cold_starts)), Cell.of(str(s.days))],
                f"policy/{s.policy}")
            for s in summary]
    return Table(["policy", "mean MSE", "mean skill", "pooled skill", "training, total",
                  "cold starts", "days"], rows)


def _skill(value: float | None) -> str:
    return NONE if value is None else f"{value:.3f}"


def policy_finding(runs: list[PolicyRun], summary: list[PolicySummary]) -> str:
    """One honest sentence from the numbers: the lowest mean MSE, how far the others are,
    the training time each took, and how often the best won day by day."""
    scored = [s for s in summary if s.mean_mse is not None]
    if not scored:
        return "No policy produced a finite MSE, so none can be said to pay."
    lowest = min(s.mean_mse for s in scored)
    tied = [s for s in scored if math.isclose(s.mean_mse, lowest, rel_tol=1e-9)]
    best, rest = tied[0], [s for s in scored if s not in tied]
    others = [s for s in scored if s is not best]
    text = (f"Lowest mean MSE: {best.policy} ({fmt_num(lowest)})" if len(tied) == 1 else
            f"Lowest mean MSE: {' and '.join(s.policy for s in tied)}, tied "
            f"({fmt_num(lowest)})")
    if rest:
        text += ", against " + " and ".join(
            f"{fmt_num(s.mean_mse)} for {s.policy} ({_relative(s.mean_mse, lowest)})"
            for s in rest)
    times = [f"{svg.fmt(s.train_s)} s ({s.policy})" for s in summary]
    text += "; training took " + (", ".join(times[:-1]) + " and " if len(times) > 1 else "") \
        + times[-1] + " in total."
    paired = [_day_by_day(runs, best.policy, s.policy) for s in others]
    if paired:
        text += " Day by day, " + best.policy + " had a lower MSE than " + "; than ".join(
            f"{s.policy} on {lower} of {n} days ({equal} equal)"
            for s, (lower, equal, n) in zip(others, paired, strict=True)) + "."
    return text


def _relative(value: float, reference: float) -> str:
    if reference == 0:
        return NONE
    change = (value - reference) / reference * 100
    return f"{change:+.1f} %" if abs(change) >= 0.1 else f"{change:+.2g} %"


def _day_by_day(runs: list[PolicyRun], a: str, b: str) -> tuple[int, int, int]:
    """(days a's MSE was lower, days equal, days both have one)."""
    mse = {(r.policy, r.day): r.mse for r in runs if r.mse is not None}
    pairs = [(mse[a, d], mse[b, d]) for p, d in mse if p == a and (b, d) in mse]
    lower = sum(x < y and not math.isclose(x, y, rel_tol=1e-9) for x, y in pairs)
    equal = sum(math.isclose(x, y, rel_tol=1e-9) for x, y in pairs)
    return lower, equal, len(pairs)


def policy_plots(runs: list[PolicyRun], days: list[str], policies: list[str]) -> list[str]:
    """Each date's MSE, one line per policy; and, since the day's pollution moves every
    line far more than the policy does, the same divided by always_cold's MSE that day."""
    out = [policy_plot(runs, days, policies)]
    if "always_cold" in policies and len(policies) > 1:
        out.append(policy_plot(runs, days, policies, relative_to="always_cold"))
    return out


def policy_plot(runs: list[PolicyRun], days: list[str], policies: list[str],
                relative_to: str | None = None) -> str:
    """One line per policy (x: the date's number, 1 = the first): its MSE, or its MSE
    divided by `relative_to`'s on the same date."""
    index = {d: i + 1 for i, d in enumerate(days)}
    base = {r.day: r.mse for r in runs if r.policy == relative_to and r.mse}
    series = []
    for name in policies:
        mine = [r for r in runs if r.policy == name and r.mse is not None
                and (relative_to is None or r.day in base)]
        hue, dashed, label = POLICY_STYLE.get(name, (svg.colour(name), False, name))
        cold = sum(r.strategy == "cold" for r in runs if r.policy == name)
        values = {r.day: r.mse / base[r.day] if relative_to else r.mse for r in mine}
        tips = {float(index[r.day]): f"{name}, {r.day}: MSE {fmt_num(r.mse)}"
                + (f" (×{svg.fmt(values[r.day])} {relative_to}'s)" if relative_to else "")
                + f", {r.strategy} start ({r.reason}), training {svg.fmt(r.train_s)} s"
                for r in mine}
        series.append(svg.Series(f"{label}: {cold} cold start(s)", hue,
                                 [(index[r.day], *[values[r.day]] * 3) for r in mine],
                                 dashed=dashed, tips=tips))
    series.sort(key=lambda line: not line.dashed)  # stable: the baselines first
    if relative_to:
        title = f"The same, relative: each day's MSE ÷ {relative_to}'s that day"
        y_label = f"MSE ÷ {relative_to}'s MSE"
    else:
        title, y_label = "MSE of each day's model on that day, by policy", "MSE (held-out day)"
    return svg.line_plot(series, title=title, x_label=f"daily date (1 = {days[0]})",
                         y_label=y_label, width=760)


def policy_days_table(runs: list[PolicyRun], days: list[str], policies: list[str]) -> Table:
    """Every date: each policy's MSE and start, the plot's numbers as text."""
    by = {(r.policy, r.day): r for r in runs}
    rows = []
    for day in days:
        cells = []
        for p in policies:
            r = by.get((p, day))
            cells.append(Cell.of(NONE) if r is None else Cell(
                [[Text(fmt_num(r.mse)), Text(f" {r.strategy}", "spread")]]))
        rows.append(Row(day, cells, f"policy-day/{day}"))
    return Table(["date", *(f"{p}: MSE, start" for p in policies)], rows)


# ------------------------------------------------------------------ reproduce


def reproduce_section(results: ResultSet) -> list[Block]:
    commands = [results.command] if results.command else []
    commands += ["./orchbench.sh bench --quick    # or without --quick for the full run",
                 "./orchbench.sh report           # writes report.html, report.md, results.json",
                 "./orchbench.sh report --compare A.json B.json"]
    settings = ", ".join(f"{k}={_short(v)}" for k, v in results.settings.items())
    caveats = [*results.notes, *FIXED_CAVEATS]
    env_rows = [Row(k, [Cell.of(v)]) for k, v in flatten(results.environment).items()]
    return [Heading(2, "Reproduce", "reproduce"),
            Para("This run was made with the first command; the others rerun it and render "
                 "the report:"),
            Code("\n".join(dict.fromkeys(commands))),
            Para(f"Plan: {settings or 'not recorded'}"),
            Heading(3, "Environment, as recorded"),
            Table(["", "value"], env_rows),
            Heading(2, "Caveats", "caveats"),
            Bullets(caveats)]


def _short(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ",".join(map(str, value))
    return str(value)


def all_figures_blocks(results: ResultSet) -> list[Block]:
    rows = [Row(f.key, [Cell.of(f.dimension), Cell([figure_texts(f)]),
                        Cell.of(", ".join(map(svg.fmt, f.samples))), Cell.of(f.note)])
            for f in sorted(results.figures, key=lambda f: (
                DIMENSIONS.index(f.dimension) if f.dimension in DIMENSIONS else 9,
                f.scenario, *order_key(f.orchestrator, f.variant), f.metric))]
    return [Heading(2, "All figures", "figures"),
            Para("Every figure of the run with its raw samples (scenario/orchestrator/variant/"
                 "metric)."),
            Table(["figure", "dimension", "median [q1–q3] (n) ratio", "samples", "note"], rows)]


# ------------------------------------------------------------------ documents


def report_blocks(results: ResultSet) -> list[Block]:
    return [*header_blocks(results, "orchbench: Prefect, Airflow and Dagster side by side"),
            Heading(2, "Summary", "summary"),
            summary_table(results),
            *setup_section(results),
            *latency_section(results),
            *failure_section(results),
            *policy_section(results),
            *reproduce_section(results),
            *all_figures_blocks(results)]


def render(results: ResultSet, out_dir: Path) -> dict[str, Path]:
    """Write report.html, report.md and results.json (summarised) into out_dir."""
    from benchmarks.results import save

    results.summarise()
    blocks = report_blocks(results)
    out_dir = Path(out_dir)
    title = "orchbench benchmark report"
    return {"html": write_atomic(out_dir / "report.html", to_html(blocks, title)),
            "md": write_atomic(out_dir / "report.md", to_markdown(blocks)),
            "json": save(results, out_dir / "results.json")}


def render_file(path: Path, out_dir: Path | None = None) -> dict[str, Path]:
    """`orchbench report [PATH]`: render a saved result file next to it (or into out_dir)."""
    path = Path(path)
    return render(load(path), out_dir or path.parent)


def write_atomic(path: Path, text: str) -> Path:
    """A reader (or a browser refresh) never sees half a report."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return path


# ------------------------------------------------------------------ compare


def compare(a: ResultSet, b: ResultSet, out_dir: Path,
            labels: tuple[str, str] = ("A", "B")) -> dict[str, Path]:
    """compare.html and compare.md: every figure of either set as A, B and B/A."""
    a.summarise()
    b.summarise()
    la, lb = labels
    blocks: list[Block] = [
        Heading(1, f"orchbench: {la} vs {lb}"),
        Para(f"{la}: {when(a)}, mode {a.mode} · {machine_line(a.environment)}", "meta"),
        Para(f"{lb}: {when(b)}, mode {b.mode} · {machine_line(b.environment)}", "meta"),
        Para(f"{lb}/{la} is the ratio of medians with a 95 % bootstrap interval over both "
             "sets' samples; below 1 means B is smaller (faster, lighter). Machines and "
             "load differ between runs: compare ratios to each run's own baseline first.",
             "how")]
    for dimension in DIMENSIONS:
        table = compare_table(a, b, dimension, labels)
        if table.rows:
            blocks += [Heading(2, dimension.capitalize(), dimension), table]
    blocks += compare_failures(a, b, labels)
    blocks += [Heading(2, "Environments", "environments"), compare_env(a, b, labels)]
    out_dir = Path(out_dir)
    return {"html": write_atomic(out_dir / "compare.html", to_html(blocks, f"{la} vs {lb}")),
            "md": write_atomic(out_dir / "compare.md", to_markdown(blocks))}


def compare_files(path_a: Path, path_b: Path, out_dir: Path) -> dict[str, Path]:
    """`orchbench report --compare A.json B.json`, labelled by file name."""
    a, b = load(Path(path_a)), load(Path(path_b))
    la, lb = Path(path_a).name, Path(path_b).name
    if la == lb:
        la, lb = str(path_a), str(path_b)
    return compare(a, b, out_dir, (la, lb))


def compare_table(a: ResultSet, b: ResultSet, dimension: str,
                  labels: tuple[str, str]) -> Table:
    fa = {f.key: f for f in a.figures if f.dimension == dimension}
    fb = {f.key: f for f in b.figures if f.dimension == dimension}
    keys = sorted(set(fa) | set(fb), key=lambda k: _compare_order(fa.get(k) or fb[k]))
    rows = [Row(k, [Cell([figure_texts(fa.get(k))]), Cell([figure_texts(fb.get(k))]),
                    Cell([[Text(between(fa.get(k), fb.get(k)))]])], f"compare/{k}")
            for k in keys]
    return Table(["figure", labels[0], labels[1], f"{labels[1]}/{labels[0]}"], rows)


def _compare_order(f: Figure) -> tuple[Any, ...]:
    return (f.scenario, *order_key(f.orchestrator, f.variant), f.metric)


def between(fa: Figure | None, fb: Figure | None) -> str:
    if fa is None or fb is None or not fa.samples or not fb.samples:
        return NONE
    if stats.median(fa.samples) == 0:
        return NONE
    r = stats.ratio(fb.samples, fa.samples)
    if len(fa.samples) < 2 and len(fb.samples) < 2:
        return ratio_text(r)
    lo, hi = stats.bootstrap_ratio_ci(fb.samples, fa.samples, resamples=1000)
    return ratio_text(r, lo, hi)


def compare_failures(a: ResultSet, b: ResultSet, labels: tuple[str, str]) -> list[Block]:
    def index(rs: ResultSet) -> dict[str, FailureCase]:
        return {f"{c.scenario}/{c.orchestrator}/{c.variant or '-'}": c for c in rs.failures}

    ia, ib = index(a), index(b)
    if not ia and not ib:
        return []

    def cell(case: FailureCase | None, rs: ResultSet) -> Cell:
        if case is None:
            return Cell.of(NONE)
        t = case_time(case)
        text = (f"{case.final_state}, attempts {case.attempts}, "
                f"{svg.fmt(t) + ' s' if t is not None else NONE}")
        return Cell([[Text(text)]], case_colour(case, rs.failures))

    rows = []
    for k in sorted(set(ia) | set(ib)):
        ca, cb = ia.get(k), ib.get(k)
        ta = case_time(ca) if ca else None
        tb = case_time(cb) if cb else None
        r = ratio_text(tb / ta) if ta and tb is not None else NONE
        rows.append(Row(k, [cell(ca, a), cell(cb, b), Cell.of(r)], f"compare/{k}"))
    return [Heading(2, "Failure handling", "failure"),
            Table(["case", labels[0], labels[1], f"time {labels[1]}/{labels[0]}"], rows)]


def compare_env(a: ResultSet, b: ResultSet, labels: tuple[str, str]) -> Table:
    ea, eb = flatten(a.environment), flatten(b.environment)
    rows = []
    for k in list(dict.fromkeys([*ea, *eb])):
        va, vb = ea.get(k, NONE), eb.get(k, NONE)
        css = "diff" if va != vb else ""
        rows.append(Row(k, [Cell.of(va, css), Cell.of(vb, css)]))
    return Table(["", labels[0], labels[1]], rows)


# ------------------------------------------------------------------ writers


def to_html(blocks: list[Block], title: str) -> str:
    nav = " ".join(f'<a href="#{b.anchor}">{escape(b.text)}</a>' for b in blocks
                   if isinstance(b, Heading) and b.anchor)
    body = [_html_block(b) for b in blocks]
    if nav:
        body.insert(1, f"<nav>{nav}</nav>")
    legend = " ".join(f'<span class="swatch" style="background:{svg.colour(o)}"></span>'
                      f"{escape(o)}" for o in ORCHESTRATOR_ORDER)
    body.insert(1, f'<p class="meta">Colours: {legend}</p>')
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            f"<title>{escape(title)}</title>\n<style>{CSS}</style></head>\n<body>\n"
            + "\n".join(body) + "\n</body></html>\n")


def _html_block(b: Block) -> str:
    if isinstance(b, Heading):
        anchor = f' id="{escape(b.anchor)}"' if b.anchor else ""
        return f"<h{b.level}{anchor}>{escape(b.text)}</h{b.level}>"
    if isinstance(b, Para):
        cls = f' class="{b.cls}"' if b.cls else ""
        return f"<p{cls}>{_inline_code(escape(b.text))}</p>"
    if isinstance(b, Code):
        return f"<pre><code>{escape(b.text)}</code></pre>"
    if isinstance(b, Bullets):
        return "<ul>" + "".join(f"<li>{_inline_code(escape(i))}</li>" for i in b.items) + "</ul>"
    if isinstance(b, Plots):
        return '<div class="plots">' + "\n".join(b.svgs) + "</div>"
    return _html_table(b)


def _inline_code(escaped: str) -> str:
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", escaped)


def _html_table(t: Table) -> str:
    head = "".join(f'<th scope="col">{escape(h)}</th>' for h in t.header)
    rows = []
    for r in t.rows:
        key = f' data-row="{escape(r.key)}"' if r.key else ""
        cells = "".join(_html_cell(c) for c in r.cells)
        rows.append(f'<tr{key}><th scope="row">{escape(r.head)}</th>{cells}</tr>')
    return f"<table><thead><tr>{head}</tr></thead><tbody>\n" + "\n".join(rows) + \
        "\n</tbody></table>"


def _html_cell(c: Cell) -> str:
    attrs = "".join(f' {k}="{escape(v)}"' for k, v in c.attrs.items())
    cls = f' class="{c.cls}"' if c.cls else ""
    lines = ["".join(f'<span class="{t.cls}">{escape(t.text)}</span>' if t.cls
                     else escape(t.text) for t in line) for line in c.lines]
    return f"<td{cls}{attrs}>" + "<br>".join(lines) + "</td>"


def to_markdown(blocks: list[Block]) -> str:
    out = []
    for b in blocks:
        if isinstance(b, Heading):
            out.append(f"{'#' * b.level} {b.text}")
        elif isinstance(b, Para):
            out.append(b.text)
        elif isinstance(b, Code):
            out.append(f"```sh\n{b.text}\n```")
        elif isinstance(b, Bullets):
            out.append("\n".join(f"- {i}" for i in b.items))
        elif isinstance(b, Plots):
            out.append(f"*{len(b.svgs)} plot(s): see report.html.*")
        else:
            out.append(_md_table(b))
    return "\n\n".join(out) + "\n"


def _md_table(t: Table) -> str:
    lines = ["| " + " | ".join(_md(h) for h in t.header) + " |",
             "|" + "---|" * len(t.header)]
    for r in t.rows:
        cells = [_md(r.head)] + [_md_cell(c) for c in r.cells]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _md_cell(c: Cell) -> str:
    """Failure cells start with ✓ / ! / ✗, so Markdown keeps the colour's meaning."""
    text = "<br>".join(_md("".join(t.text for t in line)) for line in c.lines)
    return f"**{text}**" if c.cls == "diff" else text


def _md(text: str) -> str:
    """A table cell: pipes escaped, HTML-ish characters neutralised, one line."""
    return (text.replace("\\", "\\\\").replace("|", "\\|").replace("<", "&lt;")
            .replace(">", "&gt;").replace("\n", " "))

