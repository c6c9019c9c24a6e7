"""The summary table: one row per headline figure, one column per implementation."""

from __future__ import annotations

from benchmarks.report.blocks import figures_of, layouts_in, multi_cell
from benchmarks.report.document import Cell, Row, Table, Text
from benchmarks.report.formatting import IMPLEMENTATIONS, NONE
from benchmarks.report.sections.failure import case_colour
from benchmarks.results import DEVELOPMENT, ResultSet

# (row key, label, scenario, metrics shown in the cell)
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
# Scenarios whose figures have a layout (Figure.backend): their rows show the development
# layout; the rows named here get one more row per other layout measured, right below.
LAYOUT_SCENARIOS = ("ui", "served")
LAYOUT_ROWS = ("ui_memory", "served_lag")


def summary_table(results: ResultSet) -> Table:
    """SUMMARY_ROWS, then failures handled; columns: IMPLEMENTATIONS. The UI and served
    rows are the development layout's; LAYOUT_ROWS repeat for each other layout run."""
    others = [b for b in layouts_in(results, *LAYOUT_SCENARIOS) if b != DEVELOPMENT]
    rows = []
    for key, label, scenario, metrics in SUMMARY_ROWS:
        layouts: list[str | None] = [None]
        if scenario in LAYOUT_SCENARIOS:
            layouts = [DEVELOPMENT, *(others if key in LAYOUT_ROWS else [])]
        for backend in layouts:
            cells = []
            for impl in IMPLEMENTATIONS:
                figs = [f for m in metrics
                        for f in figures_of(results, scenario, m, impl, backend)]
                cells.append(multi_cell(figs, METRIC_LABELS if len(metrics) > 1 else None))
            if backend is None or not others:
                rows.append(Row(label, cells, key))
            elif backend == DEVELOPMENT:
                rows.append(Row(f"{label}, {backend} layout", cells, key))
            else:
                rows.append(Row(f"{label}, {backend} layout", cells, f"{key}@{backend}"))
    rows.append(Row("Failures handled (noticed, of scenarios run)",
                    [failures_cell(results, impl) for impl in IMPLEMENTATIONS], "failures"))
    return Table(["", *IMPLEMENTATIONS], rows)


def failures_cell(results: ResultSet, orchestrator: str) -> Cell:
    """"noticed of run (k red)" for one orchestrator's failure cases; "—" if none ran."""
    cases = [c for c in results.failures if c.orchestrator == orchestrator]
    if not cases:
        return Cell.of(NONE)
    noticed = sum(c.noticed for c in cases)
    line = [Text(f"{noticed} of {len(cases)}")]
    red = sum(case_colour(c, results.failures) == "red" for c in cases)
    if red:
        line.append(Text(f" ({red} red)", "spread"))
    return Cell([line])
