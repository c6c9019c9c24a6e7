"""The model store: MLflow's tracking and model registry, on SQLite under the home.

<home>/mlflow/
  mlflow.db                                  runs (tags, params, metrics), registered
                                             models, their versions and aliases
  artifacts/<run id>/artifacts/              what one training logged:
    model/                                   the MLflow model (scikit-learn flavour,
                                             input signature): what `orchbench serve` runs
    model.pkl                                the bundle a warm start continues and
                                             evaluate scores (images/train/app/model.py)
    meta.json, train.json                    lineage and the container's report
    metrics.json                             evaluate's, once it ran
  .staging/<uuid>/                           where a train container writes; never a model

One registered model per dataset (`orchbench-<dataset>`); every training is a run
of the experiment of the same name; a model version is registered from the run's
`model/` folder, and the alias CHAMPION names the current one (what serving loads).

A version's name (its tag `version`) is its logical date plus a hash of model.pkl,
so a re-run that trains the identical model finds the identical name and registers
nothing new (the pipeline is idempotent), while a different model never replaces
one. Order of a publish (publish()): the run's files are logged complete, then the
version is created (one SQLite transaction), and only then does the alias move, so
a crash at any point leaves the previous model current (tests/test_models.py).

Why MLflow and not our own index.json and current.json (issue 12): it is the tool
the field already reads, with a UI (`orchbench mlflow`), a registry whose aliases
are the "current" pointer, and a scoring server (`orchbench serve`). The models/
folder of earlier versions is gone, not kept as a cache: the run's artifacts are
already files on this disk, mounted read-only into the containers as they are.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import shutil
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.errors import ConfigError
from core.lake import sha256_file, write_json

if TYPE_CHECKING:
    from mlflow import MlflowClient

    from core.config import Config

MODEL_FILE = "model.pkl"  # the bundle, in the run's artifacts and in the container's /out
MLFLOW_MODEL = "model"  # the run's artifact folder that is the MLflow model
STAGED_MLFLOW_MODEL = "mlflow_model"  # the container writes it there (images/train/app/train.py)
CHAMPION = "champion"  # the registry alias of the current version
TRACKING_DB = "mlflow.db"
ARTIFACTS = "artifacts"

# No library call of ours may phone home (the containers have no network; the host
# should not either): MLflow's own switch, since DO_NOT_TRACK does not reach it.
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")


def registered_model_name(dataset: str) -> str:
    """The registered model (and experiment) of a dataset: `orchbench-<dataset>`."""
    return f"orchbench-{dataset}"


def tracking_uri(root: Path) -> str:
    """The SQLite store under `root` (<home>/mlflow), as MLflow's URI."""
    return f"sqlite:///{Path(root).resolve() / TRACKING_DB}"


def open_client(root: Path) -> MlflowClient:
    """MLflow's client on the store at `root`, creating its database if absent. The
    import alone takes 2.5–5 s on these machines (pandas is part of it)."""
    from mlflow import MlflowClient
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    # Its INFO lines ("Creating initial MLflow database tables…", alembic's) would land
    # in every step's log; warnings and errors still do. After the import, which sets
    # MLflow's own level.
    for logger in ("mlflow", "alembic"):
        logging.getLogger(logger).setLevel(logging.WARNING)
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    if not (root / TRACKING_DB).is_file():
        # Created here, not by the client: the client would record the process's working
        # directory (./mlruns) as the Default experiment's artifact root.
        SqlAlchemyStore(tracking_uri(root), artifacts_uri(root))
    return MlflowClient(tracking_uri=tracking_uri(root), registry_uri=tracking_uri(root))


def artifacts_uri(root: Path) -> str:
    """Where the store at `root` keeps its runs' files, as a file URI."""
    return (Path(root) / ARTIFACTS).resolve().as_uri()


def registered_models(root: Path) -> dict[str, list[str]]:
    """{registered model: its aliases} in the store at `root` (empty if it has none)."""
    if not (Path(root) / TRACKING_DB).is_file():
        return {}
    return {m.name: sorted(m.aliases or {})
            for m in open_client(root).search_registered_models()}


