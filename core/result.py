"""The uniform result every implementation returns, so they can be compared.

The direct run fills the per-step times from its own clock; the wrappers fill
them from what their orchestrator recorded (queued, started, ended), which is
the point: the benchmark compares the orchestrators' own accounts.

A failed step carries its error twice, for two readers: ``error``, the human
text (what the CLI prints, str() of the exception), and ``failure``, the same
facts as data (core.errors.StepError: kind, message, fix, retryable, exit code,
log tail), which programs read instead of parsing the text. How a failure gets
from the step to the result, the same under every implementation:

1. core.task.execute (what every orchestrator task calls) catches the step's
   exception and writes its StepError as JSON to ``error_file(home, run_id,
   step)``, then re-raises it for the orchestrator's retries and states;
   core.direct.run_date builds it from the exception in hand.
2. Each wrapper's run reader (prefect_impl/run.py, airflow_impl/run.py,
   dagster_impl/run.py) reads that file for every step its orchestrator recorded
   as failed (``read_step_error``); when there is none (the process was killed,
   or the orchestrator itself stopped the task, e.g. Prefect's timeout) it
   records the orchestrator's own message as kind ``orchestrator``/``timeout``.
3. ``StepResult.fail`` sets status, ``error`` and ``failure`` together, and
   ``RunResult.error`` is ``"<step>: <error>"`` of the first failed step.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from core.errors import StepError

SCHEMA_VERSION = 1  # StepResult.failure was added later: absent (None) in older files


def now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")


def duration_s(started: str | None, ended: str | None) -> float | None:
    """Seconds from `started` to `ended`, two of `now()`'s stamps (a run's or a step's);
    None if either is missing (not started, or not ended)."""
    if not started or not ended:
        return None
    return (dt.datetime.fromisoformat(ended) - dt.datetime.fromisoformat(started)).total_seconds()


@dataclass
class StepResult:
    name: str
    status: str = "not_run"  # success | failed | not_run
    attempts: int = 0
    queued: str | None = None
    started: str | None = None
    ended: str | None = None
    error: str | None = None  # the human text: failure.text
    failure: StepError | None = None  # the same as data (JSON: StepError.to_dict())

    def fail(self, failure: StepError) -> None:
        """Record the step as failed with `failure`, its text and its data together."""
        self.status, self.error, self.failure = "failed", failure.text, failure


@dataclass
class RunResult:
    orchestrator: str
    orchestrator_version: str
    run_id: str
    logical_date: str
    status: str = "running"  # success | failed
    steps: list[StepResult] = field(default_factory=list)
    decision: dict[str, Any] | None = None
    metrics: dict[str, Any] | None = None
    error: str | None = None  # "<step>: <its error>", or why the run failed before any step
    started: str | None = None
    ended: str | None = None
    schema_version: int = SCHEMA_VERSION

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def step(self, name: str) -> StepResult:
        return next(s for s in self.steps if s.name == name)

    def failed_step(self) -> StepResult | None:
        """The first step recorded as failed (the one that stopped the run), if any."""
        return next((s for s in self.steps if s.status == "failed"), None)

    def error_from_steps(self) -> str | None:
        """``"<step>: <error>"`` of the first failed step: what RunResult.error holds."""
        failed = self.failed_step()
        return f"{failed.name}: {failed.error}" if failed else None


def step_failure(step: dict[str, Any]) -> StepError | None:
    """The StepError of a step of a uniform result read as JSON (None if it has none,
    e.g. a result written before ``failure`` existed)."""
    data = step.get("failure")
    return StepError.from_dict(data) if data else None


# ------------------------------------------------------------ the per-step error file
def error_file(home: Path, run_id: str, step: str) -> Path:
    """Where a step's task leaves its StepError for the run reader:
    ``<home>/runs/<run_id>/errors/<step>.json``. The task and the driver know the
    same home (the run's config) and run id (a driver argument), so no orchestrator
    mechanism is needed to carry it."""
    return home / "runs" / run_id / "errors" / f"{step}.json"


def write_step_error(path: Path, failure: StepError) -> None:
    """Write atomically: a reader never sees half a record."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.tmp")
    partial.write_text(json.dumps(failure.to_dict(), indent=2))
    partial.replace(path)


def read_step_error(path: Path) -> StepError | None:
    """The record a failed attempt left, or None (no attempt failed in core, or the file
    is unreadable: the caller then falls back to what its orchestrator recorded)."""
    try:
        return StepError.from_dict(json.loads(path.read_text()))
    except (OSError, ValueError, TypeError):
        return None
