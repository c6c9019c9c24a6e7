"""The pipeline as data: which steps, in which order, fed by which upstream step,
with which retry and timeout policy. The direct run and the three wrappers all
build themselves from this list, so they cannot disagree about the pipeline.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from core import steps
from core.config import Config, StepPolicy


@dataclass(frozen=True)
class Step:
    name: str
    func: Callable[..., dict[str, Any]]
    upstream: str | None  # the step whose output is this step's second argument
    runs_in: str  # "process" or "container": where the work happens
    doc: str

    def policy(self, cfg: Config) -> StepPolicy:
        return cfg.steps[self.name]


STEPS: tuple[Step, ...] = (
    Step(
        "ingest",
        steps.ingest,
        None,
        "process",
        "Land the day's CSV; validated rows to raw, invalid rows to quarantine.",
    ),
    Step(
        "transform",
        steps.transform,
        "ingest",
        "container",
        "dbt in a container: raw → trusted → refined.",
    ),
    Step(
        "check_drift",
        steps.check_drift,
        "transform",
        "process",
        "Evidently: last 7 days vs the 28 before; decide warm or cold.",
    ),
    Step(
        "train",
        steps.train,
        "check_drift",
        "container",
        "Warm or cold start in the train container; publish a model version.",
    ),
    Step(
        "evaluate",
        steps.evaluate,
        "train",
        "container",
        "MSE and MAE of the new and previous model on the held-out day.",
    ),
)

STEP_NAMES = tuple(s.name for s in STEPS)


def step(name: str) -> Step:
    for s in STEPS:
        if s.name == name:
            return s
    raise KeyError(name)
