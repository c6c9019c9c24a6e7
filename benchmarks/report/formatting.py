"""Numbers and names as the report prints them, and the order implementations appear in.

Every figure prints as "median unit [q1–q3] (n=…) ×r [lo–hi]"; "—" stands for a
figure this run did not measure. A figure with three samples or more whose median is
not precise (its 95 % interval reaches further than ±5 % from it, issue 13) has "±p %"
after n (p: how far the interval reaches), "±?" with fewer than 6 samples (no 95 %
interval) that spread beyond ±5 %; one whose samples have two modes prints them
instead of a median between them: "two modes: 1 s / 2.1 s (n=…)".
"""

from __future__ import annotations

from benchmarks import stats
from benchmarks.report import svg
from benchmarks.report.document import Text
from benchmarks.results import PRECISION_REL, Figure, layout
from core.names import BACKENDS, BASELINES, ORCHESTRATORS

IMPLEMENTATIONS = (BASELINES[0], *ORCHESTRATORS)  # direct, then the three
ORCHESTRATOR_ORDER = (*BASELINES, *ORCHESTRATORS)
VARIANT_ORDER = ("", "local", "default", "tuned", "detect", "in_process", "multiprocess")
DIMENSIONS = ("setup", "latency", "failure")
NONE = "—"
# What each served layout (Figure.backend, infra/stacks BACKENDS) is, in words.
LAYOUTS = {
    "sqlite": "the development layout (the stack as `orchbench ui` starts it on a laptop, "
              "its state in SQLite files under the home, one process or a few)",
    "postgres": "the production layout on one machine (PostgreSQL for the state, and the "
                "orchestrator's components, such as API server, scheduler and worker, each a "
                "process of its own)",
    "celery": "Airflow's distributed layout (PostgreSQL, plus CeleryExecutor with Redis as "
              "its broker and a separate Celery worker running the tasks)",
}


def fmt_num(value: float | None, unit: str = "") -> str:
    """A value in `unit`: whole counts (and unitless whole numbers) as integers, others
    with few digits (svg.fmt); None as "—"."""
    if value is None:
        return NONE
    if unit in {"count", "lines", ""} and float(value).is_integer():
        return str(int(value))
    return svg.fmt(value)


def unit_suffix(unit: str) -> str:
    """" MB" for "MB"; nothing for counts and unitless figures."""
    return "" if unit in {"", "count"} else f" {unit}"


def figure_texts(f: Figure | None, *, ratio: bool = True) -> list[Text]:
    """"median unit [q1–q3] (n=…) ×r [lo–hi]" as styled runs; ["—"] without a median.

    The ratio to the figure's baseline is left out when ratio is False or absent.
    """
    if f is None or f.median is None:
        return [Text(NONE)]
    n = len(f.samples)
    two = stats.modes(f.samples) if f.bimodal else None
    if two is not None:
        out = [Text(f"two modes: {modes_text(f, *two)}", "modes"),
               Text(f" (n={n}: {len(two[0])} + {len(two[1])})", "spread")]
        if ratio and f.ratio is not None:
            out.append(Text(" " + ratio_text(f.ratio, f.ratio_low, f.ratio_high), "ratio"))
        return out
    out = [Text(fmt_num(f.median, f.unit) + unit_suffix(f.unit))]
    if f.spread == "iqr" and f.low is not None and f.high is not None:
        out.append(Text(f" [{fmt_num(f.low, f.unit)}–{fmt_num(f.high, f.unit)}] (n={n})",
                        "spread"))
    elif f.spread != "exact" and not (n == 1 and f.unit in {"lines", "count"}):
        # one sample of a count (lines, packages, ports) is exact, not a small sample
        out.append(Text(f" (n={n})", "spread"))
    mark = imprecision(f)
    if mark:
        out.append(Text(f" {mark}", "imprecise"))
    if ratio and f.ratio is not None:
        out.append(Text(" " + ratio_text(f.ratio, f.ratio_low, f.ratio_high), "ratio"))
    return out


def modes_text(f: Figure, low: list[float], high: list[float]) -> str:
    """"1 s / 2.1 s": the median of each mode's samples."""
    return " / ".join(fmt_num(stats.median(group), f.unit) + unit_suffix(f.unit)
                      for group in (low, high))


def imprecision(f: Figure) -> str:
    """"±p %" for a judged figure whose median's 95 % interval reaches p % from the median
    (more than the criterion); "±?" for one with too few samples for an interval (fewer
    than 6) that spread beyond ±PRECISION_REL of their median. "" for a precise figure,
    one not judged (fewer than 3 samples), or few samples all within ±PRECISION_REL (three
    readings of a settled memory figure): such a figure still counts as imprecise in the
    header's count, but a mark on it would tell the reader nothing the n does not."""
    if f.precise is not False or f.median is None:
        return ""
    if f.median_low is None or f.median_high is None:
        spread = max(abs(x - f.median) for x in f.samples)
        return "±?" if spread > PRECISION_REL * abs(f.median) else ""
    if f.median == 0:
        return "±?"
    reach = max(f.median - f.median_low, f.median_high - f.median)
    return f"±{100 * reach / abs(f.median):.0f} %"


def ratio_text(r: float | None, lo: float | None = None, hi: float | None = None) -> str:
    """"×r [lo–hi]", "×r" without an interval, "—" without a ratio."""
    if r is None:
        return NONE
    if lo is None or hi is None:
        return f"×{svg.fmt(r)}"
    return f"×{svg.fmt(r)} [{svg.fmt(lo)}–{svg.fmt(hi)}]"


def figure_plain(f: Figure | None) -> str:
    """figure_texts without styles, as one string."""
    return "".join(t.text for t in figure_texts(f))


def order_key(orchestrator: str, variant: str) -> tuple[int, str, int, str]:
    """Sort key: orchestrators and variants in the report's order, unknown ones last."""
    o = (ORCHESTRATOR_ORDER.index(orchestrator) if orchestrator in ORCHESTRATOR_ORDER
         else len(ORCHESTRATOR_ORDER))
    v = VARIANT_ORDER.index(variant) if variant in VARIANT_ORDER else len(VARIANT_ORDER)
    return o, orchestrator, v, variant


def layout_rank(backend: str) -> int:
    """Where a layout sorts: BACKENDS' order ("" is sqlite), unknown ones last."""
    name = layout(backend)
    return BACKENDS.index(name) if name in BACKENDS else len(BACKENDS)


def layouts_sentence(backends: set[str]) -> str:
    """"Layouts — sqlite: …; postgres: …." for the layouts given (as recorded: "" reads
    as sqlite), in BACKENDS' order."""
    names = sorted({layout(b) for b in backends}, key=layout_rank)
    return "Layouts — " + "; ".join(
        f"{n}: {LAYOUTS.get(n, 'a layout this report does not describe')}" for n in names) + "."


def impl_label(orchestrator: str, variant: str) -> str:
    """"dagster multiprocess"; the orchestrator alone without a variant."""
    return f"{orchestrator} {variant}" if variant else orchestrator


def is_secondary(variant: str) -> bool:
    """Drawn dashed or faded: an orchestrator's second variant (tuned, multiprocess, …)."""
    return variant in svg.SECONDARY_VARIANTS