@dataclass(frozen=True)
class ModelVersion:
    """One registered model version: `version` its name (<date>-<hash8>), `path`
    the local folder of the run's artifacts that holds it, `meta` its meta.json."""

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

    @property
    def mlflow_model(self) -> Path:
        return self.path / MLFLOW_MODEL

    @property
    def registry_version(self) -> int:
        """Its number in the registry (1, 2, …)."""
        return int(self.meta["registry_version"])

    def metrics(self) -> dict[str, Any] | None:
        f = self.path / "metrics.json"
        return json.loads(f.read_text()) if f.exists() else None


class ModelStore:
    """The registry and tracking store at `root` (<home>/mlflow), for registered model `name`."""

    def __init__(self, root: Path, name: str) -> None:
        self.root = Path(root)
        self.name = name
        self.staging_dir = self.root / ".staging"

    @classmethod
    def of(cls, cfg: Config) -> ModelStore:
        """The store of a run's config: its home's, for its dataset."""
        return cls(cfg.models, registered_model_name(cfg.profile.name))

    @property
    def uri(self) -> str:
        return tracking_uri(self.root)

    def create(self) -> None:
        """Create the store (database, registered model) where it is absent."""
        _ = self.client

    def exists(self) -> bool:
        """Whether the store was created (by a first publish)."""
        return (self.root / TRACKING_DB).is_file()

    @cached_property
    def client(self) -> MlflowClient:
        """MLflow's client on this store; creates the database on first use (≈1 s: its
        schema migrations, measured here) and the registered model."""
        from mlflow.exceptions import MlflowException

        client = open_client(self.root)
        try:
            client.create_registered_model(
                self.name, description="orchbench's daily forecast of pm2.5 (issue 12)")
        except MlflowException as exc:
            if exc.error_code != "RESOURCE_ALREADY_EXISTS":
                raise
        return client

    # -- reading ---------------------------------------------------------------
    def versions(self) -> list[ModelVersion]:
        """Every registered version, oldest first."""
        if not self.exists():
            return []  # reading does not create the store (nor pay its ≈8 s migrations)
        found = self.client.search_model_versions(f"name = '{self.name}'")
        return [self._version(v) for v in sorted(found, key=lambda v: int(v.version))]

    def index(self) -> dict[str, str]:
        """{logical date: version name}: which version each date produced (the newest
        registered, where a date was trained again on other data)."""
        return {day: v.version for day, v in self._by_date().items()}

    def get(self, version: str) -> ModelVersion:
        """The version named `version`; KeyError if none is registered."""
        for v in self.versions():
            if v.version == version:
                return v
        raise KeyError(f"no model version {version} in {self.name}")

    def current(self) -> ModelVersion | None:
        """The version the alias CHAMPION names: what serving loads; None before any."""
        from mlflow.exceptions import MlflowException

        if not self.exists():
            return None
        try:
            found = self.client.get_model_version_by_alias(self.name, CHAMPION)
        except MlflowException as exc:
            if exc.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
                return None
            raise
        return self._version(found)

    def for_date(self, day: dt.date) -> ModelVersion | None:
        return self._by_date().get(day.isoformat())

    def previous(self, day: dt.date) -> ModelVersion | None:
        """The model a run for `day` starts from: the newest one trained for an earlier date."""
        earlier = [v for d, v in self._by_date().items() if d < day.isoformat()]
        return earlier[-1] if earlier else None

    def last_cold_before(self, day: dt.date) -> ModelVersion | None:
        """The newest cold start trained for a date before `day`."""
        colds = [v for d, v in self._by_date().items()
                 if d < day.isoformat() and v.strategy == "cold"]
        return colds[-1] if colds else None

    # -- writing ---------------------------------------------------------------
    def new_staging(self) -> Path:
        path = self.staging_dir / uuid.uuid4().hex
        path.mkdir(parents=True)
        return path

    def publish(self, staging: Path, day: dt.date, meta: dict[str, Any], *,
                tags: dict[str, str], params: dict[str, Any]) -> tuple[ModelVersion, str]:
        """Log a finished staging folder as an MLflow run and register its model.

        `staging` holds model.pkl, mlflow_model/ and train.json (the train container's
        /out); `tags` and `params` go on the run. Returns the date's version and the
        run's id. Raises FileNotFoundError if the container wrote no model. The
        alias moves only for the newest date (a backfill of an older one leaves it)."""
        for needed in (MODEL_FILE, STAGED_MLFLOW_MODEL):
            if not (staging / needed).exists():
                raise FileNotFoundError(f"training wrote no {needed} in {staging}")
        digest = sha256_file(staging / MODEL_FILE)
        version = f"{day.isoformat()}-{digest[:8]}"
        meta = {**meta, "version": version, "logical_date": day.isoformat(), "sha256": digest}
        write_json(meta, staging / "meta.json")
        (staging / STAGED_MLFLOW_MODEL).rename(staging / MLFLOW_MODEL)
        client = self.client
        run = client.create_run(self._experiment_id(), run_name=f"{day} {meta['strategy']}",
                                tags={**tags, "logical_date": day.isoformat(),
                                      "model_version": version})
        run_id = run.info.run_id
        try:
            for key, value in params.items():
                client.log_param(run_id, key, value)
            client.log_artifacts(run_id, str(staging))  # complete before any version names it
            existing = next((v for v in self.versions() if v.version == version), None)
            if existing is None:  # the identical model published before: idempotent
                client.create_model_version(
                    self.name, source=f"{run.info.artifact_uri}/{MLFLOW_MODEL}", run_id=run_id,
                    tags={"version": version, "logical_date": day.isoformat(),
                          "strategy": meta["strategy"], "sha256": digest})
            published = self.get(version)
            current = self.current()
            if current is None or day >= current.date:
                client.set_registered_model_alias(self.name, CHAMPION,
                                                  str(published.registry_version))
        except BaseException:
            client.set_terminated(run_id, "FAILED")
            raise
        return published, run_id

    def log_evaluation(self, version: ModelVersion, run_id: str, metrics: dict[str, Any]) -> None:
        """Evaluate's figures: the numbers as metrics of the training's run `run_id`
        (importance as `importance/<feature>`), the whole record as metrics.json beside
        the version's model; then the run is finished."""
        client = self.client
        numbers = {k: float(v) for k, v in metrics.items()
                   if isinstance(v, int | float) and not isinstance(v, bool)}
        numbers.update({f"importance/{f}": float(v)
                        for f, v in (metrics.get("permutation_importance") or {}).items()})
        numbers["regression"] = float(bool(metrics.get("regression")))
        for key, value in numbers.items():
            client.log_metric(run_id, key, value)
        write_json(metrics, version.path / "metrics.json")
        client.set_terminated(run_id, "FINISHED")

    def mark_failed(self, run_id: str) -> None:
        """The training's run ends FAILED (its evaluation failed); a later successful
        evaluation of it (a retry) marks it FINISHED again."""
        self.client.set_terminated(run_id, "FAILED")

    def discard(self, staging: Path) -> None:
        shutil.rmtree(staging, ignore_errors=True)

    # -- helpers ---------------------------------------------------------------
    def _by_date(self) -> dict[str, ModelVersion]:
        """{logical date: its version}, in date order, from one registry search."""
        newest = {v.meta["logical_date"]: v for v in self.versions()}  # later numbers win
        return dict(sorted(newest.items()))

    def _experiment_id(self) -> str:
        found = self.client.get_experiment_by_name(self.name)
        expected = artifacts_uri(self.root)
        if found is not None and found.artifact_location != expected:
            # MLflow records absolute paths: a copied home would write into the original's.
            raise ConfigError(
                f"The MLflow store in {self.root} keeps its artifacts in "
                f"{found.artifact_location}, outside this home: the home was copied or moved "
                "after models were trained in it (MLflow records absolute paths).",
                f"Use the original home, or start this one afresh by deleting {self.root} "
                "(its runs and models are then gone from it).")
        if found is not None:
            return found.experiment_id
        return self.client.create_experiment(self.name, artifact_location=expected)

    def _version(self, found: Any) -> ModelVersion:
        """Our view of an MLflow ModelVersion: its run's artifact folder and meta.json."""
        source = urllib.parse.urlparse(found.source)
        path = Path(urllib.request.url2pathname(source.path)).parent  # the run's artifacts
        meta = json.loads((path / "meta.json").read_text())
        return ModelVersion(found.tags.get("version", meta["version"]), path,
                            {**meta, "registry_version": int(found.version)})
