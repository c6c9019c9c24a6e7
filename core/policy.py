"""The warm/cold decision: a pure function of facts, so it is easy to test and explain.

Rules, first match wins (all thresholds in DriftConfig):
  1. forced by request (the weekly schedule's parameter)  → cold, forced_by_request
  2. no previous model                                     → cold, no_previous_model
  2a. policy "always_cold" (a benchmark baseline)          → cold, policy_always_cold
  2b. policy "always_warm" (a benchmark baseline)          → warm, policy_always_warm
  3. not enough refined history for the drift windows      → cold, insufficient_history
  4. last cold start ≥ force_cold_every_days ago           → cold, forced_periodic
  5. no column had enough values to compare (every measured
     column under drift.min_column_completeness)           → warm, no_comparable_columns
  6. more than max_drifted_columns drifted                 → cold, drift
     unless the last cold start is inside the current window and already saw
     every one of these columns drifted                    → warm, drift_already_handled
  7. otherwise                                             → warm, no_significant_drift

Why rule 5 is warm: with no column to compare there is no evidence of drift either
way; the periodic cold start (rule 4) still bounds how long warm starts run, and the
reason says the test could not be made (rather than that it found nothing).

Why rule 6's exception: after a lasting shift the current window differs from
the 28 days before it for about five weeks. Without the exception every one of
those days would be a cold start, and warm starts, which are how the model
adapts to the new level, would never happen. A drift-caused cold start is
repeated only when new columns drift or once the current window has moved past it.

Rules 2a/2b exist so that benchmarks/policy.py can ask whether the policy pays:
the same days trained always cold, and always warm after the first cold start
(DriftConfig.policy; "drift", the default, is rules 3–7).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from core.config import DriftConfig


@dataclass(frozen=True)
class Facts:
    day: dt.date
    has_previous_model: bool
    last_cold: dt.date | None
    last_cold_drifted: tuple[str, ...]
    enough_history: bool
    drifted_columns: tuple[str, ...] = field(default_factory=tuple)
    force_cold: bool = False
    columns_compared: bool = True  # False: every column had too few values (core/drift.py)


@dataclass(frozen=True)
class Decision:
    strategy: str  # warm | cold
    reason: str


def decide(facts: Facts, cfg: DriftConfig) -> Decision:
    if facts.force_cold:
        return Decision("cold", "forced_by_request")
    if not facts.has_previous_model:
        return Decision("cold", "no_previous_model")
    if cfg.policy == "always_cold":
        return Decision("cold", "policy_always_cold")
    if cfg.policy == "always_warm":
        return Decision("warm", "policy_always_warm")
    if not facts.enough_history:
        return Decision("cold", "insufficient_history")
    if facts.last_cold is None or (facts.day - facts.last_cold).days >= cfg.force_cold_every_days:
        return Decision("cold", "forced_periodic")
    if not facts.columns_compared:
        return Decision("warm", "no_comparable_columns")
    if len(facts.drifted_columns) > cfg.max_drifted_columns:
        recent = (facts.day - facts.last_cold).days < cfg.current_days
        same = set(facts.drifted_columns) <= set(facts.last_cold_drifted)
        if recent and same:
            return Decision("warm", "drift_already_handled")
        return Decision("cold", "drift")
    return Decision("warm", "no_significant_drift")
