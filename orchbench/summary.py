"""One-line and tabular summaries of run results, for people reading a terminal."""

from __future__ import annotations

import datetime as dt
from typing import Any

from core.result import step_failure


def run_line(result: dict[str, Any]) -> str:
    """A run result (RunResult.to_dict() or a driver's JSON) as one line."""
    seconds = _seconds(result["started"], result["ended"])
    decision = result.get("decision") or {}
    metrics = result.get("metrics") or {}
    parts = [result["logical_date"], f"{result['status']:7}"]
    if decision:
        parts.append(f"{decision['strategy']} ({decision['reason']})")
    if metrics:
        skill = metrics.get("skill")  # 1 - mse / persistence mse; absent in older results
        parts.append(f"mse {metrics['mse']:.2f}"
                     + (f", skill {skill:+.2f}" if skill is not None else ""))
    parts.append(f"{seconds:.1f} s  [{result['orchestrator']}]")
    return "  ".join(parts)


def step_line(step: dict[str, Any]) -> str:
    """A step of a run result (StepResult as JSON) as one line: its attempts (or its
    status, when attempts are unknown, e.g. read from a UI's API) and, if it failed,
    its error's first line: StepError.message (core/errors.py; one sentence, without
    the container's log), or the text of a result written before `failure` existed."""
    attempts = step.get("attempts")
    line = f"{step['name']}: " + (f"{attempts} attempt" + ("s" if attempts > 1 else "")
                                  if attempts else step["status"])
    failure = step_failure(step)
    message = failure.message if failure else (step.get("error") or "")
    return line + (f": {message.splitlines()[0]}" if message.strip() else "")


def table(rows: list[dict[str, str]]) -> str:
    """A plain text table; columns as wide as their widest cell."""
    if not rows:
        return ""
    headers = list(rows[0])
    widths = {h: max(len(h), *(len(str(r[h])) for r in rows)) for h in headers}
    lines = ["  ".join(h.ljust(widths[h]) for h in headers),
             "  ".join("-" * widths[h] for h in headers)]
    lines += ["  ".join(str(r[h]).ljust(widths[h]) for h in headers) for r in rows]
    return "\n".join(lines)


def _seconds(start: str | None, end: str | None) -> float:
    if not start or not end:
        return 0.0
    return (dt.datetime.fromisoformat(end) - dt.datetime.fromisoformat(start)).total_seconds()
