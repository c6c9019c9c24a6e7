"""The model store on MLflow's registry: a crash at any point while saving leaves the
previous model current, and the same content registers once (core/models.py)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from core.models import CHAMPION, ModelStore

D1, D2, D3 = dt.date(2026, 3, 1), dt.date(2026, 3, 2), dt.date(2026, 3, 3)


@pytest.fixture
def store(tmp_path: Path) -> ModelStore:
    return ModelStore(tmp_path / "mlflow", "orchbench-test")


def stage(store: ModelStore, payload: bytes) -> Path:
    """What a train container leaves in /out (the MLflow model's content is not read here)."""
    staging = store.new_staging()
    (staging / "model.pkl").write_bytes(payload)
    (staging / "mlflow_model").mkdir()
    (staging / "mlflow_model" / "MLmodel").write_text("flavors: {}\n")
    (staging / "train.json").write_text("{}")
    return staging


def publish(store: ModelStore, payload: bytes, day: dt.date, strategy: str = "cold"):
    staging = stage(store, payload)
    try:
        version, _ = store.publish(staging, day, {"strategy": strategy, "decision": {}},
                                   tags={"strategy": strategy}, params={"seed": 7})
    finally:
        store.discard(staging)
    return version


def registered(store: ModelStore) -> list[str]:
    return [v.version for v in store.versions()]


def test_publish_registers_moves_the_alias_and_is_content_addressed(store: ModelStore) -> None:
    first = publish(store, b"model one", D1)
    assert store.current() == first and first.version.startswith("2026-03-01-")
    assert first.model_file.read_bytes() == b"model one"
    again = publish(store, b"model one", D1)
    assert again == first and registered(store) == [first.version]  # idempotent
    second = publish(store, b"model two", D2, "warm")
    assert store.current() == second and second.registry_version == 2
    assert store.previous(D2) == first and store.for_date(D2) == second
    assert store.last_cold_before(D3) == first
    assert not any(store.staging_dir.iterdir())
    # Each training is a run, the re-run too: three runs for two versions.
    runs = store.client.search_runs([store.client.get_experiment_by_name(store.name)
                                     .experiment_id])
    assert len(runs) == 3 and {r.data.params["seed"] for r in runs} == {"7"}


def test_a_backfill_of_an_older_date_leaves_the_alias(store: ModelStore) -> None:
    newer = publish(store, b"model two", D2)
    older = publish(store, b"model one", D1)
    assert store.current() == newer and store.for_date(D1) == older


@pytest.mark.parametrize("crash_at", ["log_artifacts", "create_model_version",
                                      "set_registered_model_alias"])
def test_a_crash_while_saving_leaves_the_alias_on_the_previous_version(
    store: ModelStore, monkeypatch: pytest.MonkeyPatch, crash_at: str
) -> None:
    first = publish(store, b"model one", D1)

    def crash(*args: object, **kwargs: object) -> None:
        raise OSError("disk full (simulated crash while saving)")

    monkeypatch.setattr(store.client, crash_at, crash)
    with pytest.raises(OSError, match="simulated"):
        publish(store, b"model two", D2)
    monkeypatch.undo()
    assert store.current() == first
    assert store.current().model_file.read_bytes() == b"model one"
    assert str(store.client.get_model_version_by_alias(store.name, CHAMPION).version) == "1"
    # Before the version exists the date has none; after, it is there but not current.
    assert (store.for_date(D2) is None) == (crash_at != "set_registered_model_alias")
    failed = store.client.search_runs(
        [store.client.get_experiment_by_name(store.name).experiment_id],
        "attributes.status = 'FAILED'")
    assert len(failed) == 1  # the crashed training is on record, as failed
    # Running the date again finishes the job, with one version for the content.
    second = publish(store, b"model two", D2)
    assert store.current() == second and registered(store) == [first.version, second.version]


def test_a_half_written_model_is_never_registered(store: ModelStore) -> None:
    """A training that died mid-write leaves only staging debris, never a version."""
    first = publish(store, b"model one", D1)
    debris = store.new_staging()
    (debris / "model.pkl.partial").write_bytes(b"half")
    with pytest.raises(FileNotFoundError, match=r"model\.pkl"):
        store.publish(debris, D2, {"strategy": "cold"}, tags={}, params={})
    assert store.current() == first and registered(store) == [first.version]


def test_a_failed_evaluation_fails_the_run_and_a_retry_finishes_it(store: ModelStore) -> None:
    staging = stage(store, b"model one")
    version, run_id = store.publish(staging, D1, {"strategy": "cold"}, tags={}, params={})
    store.discard(staging)
    assert store.client.get_run(run_id).info.status == "RUNNING"  # until evaluate
    store.mark_failed(run_id)  # what core.steps.evaluate does when its container fails
    assert store.client.get_run(run_id).info.status == "FAILED"
    store.log_evaluation(version, run_id, {"mse": 1.5, "regression": False,
                                           "permutation_importance": {"a": 0.25}})
    run = store.client.get_run(run_id)
    assert run.info.status == "FINISHED"
    assert run.data.metrics == {"mse": 1.5, "regression": 0.0, "importance/a": 0.25}
    assert version.metrics()["mse"] == 1.5
