"""Inline SVG plots for the benchmark report, in plain Python.

The report must open on a laptop with no network and no plotting library, so the
three plots it needs (a line plot with error bars, a horizontal bar chart with IQR
whiskers, a Gantt-style step timeline) are drawn here as SVG text. Sizes are fixed
so plots line up in the page; every text is escaped, because labels come from
result files that anyone can edit. Each orchestrator keeps one colour in every
plot, so a reader learns it once.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from html import escape

# One colour per implementation, the same in every plot. Chosen from the
# Okabe-Ito / Tableau families: distinguishable with the common colour-vision
# deficiencies and at least 3:1 against white (WCAG for graphics).
COLOURS = {
    "direct": "#7f7f7f",  # grey: the plain-Python baseline
    "docker": "#3b3b3b",  # dark grey: the raw `docker run` baseline
    "prefect": "#1f63c6",  # blue
    "airflow": "#00806b",  # teal / bluish green
    "dagster": "#7a3fb8",  # violet
}
FALLBACK_COLOURS = ("#b35900", "#a3195b", "#4d7300")
FAILED = "#c0392b"
TEXT = "#1f1f1f"
MUTED = "#666666"
GRID = "#e3e3e3"
FONT = "font-family=\"system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif\""
# The second variant of an orchestrator (tuned, multiprocess, detect) is drawn dashed
# in line plots and lighter in bar charts, so two variants never need two colours.
SECONDARY_VARIANTS = frozenset({"tuned", "multiprocess", "detect"})


def colour(orchestrator: str) -> str:
    """The orchestrator's "#rrggbb" colour; an unknown name always gets the same fallback."""
    if orchestrator in COLOURS:
        return COLOURS[orchestrator]
    return FALLBACK_COLOURS[sum(map(ord, orchestrator)) % len(FALLBACK_COLOURS)]


def fmt(value: float) -> str:
    """A number for an axis or a label: few digits, no exponent for ordinary values."""
    if value == 0 or not math.isfinite(value):
        return "0" if value == 0 else str(value)
    size = abs(value)
    if size >= 100:
        return f"{value:.0f}"
    if size >= 10:
        return f"{value:.1f}".removesuffix(".0")
    if size >= 1:
        return f"{value:.2f}".rstrip("0").rstrip(".")
    return f"{value:.3g}"


def nice_ticks(high: float, count: int = 5) -> list[float]:
    """0 … ≥high in round steps (1, 2, 2.5, 5 × 10^k): axes a reader can read."""
    if high <= 0 or not math.isfinite(high):
        return [0.0, 1.0]
    raw = high / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    ticks = [0.0]
    while ticks[-1] < high - 1e-12:
        ticks.append(round(ticks[-1] + step, 12))
    return ticks


def _text(x: float, y: float, text: str, *, anchor: str = "start", size: int = 12,
          fill: str = TEXT, weight: str = "normal") -> str:
    return (f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="{size}" '
            f'fill="{fill}" font-weight="{weight}">{escape(text)}</text>')


def _open(width: int, height: int, title: str) -> list[str]:
    # No xmlns: inline SVG in HTML5 needs none, and the page then names no URL at all.
    return [f'<svg width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}" {FONT}>',
            f"<title>{escape(title)}</title>",
            f'<rect width="{width}" height="{height}" fill="#ffffff"/>',
            _text(8, 18, title, size=14, weight="600")]


def _x_axis(left: float, right: float, y: float, top: float, high: float,
            label: str) -> list[str]:
    """Vertical grid lines and tick labels for a horizontal value axis from 0 to high."""
    ticks = nice_ticks(high)
    scale = (right - left) / ticks[-1]
    out = []
    for t in ticks:
        x = left + t * scale
        out.append(f'<line x1="{x:.1f}" y1="{top:.1f}" x2="{x:.1f}" y2="{y:.1f}" '
                   f'stroke="{GRID}"/>')
        out.append(_text(x, y + 14, fmt(t), anchor="middle", size=11, fill=MUTED))
    out.append(_text((left + right) / 2, y + 30, label, anchor="middle", size=11, fill=MUTED))
    return out


# ---------------------------------------------------------------- line plot


@dataclass
class Series:
    """One line: points (x, median, low, high); low/high draw the error bar."""

    label: str
    colour: str
    points: list[tuple[float, float, float, float]]
    dashed: bool = False
    tips: dict[float, str] = field(default_factory=dict)  # x → a tooltip other than the default


