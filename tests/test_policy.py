"""The warm/cold rule, case by case (pure: no data, no Docker)."""

from __future__ import annotations

import datetime as dt

import pytest

from core.config import DriftConfig
from core.policy import Facts, decide

DAY = dt.date(2026, 3, 10)
CFG = DriftConfig()


def facts(**changes: object) -> Facts:
    base = {"day": DAY, "has_previous_model": True, "last_cold": DAY - dt.timedelta(days=3),
            "last_cold_drifted": (), "enough_history": True, "drifted_columns": ()}
    return Facts(**{**base, **changes})


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"has_previous_model": False, "last_cold": None}, ("cold", "no_previous_model")),
        ({"enough_history": False}, ("cold", "insufficient_history")),
        ({}, ("warm", "no_significant_drift")),
        ({"drifted_columns": ("no2", "o3")}, ("warm", "no_significant_drift")),
        ({"drifted_columns": ("pm25", "pm10", "temperature")}, ("cold", "drift")),
        ({"last_cold": DAY - dt.timedelta(days=7)}, ("cold", "forced_periodic")),
        ({"last_cold": DAY - dt.timedelta(days=6)}, ("warm", "no_significant_drift")),
        ({"force_cold": True}, ("cold", "forced_by_request")),
        # a drift the last cold start already saw does not order another one ...
        ({"drifted_columns": ("pm25", "pm10", "temperature"),
          "last_cold_drifted": ("pm25", "pm10", "temperature", "humidity")},
         ("warm", "drift_already_handled")),
        # ... but a newly drifted column does
        ({"drifted_columns": ("pm25", "pm10", "no2"),
          "last_cold_drifted": ("pm25", "pm10", "temperature")}, ("cold", "drift")),
    ],
)
def test_rule(changes: dict, expected: tuple[str, str]) -> None:
    decision = decide(facts(**changes), CFG)
    assert (decision.strategy, decision.reason) == expected


def test_thresholds_are_configurable() -> None:
    strict = DriftConfig(max_drifted_columns=0, force_cold_every_days=2)
    assert decide(facts(drifted_columns=("no2",)), strict).reason == "forced_periodic"
    assert decide(facts(drifted_columns=("no2",), last_cold=DAY - dt.timedelta(days=1)),
                  strict).reason == "drift"


def test_no_comparable_column_is_said_and_is_not_a_drift() -> None:
    assert decide(facts(columns_compared=False), CFG) == decide(
        facts(columns_compared=False, drifted_columns=()), CFG)
    assert (decide(facts(columns_compared=False), CFG).reason) == "no_comparable_columns"
    # the periodic cold start still comes first
    late = facts(columns_compared=False, last_cold=DAY - dt.timedelta(days=7))
    assert decide(late, CFG).reason == "forced_periodic"


@pytest.mark.parametrize(("policy", "expected"), [
    ("always_cold", ("cold", "policy_always_cold")),
    ("always_warm", ("warm", "policy_always_warm")),
])
def test_baseline_policies_of_the_policy_benchmark(policy: str, expected: tuple) -> None:
    cfg = DriftConfig(policy=policy)
    drifting = facts(drifted_columns=("pm25", "pm10", "temperature"),
                     last_cold=DAY - dt.timedelta(days=30))
    assert (decide(drifting, cfg).strategy, decide(drifting, cfg).reason) == expected
    first = facts(has_previous_model=False, last_cold=None)
    assert decide(first, cfg).reason == "no_previous_model"  # the first start is cold
