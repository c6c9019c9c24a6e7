"""Failure handling: one row per failure scenario, one coloured cell per implementation.

Green: as expected. Amber: noticed, but a container was left or the final state came
LATE_MARGIN_S after the quickest implementation's. Red: not noticed, or data damaged.
"""

from __future__ import annotations

from benchmarks import stats
from benchmarks.report import svg
from benchmarks.report.document import Block, Cell, Heading, Para, Row, Table, Text
from benchmarks.report.formatting import NONE, impl_label, layout_rank, order_key
from benchmarks.results import DEVELOPMENT, FailureCase, ResultSet, backend_suffix, layout

FAILURE_ORDER = ("transient", "always_fails", "hang", "killed", "bad_input", "docker_down")
# A failure is "noticed late" when its final state came this much later than the
# quickest implementation's in the same scenario (e.g. zombie detection after minutes).
LATE_MARGIN_S = 30.0
MARKS = {"green": "✓", "amber": "!", "red": "✗"}


def case_time(case: FailureCase) -> float | None:
    """Median seconds until the final state; None if never recorded."""
    return stats.median(case.seconds_to_final) if case.seconds_to_final else None


def case_colour(case: FailureCase, all_cases: list[FailureCase]) -> str:
    """green: as expected; amber: noticed late or a container left; red: missed or data hurt.

    "Late" is against the quickest noticed case of the same scenario in all_cases.
    """
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
    """The section: heading, legend and matrix; a sentence if no failure scenario ran."""
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
    others = {layout(c.backend) for c in cases} - {DEVELOPMENT}
    if others:
        blocks.append(Para(
            "A served stack's case is in the row of its layout (backend), so one "
            "orchestrator's layouts read one under the other; the local drivers' cases "
            "(\"local\" columns) ran on the development layout and are in the sqlite row "
            f"(the layouts, {', '.join(sorted({DEVELOPMENT, *others}, key=layout_rank))}, "
            "are described under Setup effort)."))
    blocks.append(failure_matrix(cases))
    return blocks


def failure_matrix(cases: list[FailureCase]) -> Table:
    """Rows: scenarios (FAILURE_ORDER first), a row per layout where a scenario's cases
    ran on more than one (the served "killed" case); columns: expected, then each
    implementation. A development layout's row keeps the key "failure/<scenario>"."""
    columns = sorted({(c.orchestrator, c.variant) for c in cases}, key=lambda p: order_key(*p))
    rows_of = sorted({(c.scenario, layout(c.backend)) for c in cases},
                     key=lambda r: (FAILURE_ORDER.index(r[0]) if r[0] in FAILURE_ORDER else 99,
                                    r[0], layout_rank(r[1])))
    split = {scenario for scenario, backend in rows_of if backend != DEVELOPMENT}
    rows = []
    for scenario, backend in rows_of:
        in_row = [c for c in cases if c.scenario == scenario and layout(c.backend) == backend]
        expected = "; ".join(dict.fromkeys(c.expected for c in in_row if c.expected))
        cells = [Cell.of(expected or NONE)]
        for orch, variant in columns:
            case = next((c for c in in_row
                         if c.orchestrator == orch and c.variant == variant), None)
            cells.append(case_cell(case, cases))
        head = f"{scenario} ({backend})" if scenario in split else scenario
        rows.append(Row(head, cells, f"failure/{scenario}{backend_suffix(backend)}"))
    return Table(["scenario", "expected", *(impl_label(o, v) for o, v in columns)], rows)


def case_cell(case: FailureCase | None, cases: list[FailureCase]) -> Cell:
    """Mark and final state, attempts and seconds, containers and data, the error's kind
    and exit code where the run recorded one; "—" if not run."""
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
    if case.error_kind:  # the failing step's StepError.kind (core/errors.py), and its exit code
        code = f", exit {case.exit_code}" if case.exit_code is not None else ""
        lines.append([Text(f"error {case.error_kind}{code}", "spread")])
    if not case.noticed:
        lines.append([Text("not noticed", "ratio")])
    if case.detail:
        lines.append([Text(case.detail[:120], "lbl")])
    return Cell(lines, colour, {"data-case": case.key})
