"""The uniform result every implementation returns, so they can be compared.

The direct run fills the per-step times from its own clock; the wrappers fill
them from what their orchestrator recorded (queued, started, ended), which is
the point: the benchmark compares the orchestrators' own accounts.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import Any

SCHEMA_VERSION = 1


def now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")


@dataclass
class StepResult:
    name: str
    status: str = "not_run"  # success | failed | not_run
    attempts: int = 0
    queued: str | None = None
    started: str | None = None
    ended: str | None = None
    error: str | None = None


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
    error: str | None = None
    started: str | None = None
    ended: str | None = None
    schema_version: int = SCHEMA_VERSION

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def step(self, name: str) -> StepResult:
        return next(s for s in self.steps if s.name == name)
