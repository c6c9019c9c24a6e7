"""Block builders the sections share: figure lookups, figure tables, bar charts."""

from __future__ import annotations

from collections.abc import Iterable

from benchmarks import stats
from benchmarks.report import svg
from benchmarks.report.document import Block, Cell, Plots, Row, Table, Text
from benchmarks.report.formatting import (
    NONE,
    figure_texts,
    impl_label,
    is_secondary,
    layout_rank,
    modes_text,
    order_key,
)
from benchmarks.results import Figure, ResultSet, backend_suffix, layout
from core.names import BASELINES


def figures_of(results: ResultSet, scenario: str, metric: str,
               orchestrator: str | None = None, backend: str | None = None) -> list[Figure]:
    """The scenario's figures of one metric (of one orchestrator, on one layout, if given;
    "" and "sqlite" are the same layout), in report order."""
    found = [f for f in results.figures if f.scenario == scenario and f.metric == metric
             and (orchestrator is None or f.orchestrator == orchestrator)
             and (backend is None or layout(f.backend) == layout(backend))]
    return sorted(found, key=lambda f: (*order_key(f.orchestrator, f.variant),
                                        layout_rank(f.backend)))


def impls_in(results: ResultSet, scenario: str) -> list[tuple[str, str]]:
    """(orchestrator, variant) pairs with a figure in the scenario, in report order."""
    pairs = {(f.orchestrator, f.variant) for f in results.figures if f.scenario == scenario}
    return sorted(pairs, key=lambda p: order_key(*p))


def layouts_in(results: ResultSet, *scenarios: str) -> list[str]:
    """The layouts (backends, "" read as "sqlite") of the scenarios' figures, in order."""
    return sorted({layout(f.backend) for f in results.figures if f.scenario in scenarios},
                  key=layout_rank)


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


def figure_table(results: ResultSet, scenario: str, metrics: Iterable[tuple[str, str]],
                 pairs: list[tuple[str, str]] | None = None) -> Table:
    """Rows: each orchestrator/variant with figures in the scenario (or `pairs`);
    columns: metrics, given as (metric, column label)."""
    metrics = list(metrics)
    rows = []
    for orch, variant in pairs if pairs is not None else impls_in(results, scenario):
        cells = [Cell([figure_texts(results.figure(scenario, orch, variant, m))])
                 for m, _ in metrics]
        rows.append(Row(impl_label(orch, variant), cells, f"{scenario}/{orch}/{variant or '-'}"))
    return Table(["", *(label for _, label in metrics)], rows)


def layout_table(results: ResultSet, scenario: str,
                 metrics: Iterable[tuple[str, str]]) -> Table:
    """figure_table with a row per layout too: each orchestrator/variant's layouts in
    adjacent rows, the layout in the first column ("" read as "sqlite"), so the same
    stack's figures on SQLite and PostgreSQL are read one under the other (a baseline's
    layout is "—"). A development layout's row keeps figure_table's key."""
    metrics = list(metrics)
    triples = sorted({(f.orchestrator, f.variant, layout(f.backend)) for f in results.figures
                      if f.scenario == scenario},
                     key=lambda t: (*order_key(t[0], t[1]), layout_rank(t[2])))
    rows = []
    for orch, variant, backend in triples:
        cells = [Cell.of(NONE if orch in BASELINES else backend)]  # a baseline has none
        cells += [Cell([figure_texts(results.figure(scenario, orch, variant, m, backend))])
                  for m, _ in metrics]
        rows.append(Row(impl_label(orch, variant), cells,
                        f"{scenario}/{orch}/{variant or '-'}{backend_suffix(backend)}"))
    return Table(["", "layout", *(label for _, label in metrics)], rows)


def bars(results: ResultSet, scenario: str, metric: str) -> list[svg.Bar]:
    """One bar per figure with a median, coloured by orchestrator; labelled with its
    layout too when the figures are on more than one."""
    out = []
    figs = figures_of(results, scenario, metric)
    several = len({layout(f.backend) for f in figs}) > 1
    for f in figs:
        if f.median is None:
            continue
        label = impl_label(f.orchestrator, f.variant)
        if several:
            label += f" · {layout(f.backend)}"
        two = stats.modes(f.samples) if f.bimodal else None
        value = (modes_text(f, *two) if two is not None  # two modes: both, not the median
                 else "".join(t.text for t in figure_texts(f, ratio=False)[:1]))
        out.append(svg.Bar(label, f.median,
                           svg.colour(f.orchestrator), f.low, f.high, value,
                           faded=is_secondary(f.variant)))
    return out


def chart(results: ResultSet, scenario: str, metric: str, title: str) -> str | None:
    """A bar chart (SVG text) of the metric's medians; None if nothing was measured."""
    items = bars(results, scenario, metric)
    if not items:
        return None
    unit = next(f.unit for f in figures_of(results, scenario, metric))
    return svg.bar_chart(items, title=title, unit=unit)


def plots(*maybe: str | None) -> list[Block]:
    """A Plots block of the images given, leaving out the None ones; [] if none is left."""
    found = [s for s in maybe if s]
    return [Plots(found)] if found else []
