"""Two runs side by side: every figure of either as A, B and B/A with a bootstrap
interval, the failure cases, and the two environments with their differences marked."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from benchmarks import stats
from benchmarks.report import svg
from benchmarks.report.document import Block, Cell, Heading, Para, Row, Table, Text
from benchmarks.report.formatting import (
    DIMENSIONS,
    NONE,
    figure_texts,
    layout_rank,
    order_key,
    ratio_text,
)
from benchmarks.report.page import write_pages
from benchmarks.report.sections.failure import case_colour, case_time
from benchmarks.report.sections.header import flatten, machine_line, when
from benchmarks.results import FailureCase, Figure, ResultSet, load


def compare(a: ResultSet, b: ResultSet, out_dir: Path,
            labels: tuple[str, str] = ("A", "B")) -> dict[str, Path]:
    """compare.html and compare.md in out_dir: every figure of either set as A, B and B/A.

    Summarises both sets in place. Returns {"html", "md"} → path.
    """
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
    return write_pages(blocks, Path(out_dir), "compare", f"{la} vs {lb}")


def compare_files(path_a: Path, path_b: Path, out_dir: Path) -> dict[str, Path]:
    """`orchbench report --compare A.json B.json`, labelled by file name (by path when
    the names are the same). Raises OrchbenchError (from results.load) for a bad file."""
    a, b = load(Path(path_a)), load(Path(path_b))
    la, lb = Path(path_a).name, Path(path_b).name
    if la == lb:
        la, lb = str(path_a), str(path_b)
    return compare(a, b, out_dir, (la, lb))


def compare_table(a: ResultSet, b: ResultSet, dimension: str,
                  labels: tuple[str, str]) -> Table:
    """One row per figure key of the dimension in either set: A, B and B/A."""
    fa = {f.key: f for f in a.figures if f.dimension == dimension}
    fb = {f.key: f for f in b.figures if f.dimension == dimension}
    keys = sorted(set(fa) | set(fb), key=lambda k: _compare_order(fa.get(k) or fb[k]))
    rows = [Row(k, [Cell([figure_texts(fa.get(k))]), Cell([figure_texts(fb.get(k))]),
                    Cell([[Text(between(fa.get(k), fb.get(k)))]])], f"compare/{k}")
            for k in keys]
    return Table(["figure", labels[0], labels[1], f"{labels[1]}/{labels[0]}"], rows)


def _compare_order(f: Figure) -> tuple[Any, ...]:
    return (f.scenario, *order_key(f.orchestrator, f.variant), f.metric, layout_rank(f.backend))


def between(fa: Figure | None, fb: Figure | None) -> str:
    """B/A as "×r [lo–hi]" (1000 bootstrap resamples; no interval with one sample each);
    "—" when either is missing or A's median is 0."""
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
    """A table of every failure case in either set, with the ratio of their times;
    [] when neither set has one."""
    def index(rs: ResultSet) -> dict[str, FailureCase]:
        return {c.key: c for c in rs.failures}  # "@postgres" for a production layout

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
    """Every environment key of either set; values that differ are marked "diff"."""
    ea, eb = flatten(a.environment), flatten(b.environment)
    rows = []
    for k in list(dict.fromkeys([*ea, *eb])):
        va, vb = ea.get(k, NONE), eb.get(k, NONE)
        css = "diff" if va != vb else ""
        rows.append(Row(k, [Cell.of(va, css), Cell.of(vb, css)]))
    return Table(["", labels[0], labels[1]], rows)