def line_plot(series: list[Series], *, title: str, x_label: str, y_label: str,
              width: int = 560, plot_height: int = 280) -> str:
    """Medians joined by lines, IQR as error bars; the legend below, one series a line."""
    left, right, top = 64, width - 24, 34
    bottom = top + plot_height
    legend_top = bottom + 46
    height = legend_top + 20 * max(len(series), 1) + 8
    out = _open(width, height, title)
    points = [p for s in series for p in s.points]
    if not points:
        out.append(_text(left, top + 30, "no data", fill=MUTED))
        return "\n".join([*out, "</svg>"])
    x_ticks = nice_ticks(max(p[0] for p in points))
    y_ticks = nice_ticks(max(max(p[1], p[3]) for p in points))
    sx = (right - left) / x_ticks[-1]
    sy = (bottom - top) / y_ticks[-1]

    def px(x: float) -> float:
        return left + x * sx

    def py(y: float) -> float:
        return bottom - y * sy

    for t in y_ticks:
        out.append(f'<line x1="{left}" y1="{py(t):.1f}" x2="{right}" y2="{py(t):.1f}" '
                   f'stroke="{GRID}"/>')
        out.append(_text(left - 6, py(t) + 4, fmt(t), anchor="end", size=11, fill=MUTED))
    for t in x_ticks:
        out.append(_text(px(t), bottom + 16, fmt(t), anchor="middle", size=11, fill=MUTED))
    out.append(f'<line x1="{left}" y1="{bottom}" x2="{right}" y2="{bottom}" stroke="{MUTED}"/>')
    out.append(_text((left + right) / 2, bottom + 32, x_label, anchor="middle", size=11,
                     fill=MUTED))
    out.append(f'<text transform="translate(14 {(top + bottom) / 2:.1f}) rotate(-90)" '
               f'text-anchor="middle" font-size="11" fill="{MUTED}">{escape(y_label)}</text>')
    for s in series:
        out.extend(_series(s, px, py))
    for i, s in enumerate(series):
        y = legend_top + 20 * i
        dash = ' stroke-dasharray="6 4"' if s.dashed else ""
        out.append(f'<line x1="{left}" y1="{y - 4}" x2="{left + 28}" y2="{y - 4}" '
                   f'stroke="{s.colour}" stroke-width="2.5"{dash}/>')
        out.append(f'<circle cx="{left + 14}" cy="{y - 4}" r="3.5" fill="{s.colour}"/>')
        out.append(_text(left + 36, y, s.label))
    return "\n".join([*out, "</svg>"])


def _series(s: Series, px: Callable[[float], float], py: Callable[[float], float]) -> list[str]:
    pts = sorted(s.points)
    dash = ' stroke-dasharray="6 4"' if s.dashed else ""
    path = " ".join(f"{px(x):.1f},{py(m):.1f}" for x, m, _, _ in pts)
    out = [f'<polyline points="{path}" fill="none" stroke="{s.colour}" '
           f'stroke-width="2"{dash}/>']
    for x, m, lo, hi in pts:
        if hi > lo:
            out.append(f'<line x1="{px(x):.1f}" y1="{py(lo):.1f}" x2="{px(x):.1f}" '
                       f'y2="{py(hi):.1f}" stroke="{s.colour}" stroke-width="1.5"/>')
            for v in (lo, hi):
                out.append(f'<line x1="{px(x) - 4:.1f}" y1="{py(v):.1f}" x2="{px(x) + 4:.1f}" '
                           f'y2="{py(v):.1f}" stroke="{s.colour}" stroke-width="1.5"/>')
        tip = s.tips.get(x) or f"{s.label}: n={fmt(x)}, median {fmt(m)} [{fmt(lo)}–{fmt(hi)}]"
        out.append(f'<circle cx="{px(x):.1f}" cy="{py(m):.1f}" r="3.5" fill="{s.colour}">'
                   f"<title>{escape(tip)}</title></circle>")
    return out


# ---------------------------------------------------------------- bar chart


@dataclass
class Bar:
    """One bar: the median, with the IQR (low, high) as a whisker; text printed beside it."""

    label: str
    value: float
    colour: str
    low: float | None = None
    high: float | None = None
    text: str = ""
    faded: bool = False


