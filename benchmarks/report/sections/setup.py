"""Setup effort: wrapper code, Python environment and the local UI stack."""

from __future__ import annotations

from collections.abc import Iterable

from benchmarks.report.blocks import chart, figures_of, layouts_in, multi_cell, plots
from benchmarks.report.document import Block, Cell, Heading, Para, Row, Table
from benchmarks.report.formatting import (
    IMPLEMENTATIONS,
    layout_rank,
    layouts_sentence,
    order_key,
)
from benchmarks.results import ResultSet, backend_suffix, layout


def setup_section(results: ResultSet) -> list[Block]:
    """Heading, the code-and-environment table, the UI table and their bar charts."""
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
    blocks += mlflow_share(results)
    ui_layouts = layouts_in(results, "ui")
    if len(ui_layouts) > 1:
        blocks.append(Para("and the UI stack, started as a user would on a laptop and in "
                           "each production layout measured, one row per layout. "
                           + layouts_sentence(set(ui_layouts))))
    else:
        blocks.append(Para("and the local UI stack, started as a user would on a laptop:"))
    blocks.append(layout_rows_table(results, "ui", ui_cols, IMPLEMENTATIONS[1:]))
    blocks += plots(chart(results, "environment", "size_mb", "Environment size"),
                    chart(results, "environment", "install_s", "Install time, warm cache"),
                    chart(results, "ui", "ready_s", "UI start → answers"),
                    chart(results, "ui", "idle_rss_mb", "UI stack idle memory"),
                    chart(results, "wrapper", "lines_of_code", "Wrapper lines of code"))
    return blocks


def mlflow_share(results: ResultSet) -> list[Block]:
    """One sentence: what of direct's environment is there only for MLflow (issue 12)."""
    packages = figures_of(results, "environment", "mlflow_packages", "direct")
    size = figures_of(results, "environment", "mlflow_mb", "direct")
    if not (packages and size and packages[0].median is not None):
        return []
    return [Para(f"Of direct's environment, {packages[0].median:.0f} packages "
                 f"({size[0].median:.0f} MB) are there only for MLflow, the model store: "
                 "tracking, registry, its UI and the scoring server. Every orchestrator's "
                 "environment holds them too.")]


def combined_table(results: ResultSet, groups: list[tuple[str, list[tuple[str, str]]]],
                   always: Iterable[str] = IMPLEMENTATIONS) -> Table:
    """One row per implementation (those with figures, and `always`), columns from several
    scenarios: groups are (scenario, [(metric, column label)])."""
    pairs = sorted({f.orchestrator for g, _ in groups for f in results.figures
                    if f.scenario == g} | set(always), key=lambda o: order_key(o, ""))
    header = [""] + [label for _, cols in groups for _, label in cols]
    rows = []
    for orch in pairs:
        cells = [multi_cell(figures_of(results, scenario, metric, orch))
                 for scenario, cols in groups for metric, _ in cols]
        rows.append(Row(orch, cells, f"setup/{orch}"))
    return Table(header, rows)


def layout_rows_table(results: ResultSet, scenario: str, cols: list[tuple[str, str]],
                      always: Iterable[str]) -> Table:
    """combined_table for one scenario whose figures have a layout (the UI stacks): a row
    per implementation and layout ("" read as "sqlite"), the layout in the first column;
    `always` gets its development row even without figures. Row keys are
    "<scenario>/<name>" (the combined table's were "setup/<name>" for both tables), with
    "@<backend>" for a production layout."""
    found = {(f.orchestrator, layout(f.backend)) for f in results.figures
             if f.scenario == scenario}
    found |= {(name, layout("")) for name in always}
    rows = []
    for orch, backend in sorted(found, key=lambda p: (*order_key(p[0], ""),
                                                      layout_rank(p[1]))):
        cells = [Cell.of(backend)]
        cells += [multi_cell(figures_of(results, scenario, metric, orch, backend))
                  for metric, _ in cols]
        rows.append(Row(orch, cells, f"{scenario}/{orch}{backend_suffix(backend)}"))
    return Table(["", "layout", *(label for _, label in cols)], rows)
