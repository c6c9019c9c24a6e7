"""Does the warm/cold policy pay? Three policies on the same days (benchmarks/policy.py):
a table, one sentence of finding, the MSE of every day as plots, and the days themselves."""

from __future__ import annotations

import math

from benchmarks.report import svg
from benchmarks.report.document import Block, Cell, Heading, Para, Plots, Row, Table, Text
from benchmarks.report.formatting import NONE, fmt_num
from benchmarks.results import PolicyRun, PolicySummary, ResultSet, policy_summary

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
    """One row per policy: mean MSE, mean and pooled skill, training seconds, cold starts,
    days."""
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
