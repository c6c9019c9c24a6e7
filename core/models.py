"""The model store: versioned models on disk, made current by an atomic rename.

models/
  versions/<date>-<hash8>/   model.pkl, meta.json (+ metrics.json after evaluate)
  index.json                 {logical date: version} — which version each date produced
  current.json               {"version": ...} — what serving would load
  .staging/<run>/            where a train container writes; never read as a model

A version's name is its logical date plus a hash of the model bytes, so a
re-run that trains the identical model lands on the identical name (the
pipeline is idempotent) and a different model can never overwrite one.
A version is moved into versions/ complete, and only then do index.json and
current.json change (each by os.replace), so a crash at any point leaves the
previous model current.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.lake import sha256_file, write_json

MODEL_FILE = "model.pkl"


@dataclass(frozen=True)
class ModelVersion:
    version: str
    path: Path
    meta: dict[str, Any]

    @property
    def date(self) -> dt.date:
        return dt.date.fromisoformat(self.meta["logical_date"])

    @property
    def strategy(self) -> str:
        return str(self.meta["strategy"])

    @property
    def model_file(self) -> Path:
        return self.path / MODEL_FILE

    def metrics(self) -> dict[str, Any] | None:
        f = self.path / "metrics.json"
        return json.loads(f.read_text()) if f.exists() else None


class ModelStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.versions_dir = self.root / "versions"
        self.staging_dir = self.root / ".staging"

    # -- reading ---------------------------------------------------------------
    def index(self) -> dict[str, str]:
        f = self.root / "index.json"
        return json.loads(f.read_text()) if f.exists() else {}

    def get(self, version: str) -> ModelVersion:
        path = self.versions_dir / version
        return ModelVersion(version, path, json.loads((path / "meta.json").read_text()))

    def current(self) -> ModelVersion | None:
        f = self.root / "current.json"
        return self.get(json.loads(f.read_text())["version"]) if f.exists() else None

    def for_date(self, day: dt.date) -> ModelVersion | None:
        version = self.index().get(day.isoformat())
        return self.get(version) if version else None

    def previous(self, day: dt.date) -> ModelVersion | None:
        """The model a run for `day` starts from: the newest one trained for an earlier date."""
        earlier = [d for d in self.index() if d < day.isoformat()]
        return self.get(self.index()[max(earlier)]) if earlier else None

    def last_cold_before(self, day: dt.date) -> ModelVersion | None:
        """The newest cold start trained for a date before `day`."""
        index = self.index()
        for d in sorted((d for d in index if d < day.isoformat()), reverse=True):
            version = self.get(index[d])
            if version.strategy == "cold":
                return version
        return None

    # -- writing ---------------------------------------------------------------
    def new_staging(self) -> Path:
        path = self.staging_dir / uuid.uuid4().hex
        path.mkdir(parents=True)
        return path

    def publish(self, staging: Path, day: dt.date, meta: dict[str, Any]) -> ModelVersion:
        """Move a finished staging folder into versions/ and make it the date's model."""
        model_file = staging / MODEL_FILE
        if not model_file.is_file():
            raise FileNotFoundError(f"training wrote no {MODEL_FILE} in {staging}")
        digest = sha256_file(model_file)
        version = f"{day.isoformat()}-{digest[:8]}"
        meta = {**meta, "version": version, "logical_date": day.isoformat(), "sha256": digest}
        write_json(meta, staging / "meta.json")
        target = self.versions_dir / version
        self.versions_dir.mkdir(parents=True, exist_ok=True)
        if target.exists():
            shutil.rmtree(staging)  # the identical model was published before: idempotent
        else:
            staging.rename(target)  # atomic: the folder appears complete or not at all
        index = self.index()
        index[day.isoformat()] = version
        write_json(index, self.root / "index.json")
        current = self.current()
        if current is None or day >= current.date:
            write_json({"version": version}, self.root / "current.json")
        return self.get(version)

    def write_metrics(self, version: ModelVersion, metrics: dict[str, Any]) -> None:
        write_json(metrics, version.path / "metrics.json")

    def discard(self, staging: Path) -> None:
        shutil.rmtree(staging, ignore_errors=True)
