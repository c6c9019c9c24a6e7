"""The pipeline as data: which steps, in which order, fed by which upstream step,
with which retry and timeout policy. The direct run and the three wrappers all
build themselves from this list, so they cannot disagree about the pipeline.

This module defines the step names (and nothing else does): core/config.py
derives its defaults and its checks from STEPS, the wrappers and the stacks from
STEP_NAMES. It imports no step code, so the config can import it cheaply; a
step's function is looked up in core/steps.py by the step's name when called.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from core.errors import ConfigError

if TYPE_CHECKING:
    from core.config import Config

# A step's timeout when its policy names none: the container runner's default too
# (core/runner.py reads it), so a step and its container cannot disagree.
DEFAULT_TIMEOUT_S = 300.0
# What each orchestrator declares as a task's timeout is the step's timeout_s plus
# this margin: the container runner's timeout (timeout_s) fires first, kills and
# removes the container and reports it; the orchestrator's is the second line,
# late enough never to interrupt the runner's own clean-up.
ORCHESTRATOR_TIMEOUT_MARGIN_S = 30.0


@dataclass(frozen=True)
class StepPolicy:
    """Retry and timeout policy of one step; the wrappers translate it to their idiom."""

    retries: int = 0
    retry_delay_s: float = 2.0
    timeout_s: float = DEFAULT_TIMEOUT_S

    def validate(self, step: str) -> None:
        for key, ok, expected in (
            ("retries", self.retries >= 0, "0 or more"),
            ("retry_delay_s", self.retry_delay_s >= 0, "0 or more seconds"),
            ("timeout_s", self.timeout_s > 0, "a positive number of seconds"),
        ):
            if not ok:
                raise ConfigError(
                    f"The config value steps.{step}.{key} = {getattr(self, key)!r} is not valid.",
                    f"Expected {expected}.",
                )

    @property
    def orchestrator_timeout_s(self) -> float:
        """The timeout an orchestrator declares for the step (see ORCHESTRATOR_TIMEOUT_MARGIN_S)."""
        return self.timeout_s + ORCHESTRATOR_TIMEOUT_MARGIN_S


@dataclass(frozen=True)
class Step:
    name: str  # also the name of its function in core/steps.py
    upstream: str | None  # the step whose output is this step's second argument
    runs_in: str  # "process" or "container": where the work happens
    doc: str
    default_policy: StepPolicy  # what config.steps[name] is unless a config file says otherwise
    reported_as: str | None = None  # the RunResult field its output fills: decision, metrics

    @property
    def func(self) -> Callable[..., dict[str, Any]]:
        func: Callable[..., dict[str, Any]] = getattr(importlib.import_module("core.steps"),
                                                      self.name)
        return func

    def policy(self, cfg: Config) -> StepPolicy:
        return cfg.steps[self.name]


STEPS: tuple[Step, ...] = (
    Step(
        "ingest",
        None,
        "process",
        "Land the day's CSV; validated rows to raw, invalid rows to quarantine.",
        StepPolicy(retries=0, timeout_s=120.0),
    ),
    Step(
        "transform",
        "ingest",
        "container",
        "dbt in a container: raw → trusted → refined.",
        StepPolicy(retries=1, retry_delay_s=2.0, timeout_s=300.0),
    ),
    Step(
        "check_drift",
        "transform",
        "process",
        "Evidently: last 7 days vs the 28 before; decide warm or cold.",
        StepPolicy(retries=0, timeout_s=300.0),
        reported_as="decision",
    ),
    Step(
        "train",
        "check_drift",
        "container",
        "Warm or cold start in the train container; publish a model version.",
        StepPolicy(retries=1, retry_delay_s=2.0, timeout_s=600.0),
    ),
    Step(
        "evaluate",
        "train",
        "container",
        "MSE and MAE of the new and previous model on the held-out day.",
        StepPolicy(retries=1, retry_delay_s=2.0, timeout_s=300.0),
        reported_as="metrics",
    ),
)

STEP_NAMES: tuple[str, ...] = tuple(s.name for s in STEPS)
# Where faults can be injected (a config's [faults.<step>]): the steps run in a container.
CONTAINER_STEPS: tuple[str, ...] = tuple(s.name for s in STEPS if s.runs_in == "container")
# The steps whose outputs a run's result reports (RunResult.decision and .metrics).
DECISION_STEP: str = next(s.name for s in STEPS if s.reported_as == "decision")
METRICS_STEP: str = next(s.name for s in STEPS if s.reported_as == "metrics")


def step(name: str) -> Step:
    for s in STEPS:
        if s.name == name:
            return s
    raise KeyError(name)
