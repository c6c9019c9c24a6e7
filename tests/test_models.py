"""The model store: a crash at any point while saving leaves the previous model current."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

import core.models
from core.models import ModelStore

D1, D2 = dt.date(2026, 3, 1), dt.date(2026, 3, 2)


def stage(store: ModelStore, payload: bytes) -> Path:
    staging = store.new_staging()
    (staging / "model.pkl").write_bytes(payload)
    return staging


def meta(strategy: str = "cold") -> dict:
    return {"strategy": strategy, "decision": {"drifted_columns": []}}


def test_publish_makes_current_and_is_content_addressed(tmp_path: Path) -> None:
    store = ModelStore(tmp_path)
    first = store.publish(stage(store, b"model one"), D1, meta())
    assert store.current() == first and first.version.startswith("2026-03-01-")
    again = store.publish(stage(store, b"model one"), D1, meta())
    assert again.version == first.version  # re-running a date is idempotent
    second = store.publish(stage(store, b"model two"), D2, meta("warm"))
    assert store.current().version == second.version
    assert store.previous(D2).version == first.version
    assert store.last_cold_before(dt.date(2026, 3, 3)).version == first.version
    assert not any(store.staging_dir.iterdir())


def test_crash_before_the_pointer_moves_keeps_previous_current(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = ModelStore(tmp_path)
    first = store.publish(stage(store, b"model one"), D1, meta())

    def crash(data: object, target: Path) -> None:
        if target.name in ("index.json", "current.json"):
            raise OSError("disk full (simulated crash while saving)")
        real_write_json(data, target)

    real_write_json = core.models.write_json
    monkeypatch.setattr(core.models, "write_json", crash)
    with pytest.raises(OSError, match="simulated"):
        store.publish(stage(store, b"model two"), D2, meta())
    monkeypatch.undo()
    assert store.current().version == first.version
    assert store.current().model_file.read_bytes() == b"model one"
    assert store.for_date(D2) is None


def test_half_written_model_is_never_visible(tmp_path: Path) -> None:
    """A training that died mid-write leaves only staging debris, never a version."""
    store = ModelStore(tmp_path)
    first = store.publish(stage(store, b"model one"), D1, meta())
    debris = store.new_staging()
    (debris / "model.pkl.partial").write_bytes(b"half")
    with pytest.raises(FileNotFoundError):
        store.publish(debris, D2, meta())
    assert store.current() == first
    assert [p.name for p in store.versions_dir.iterdir()] == [first.version]
