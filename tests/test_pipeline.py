"""The whole pipeline on real containers, real dbt, real Evidently, real training.

One small history (11 days) is built per module; the daily runs that follow
check the decision sequence, that a warm start really continues the previous
model, that outputs are identical for identical inputs, and that a failing or
hanging container leaves the previous model current and no container behind.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
from pathlib import Path

import docker
import pytest
from history import DAILY, FIRST, LAST_HISTORY, assert_tracked, small_config

from core.config import Config, Fault, StepPolicy
from core.direct import backfill_history, run_date
from core.lake import Lake
from core.models import ModelStore

pytestmark = pytest.mark.slow  # real orchestrators and containers


def run_days(cfg: Config, days: list[dt.date]) -> list:
    backfill_history(cfg, FIRST, LAST_HISTORY, log=lambda _: None)
    return [run_date(cfg, day, log=lambda _: None) for day in days]


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> tuple[Config, list]:
    cfg = small_config(tmp_path_factory.mktemp("pipeline"))
    return cfg, run_days(cfg, DAILY)


def test_every_run_succeeds_with_one_attempt_per_step(pipeline) -> None:
    _, results = pipeline
    for result in results:
        assert result.status == "success", result.error
        assert [(s.name, s.status, s.attempts) for s in result.steps] == [
            (name, "success", 1) for name in ("ingest", "transform", "check_drift", "train",
                                              "evaluate")]


def test_decisions_first_cold_then_warm_then_forced_cold(pipeline) -> None:
    _, results = pipeline
    assert [(r.decision["strategy"], r.decision["reason"]) for r in results] == [
        ("cold", "no_previous_model"),
        ("warm", "no_significant_drift"),
        ("warm", "no_significant_drift"),
        ("warm", "no_significant_drift"),
        ("cold", "forced_periodic"),  # 4 days after the first cold start
        ("warm", "no_significant_drift"),
    ]
    record = json.loads((pipeline[0].home / "drift" / "2026-01-13" / "decision.json").read_text())
    assert record["windows"] == {"reference": "2026-01-04..2026-01-10",
                                 "current": "2026-01-11..2026-01-13"}
    assert record["thresholds"]["force_cold_every_days"] == 4
    assert record["evidently_version"].startswith("0.7")
    assert Path(record["report"]).stat().st_size > 0


def test_warm_start_continues_the_previous_model(pipeline) -> None:
    cfg, results = pipeline
    store = ModelStore.of(cfg)
    cold = store.get(results[0].metrics["version"])
    warm = store.get(results[1].metrics["version"])
    assert warm.meta["parent"] == cold.version
    assert warm.meta["train_start"] == warm.meta["train_end"] == "2026-01-12"
    # SGD's step counter t_ goes on from the parent's: a refit would restart it at 1.
    assert warm.meta["t"] == cold.meta["t"] + 5 * warm.meta["train_rows"]
    assert results[1].metrics["previous_version"] == cold.version
    assert store.current().version == results[-1].metrics["version"]


def test_every_training_is_an_mlflow_run_and_a_registered_version(pipeline) -> None:
    """Issue 12: one run per date with evaluate's metrics, a version per content, warm
    starts' parents found through the registry, the alias on the last date's version."""
    cfg, results = pipeline
    for result in results:
        assert_tracked(cfg, "direct", result.run_id, result.metrics)
    store = ModelStore.of(cfg)
    assert [v.version for v in store.versions()] == [r.metrics["version"] for r in results]
    assert store.current().registry_version == len(results)
    experiment = store.client.get_experiment_by_name(store.name).experiment_id
    [run] = store.client.search_runs([experiment],
                                     f"tags.orchbench_run_id = '{results[1].run_id}'")
    assert (run.data.tags["strategy"], run.data.tags["reason"]) == (
        "warm", "no_significant_drift")
    assert run.data.params["parent"] == results[0].metrics["version"]
    assert (store.current().mlflow_model / "MLmodel").is_file()


def test_counts_add_up_in_every_zone(pipeline) -> None:
    cfg, _ = pipeline
    lake = Lake(cfg.lake)
    for day in lake.dates("raw"):
        delivered = len(lake.landing_file(day).read_text().splitlines()) - 1
        assert delivered == lake.rows("raw", day) + lake.rows("quarantine", day)
        assert lake.rows("trusted", day) == lake.rows("raw", day)
    assert sum(lake.rows("quarantine", d) for d in lake.dates("raw")) > 0


def test_same_seed_and_dates_give_identical_outputs(pipeline, tmp_path: Path) -> None:
    cfg_a, results_a = pipeline
    cfg_b = dataclasses.replace(cfg_a, home=tmp_path / "b")
    results_b = run_days(cfg_b, DAILY[:2])
    lake_a, lake_b = Lake(cfg_a.lake), Lake(cfg_b.lake)
    days = lake_b.dates("refined")
    assert lake_a.content_hash("refined", days) == lake_b.content_hash("refined", days)
    for a, b in zip(results_a, results_b, strict=False):
        assert a.metrics == b.metrics  # model versions are hashes of the model bytes
        drop = ("report",)
        assert {k: v for k, v in a.decision.items() if k not in drop} == {
            k: v for k, v in b.decision.items() if k not in drop}


def _labelled(client: docker.DockerClient) -> list:
    session = os.environ["ORCHBENCH_SESSION"]
    return client.containers.list(all=True, filters={"label": f"orchbench.session={session}"})


@pytest.mark.parametrize(
    ("offset", "fault", "status", "message"),
    [
        (1, Fault(fail_times=1), "success", None),
        (2, Fault(fail_times=9, exit_code=42), "failed", "exited with code 42"),
        (3, Fault(hang_seconds=600), "failed", "did not finish within 4 s"),
    ],
    ids=["transient", "permanent", "hang"],
)
def test_train_failures_are_retried_and_keep_the_previous_model(
    pipeline, docker_client: docker.DockerClient, offset: int, fault: Fault, status: str,
    message: str | None,
) -> None:
    cfg, _ = pipeline
    store = ModelStore.of(cfg)
    day = DAILY[-1] + dt.timedelta(days=offset)
    before = store.current()
    # Only the hang needs the short timeout; a healthy train container can take more than
    # 4 s to start on 2 loaded cores, which would turn "transient" into a timeout.
    timeout_s = 4 if fault.hang_seconds else 120
    steps = {**cfg.steps, "train": StepPolicy(retries=1, retry_delay_s=0.2, timeout_s=timeout_s)}
    faulty = dataclasses.replace(cfg, faults={"train": fault}, steps=steps)
    result = run_date(faulty, day, log=lambda _: None)
    train = result.step("train")
    assert (result.status, train.attempts) == (status, 2)
    if message is None:
        assert store.current().date == day
    else:
        assert message in train.error and "fault injection" in train.error
        assert store.current() == before and store.for_date(day) is None
        assert result.step("evaluate").status == "not_run"
    assert _labelled(docker_client) == []


def test_a_date_after_a_gap_fails_before_training_and_says_which_day(pipeline) -> None:
    """Its features need the day before: without it there is nothing to train for or
    score, and the message names the missing day instead of a scikit-learn trace."""
    cfg, _ = pipeline
    store = ModelStore.of(cfg)
    before = store.current()
    day = DAILY[-1] + dt.timedelta(days=10)  # nine days after anything in the lake
    result = run_date(cfg, day, log=lambda _: None)
    train = result.step("train")
    assert (result.status, train.status, train.attempts) == ("failed", "failed", 1)
    missing = (day - dt.timedelta(days=1)).isoformat()
    assert f"need the measurements of {missing}" in train.error
    assert f"orchbench run --date {missing}" in train.error
    assert "Traceback" not in train.error
    assert store.current() == before and store.for_date(day) is None