def bar_chart(bars: list[Bar], *, title: str, unit: str, width: int = 560) -> str:
    """Horizontal bars, one a row, sharing one axis from zero."""
    left, right, top, row = 150, width - 110, 32, 24
    bottom = top + row * max(len(bars), 1) + 4
    height = bottom + 38
    out = _open(width, height, title)
    if not bars:
        out.append(_text(left, top + 16, "no data", fill=MUTED))
        return "\n".join([*out, "</svg>"])
    high = max(max(b.value, b.high or 0.0) for b in bars)
    out.extend(_x_axis(left, right, bottom, top, high, unit))
    scale = (right - left) / nice_ticks(high)[-1]
    for i, b in enumerate(bars):
        y = top + row * i
        width_px = max(b.value * scale, 1.0)
        opacity = "0.45" if b.faded else "0.9"
        out.append(_text(left - 6, y + 15, b.label, anchor="end"))
        tip = f"{b.label}: {b.text or fmt(b.value)}"
        out.append(f'<rect x="{left}" y="{y + 4}" width="{width_px:.1f}" height="{row - 8}" '
                   f'fill="{b.colour}" fill-opacity="{opacity}" stroke="{b.colour}">'
                   f"<title>{escape(tip)}</title></rect>")
        end = left + b.value * scale
        if b.low is not None and b.high is not None and b.high > b.low:
            lo, hi, mid = left + b.low * scale, left + b.high * scale, y + row / 2
            out.append(f'<line x1="{lo:.1f}" y1="{mid:.1f}" x2="{hi:.1f}" y2="{mid:.1f}" '
                       f'stroke="{TEXT}" stroke-width="1.2"/>')
            for x in (lo, hi):
                out.append(f'<line x1="{x:.1f}" y1="{mid - 5:.1f}" x2="{x:.1f}" '
                           f'y2="{mid + 5:.1f}" stroke="{TEXT}" stroke-width="1.2"/>')
            end = max(end, hi)
        out.append(_text(end + 5, y + 15, b.text or fmt(b.value), size=11, fill=MUTED))
    return "\n".join([*out, "</svg>"])


# ---------------------------------------------------------------- timeline


@dataclass
class Span:
    """One step of one run: seconds from the run's start; None where not recorded."""

    label: str
    queued: float | None
    started: float | None
    ended: float | None
    status: str = ""
    attempts: int | None = None


@dataclass
class Lane:
    """One run's timeline: a title, the orchestrator's colour, its steps and wall seconds."""

    title: str
    colour: str
    spans: list[Span] = field(default_factory=list)
    wall_s: float | None = None


def timeline(lane: Lane, *, x_max: float | None = None, width: int = 560) -> str:
    """Gantt chart of one run: per step a pale queued→started bar, then started→ended.

    x_max lets several timelines share one time axis, so lengths compare across them.
    """
    left, right, top, row = 100, width - 150, 32, 22
    bottom = top + row * max(len(lane.spans), 1) + 4
    height = bottom + 38
    out = _open(width, height, lane.title)
    times = [t for s in lane.spans for t in (s.queued, s.started, s.ended) if t is not None]
    high = max([*times, lane.wall_s or 0.0, x_max or 0.0, 1e-9])
    out.extend(_x_axis(left, right, bottom, top, high, "seconds from the run's start"))
    scale = (right - left) / nice_ticks(high)[-1]
    for i, s in enumerate(lane.spans):
        out.extend(_span(s, top + row * i, row, left, scale, lane.colour))
    if lane.wall_s is not None:
        x = left + lane.wall_s * scale
        out.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{bottom}" '
                   f'stroke="{TEXT}" stroke-dasharray="3 3"/>')
        out.append(_text(x, top - 2, f"wall {fmt(lane.wall_s)} s", anchor="middle", size=10,
                         fill=MUTED))
    return "\n".join([*out, "</svg>"])


def _span(s: Span, y: float, row: int, left: float, scale: float, hue: str) -> list[str]:
    failed = s.status.lower() in {"failed", "error", "crashed", "upstream_failed"}
    out = [_text(left - 6, y + 14, s.label, anchor="end")]
    start = s.started if s.started is not None else s.queued
    if s.queued is not None and s.started is not None and s.started > s.queued:
        out.append(f'<rect x="{left + s.queued * scale:.1f}" y="{y + 6}" '
                   f'width="{(s.started - s.queued) * scale:.1f}" height="{row - 12}" '
                   f'fill="{hue}" fill-opacity="0.25"><title>{escape(s.label)} queued '
                   f"{fmt(s.started - s.queued)} s</title></rect>")
    if start is not None and s.ended is not None:
        stroke = f' stroke="{FAILED}" stroke-width="2"' if failed else ""
        tip = f"{s.label}: ran {fmt(s.ended - start)} s, {s.status or 'status unknown'}"
        out.append(f'<rect x="{left + start * scale:.1f}" y="{y + 3}" '
                   f'width="{max((s.ended - start) * scale, 1.5):.1f}" height="{row - 6}" '
                   f'fill="{hue}" fill-opacity="0.9"{stroke}><title>{escape(tip)}</title></rect>')
    end = s.ended if s.ended is not None else (start or 0.0)
    note = f"{fmt(s.ended - start)} s" if start is not None and s.ended is not None else "—"
    if s.attempts and s.attempts > 1:
        note += f", {s.attempts} tries"
    if failed or (s.status and s.status.lower() not in {"success", "succeeded", "completed"}):
        note += f", {s.status}"
    out.append(_text(left + end * scale + 5, y + 14, note, size=11,
                     fill=FAILED if failed else MUTED))
    return out
