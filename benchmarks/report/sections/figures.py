"""All figures: every figure of the run with its raw samples, the appendix of the page."""

from __future__ import annotations

from benchmarks.report import svg
from benchmarks.report.document import Block, Cell, Heading, Para, Row, Table
from benchmarks.report.formatting import (
    DIMENSIONS,
    NONE,
    figure_texts,
    fmt_num,
    layout_rank,
    order_key,
)
from benchmarks.results import Figure, ResultSet


def all_figures_blocks(results: ResultSet) -> list[Block]:
    """One row per figure, by dimension, scenario, implementation and metric."""
    rows = [Row(f.key, [Cell.of(f.dimension), Cell([figure_texts(f)]), _interval(f),
                        Cell.of(", ".join(map(svg.fmt, f.samples))), Cell.of(f.note)])
            for f in sorted(results.figures, key=lambda f: (
                DIMENSIONS.index(f.dimension) if f.dimension in DIMENSIONS else 9,
                f.scenario, *order_key(f.orchestrator, f.variant), f.metric,
                layout_rank(f.backend)))]
    return [Heading(2, "All figures", "figures"),
            Para("Every figure of the run with its raw samples (scenario/orchestrator/variant/"
                 "metric; a served stack's production layout follows its variant, as in "
                 "default@postgres), and its median's distribution-free 95 % interval "
                 "(order statistics; ✓: within ±5 % of the median)."),
            Table(["figure", "dimension", "median [q1–q3] (n) ratio",
                   "median's 95 % interval", "samples", "note"], rows)]


def _interval(f: Figure) -> Cell:
    """"lo–hi" of the median's 95 % interval; "n < 6" without one (fewer samples than
    a 95 % interval needs), "—" without samples."""
    if f.median_low is None or f.median_high is None:
        return Cell.of("n < 6" if f.samples else NONE)
    text = f"{fmt_num(f.median_low, f.unit)}–{fmt_num(f.median_high, f.unit)}"
    return Cell.of(text + (" ✓" if f.precise else ""))
