"""Parity: the same seeded dates through direct, Prefect, Airflow and Dagster give
identical refined data, identical decisions and identical models and metrics.

Each implementation gets its own home with the same history (built by core), then
runs the same two daily dates (a cold start, then a warm one) through its own
machinery, in its own environment.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from history import DAILY, FIRST, LAST_HISTORY, small_config

from core.direct import backfill_history, run_date
from core.lake import Lake
from orchbench.drivers import run_wrapped

IMPLEMENTATIONS = ("direct", "prefect", "airflow", "dagster")
DAYS = DAILY[:2]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, list[dict]]]:
    out = {}
    for name in IMPLEMENTATIONS:
        cfg = small_config(tmp_path_factory.mktemp(name))
        backfill_history(cfg, FIRST, LAST_HISTORY, log=lambda _: None)
        if name == "direct":
            results = [run_date(cfg, d, log=lambda _: None).to_dict() for d in DAYS]
        else:
            results = [run_wrapped(name, cfg, d.isoformat(), log=lambda _: None) for d in DAYS]
        out[name] = (cfg.lake, results)
    return out


def comparable(decision: dict) -> dict:
    return {k: v for k, v in decision.items() if k != "report"}  # the path names the home


@pytest.mark.parametrize("name", IMPLEMENTATIONS[1:])
def test_same_results_as_direct(runs, name: str) -> None:
    lake, results = runs[name]
    direct_lake, direct = runs["direct"]
    assert [r["status"] for r in results] == ["success", "success"], [r["error"] for r in results]
    assert [r["orchestrator"] for r in results] == [name, name]
    days = Lake(direct_lake).dates("refined")
    assert Lake(lake).content_hash("refined", days) == Lake(direct_lake).content_hash(
        "refined", days)
    assert [comparable(r["decision"]) for r in results] == [comparable(r["decision"])
                                                           for r in direct]
    assert [r["metrics"] for r in results] == [r["metrics"] for r in direct]
    assert [r["decision"]["strategy"] for r in results] == ["cold", "warm"]


def test_step_times_come_from_each_orchestrator(runs) -> None:
    for name in IMPLEMENTATIONS:
        for result in runs[name][1]:
            for step in result["steps"]:
                assert step["attempts"] == 1 and step["status"] == "success"
                started = dt.datetime.fromisoformat(step["started"])
                ended = dt.datetime.fromisoformat(step["ended"])
                assert started <= ended
