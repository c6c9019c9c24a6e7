"""The page header: title, date, the machine line and how to read the figures.

The machine line reads exactly the keys benchmarks/environment.py's capture()
writes (cpu_count, cpu_model, memory_gib, docker_engine, python, os,
orchbench_commit and versions["<env>:<package>"]); a key it lacks is left out.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from benchmarks.environment import PACKAGES
from benchmarks.report.document import Block, Heading, Para
from benchmarks.results import PRECISION_REL, ResultSet
from core.names import ORCHESTRATORS

HOW_TO_READ = (
    "Every figure is the median of its samples with the interquartile range in brackets, "
    "median [q1–q3], and n = the number of samples (after warm-up runs, which are not "
    "counted). Where a figure has a baseline (the plain-Python `direct` run, or a raw "
    "`docker run`), it is measured in the same run, and ×r [lo–hi] is the ratio of the two "
    "medians with a 95 % bootstrap interval: on a shared machine, ratios to a baseline taken "
    "at the same time hold better than absolute seconds. \"—\" means not measured in this run. "
    "A figure of three samples or more is precise when its median's 95 % interval (from order "
    "statistics, distribution-free) lies within ±5 % of the median; an imprecise one is marked "
    "±p % (how far its interval reaches), or ±? when it has fewer than 6 samples (too few for a "
    "95 % interval) and they spread beyond ±5 %. Samples with two modes show both (the median "
    "of each group), not a median that falls between them.")

# (key in the environment record, how the machine line prints its value)
MACHINE_KEYS = (("cpu_count", "{} CPUs"), ("cpu_model", "{}"), ("memory_gib", "{} GiB memory"),
                ("docker_engine", "Docker {}"), ("python", "Python {}"), ("os", "{}"),
                ("orchbench_commit", "orchbench {}"))


def flatten(data: Any, prefix: str = "") -> dict[str, str]:
    """Nested dicts as dotted keys ("versions.prefect:prefect"), lists joined by ", ",
    None as "": the environment record as rows of text."""
    if isinstance(data, dict):
        out: dict[str, str] = {}
        for k, v in data.items():
            out.update(flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    if isinstance(data, list | tuple):
        return {prefix: ", ".join(map(str, data))}
    return {prefix: "" if data is None else str(data)}


def _recorded(value: Any) -> str | None:
    text = "" if value is None else str(value)
    return text or None


def machine_line(environment: dict[str, Any]) -> str:
    """CPUs, CPU model, memory, Docker, Python, OS, commit and orchestrator versions,
    " · "-separated; "machine not recorded" for an empty record."""
    parts = []
    for key, template in MACHINE_KEYS:
        value = _recorded(environment.get(key))
        if value:
            parts.append(template.format(value))
    versions = orchestrator_versions(environment)
    parts.extend(f"{name} {version}" for name, version in versions.items())
    return " · ".join(parts) if parts else "machine not recorded"


def orchestrator_versions(environment: dict[str, Any]) -> dict[str, str]:
    """{orchestrator: version} of each orchestrator's own package, read from
    versions["<orchestrator>:<package>"] (e.g. "airflow:apache-airflow"), not its plugins'."""
    versions = environment.get("versions") or {}
    found = {}
    for name in ORCHESTRATORS:
        version = _recorded(versions.get(f"{name}:{PACKAGES[name][0]}"))
        if version:
            found[name] = version
    return found


def when(results: ResultSet) -> str:
    """"YYYY-MM-DD HH:MM UTC (took N min)" from the run's start and end; the raw start
    text if it does not parse, "date not recorded" without one."""
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
    """Title, date and mode, machine, precision, and the how-to-read paragraph."""
    return [
        Heading(1, title),
        Para(f"Date: {when(results)} · mode: {results.mode}", "meta"),
        Para(f"Machine: {machine_line(results.environment)}", "meta"),
        Para(precision_sentence(results), "meta"),
        Para("How to read this: " + HOW_TO_READ, "how"),
    ]


def precision_sentence(results: ResultSet) -> str:
    """"Precision: X of Y figures with ≥3 samples have their median's 95 % interval within
    ±5 %", with how many have two modes and, if the plan repeated until precise, its caps.
    results should be summarised."""
    precise, judged = results.precision()
    if not judged:
        return "Precision: no figure has 3 samples or more; none is judged."
    two = sum(f.bimodal for f in results.figures)
    text = (f"Precision: {precise} of {judged} figures with ≥3 samples have their median's "
            f"95 % interval within ±{100 * PRECISION_REL:g} %")
    text += f"; {two} show{'s' if two == 1 else ''} two modes." if two else "."
    rel = results.settings.get("precision_rel") or 0
    if rel:
        text += (f" Cheap figures were repeated until precise (±{100 * rel:g} %) or "
                 f"{results.settings.get('max_reps')} samples or "
                 f"{results.settings.get('max_figure_s'):g} s each.")
    else:
        text += " Repetitions were fixed (no repetition until precise in this run)."
    return text
