"""Configuration: one dataclass tree, loaded from an optional TOML file.

Every threshold of the pipeline lives here so the three orchestrators read the
same numbers, and so a decision record can quote the thresholds it used.
Unknown keys and out-of-range values are rejected with the key's name: a typo in
a config file must not silently fall back to a default.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.dataset import DatasetProfile
from core.dataset import from_dict as dataset_from_dict
from core.errors import ConfigError

# The steps, their default policies and the policy type are the registry's (re-exported
# here: a config file's [steps.<name>] tables are StepPolicy values).
from core.registry import CONTAINER_STEPS, STEPS, StepPolicy

DRIFT_LEVELS = ("none", "mild", "strong")
POLICIES = ("drift", "always_cold", "always_warm")  # core/policy.py


@dataclass(frozen=True)
class DataConfig:
    """The generator's knobs, and the shortcut for daily files in the canonical layout.

    Any other layout is a dataset profile (`[dataset]`, core/dataset.py)."""

    source: str = "generator"  # "generator", or "csv": the dataset's files are csv_dir/DATE.csv
    csv_dir: str = ""  # with source = "csv": a folder of YYYY-MM-DD.csv files
    stations: int = 4
    seed: int = 42
    drift: str = "none"  # none | mild | strong
    drift_start: str = ""  # YYYY-MM-DD; drift applies from this date on
    bad_row_rate: float = 0.0  # share of generated rows made invalid on purpose

    def validate(self) -> None:
        if self.source not in ("generator", "csv"):
            _bad("data.source", self.source, "one of: generator, csv")
        if self.source == "csv" and not self.csv_dir:
            _bad("data.csv_dir", self.csv_dir, "a folder of YYYY-MM-DD.csv files")
        if not 1 <= self.stations <= 100:
            _bad("data.stations", self.stations, "a whole number from 1 to 100")
        if self.drift not in DRIFT_LEVELS:
            _bad("data.drift", self.drift, "one of: none, mild, strong")
        if self.drift != "none" and not self.drift_start:
            _bad("data.drift_start", self.drift_start, "a date YYYY-MM-DD when drift is set")
        if self.drift_start:
            _date("data.drift_start", self.drift_start)
        if not 0.0 <= self.bad_row_rate <= 0.5:
            _bad("data.bad_row_rate", self.bad_row_rate, "a share from 0 to 0.5")

    @property
    def drift_start_date(self) -> dt.date | None:
        return dt.date.fromisoformat(self.drift_start) if self.drift_start else None


@dataclass(frozen=True)
class DriftConfig:
    """How drift is measured and when it orders a cold start (see core/drift.py for why)."""

    current_days: int = 7
    reference_days: int = 28
    min_reference_days: int = 28  # fewer days of refined data → insufficient_history
    method: str = "wasserstein"
    threshold: float = 0.65  # normed Wasserstein; see core/drift.py for the calibration
    max_drifted_columns: int = 2  # more than this many drifted columns → cold
    # A column with values in fewer than this share of the rows of the reference or
    # the current window is "insufficient data": not compared, never drifted. 0.5 =
    # at least half of each window measured (3.5 of 7 days, 14 of 28): below it,
    # outages make no-drift weeks look drifted (core/drift.py has the figures).
    min_column_completeness: float = 0.5
    force_cold_every_days: int = 7  # a cold start at least this often
    # "drift" (core/policy.py's rules) or a baseline: "always_cold", "always_warm"
    policy: str = "drift"

    def validate(self) -> None:
        for name in ("current_days", "reference_days", "force_cold_every_days"):
            if getattr(self, name) < 1:
                _bad(f"drift.{name}", getattr(self, name), "a whole number of days, at least 1")
        if not 1 <= self.min_reference_days <= self.reference_days:
            _bad(
                "drift.min_reference_days",
                self.min_reference_days,
                f"from 1 to drift.reference_days ({self.reference_days})",
            )
        if self.threshold <= 0:
            _bad("drift.threshold", self.threshold, "a positive number")
        if not 0.0 <= self.min_column_completeness <= 1.0:
            _bad("drift.min_column_completeness", self.min_column_completeness,
                 "a share from 0 to 1")
        if self.max_drifted_columns < 0:
            _bad("drift.max_drifted_columns", self.max_drifted_columns, "0 or more")
        if self.policy not in POLICIES:
            _bad("drift.policy", self.policy, f"one of: {', '.join(POLICIES)}")
        if self.method not in ("wasserstein", "ks", "psi", "jensenshannon"):
            _bad("drift.method", self.method, "one of: wasserstein, ks, psi, jensenshannon")


@dataclass(frozen=True)
class TrainConfig:
    """Model training; the seed makes every orchestrator produce the same model."""

    seed: int = 7
    history_days: int = 56  # a cold start fits on at most this many days before D
    regression_tolerance: float = 0.10  # new MSE > previous × (1 + tol) → regression

    def validate(self) -> None:
        if self.history_days < 1:
            _bad("train.history_days", self.history_days, "a whole number of days, at least 1")
        if self.regression_tolerance < 0:
            _bad("train.regression_tolerance", self.regression_tolerance, "0 or more")


@dataclass(frozen=True)
class Fault:
    """A failure injected into a container step, for tests, benchmarks and the workshop.

    The step's container fails its first `fail_times` attempts with `exit_code`,
    and/or sleeps `hang_seconds` first (to trip the timeout).
    """

    fail_times: int = 0
    exit_code: int = 3
    hang_seconds: float = 0.0

    def validate(self, step: str) -> None:
        if self.fail_times < 0:
            _bad(f"faults.{step}.fail_times", self.fail_times, "0 or more")
        if not 1 <= self.exit_code <= 255:
            _bad(f"faults.{step}.exit_code", self.exit_code, "an exit code from 1 to 255")
        if self.hang_seconds < 0:
            _bad(f"faults.{step}.hang_seconds", self.hang_seconds, "0 or more seconds")

    @property
    def active(self) -> bool:
        return self.fail_times > 0 or self.hang_seconds > 0


def _default_policies() -> dict[str, StepPolicy]:
    return {s.name: s.default_policy for s in STEPS}


@dataclass(frozen=True)
class Config:
    home: Path = Path("var")  # lake, model store, run results
    data: DataConfig = field(default_factory=DataConfig)
    drift: DriftConfig = field(default_factory=DriftConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    dataset: DatasetProfile = field(default_factory=DatasetProfile)
    steps: dict[str, StepPolicy] = field(default_factory=_default_policies)
    faults: dict[str, Fault] = field(default_factory=dict)  # step name → injected failure
    container_memory: str = "2g"  # resource limit of workload containers

    def validate(self) -> Config:
        self.data.validate()
        self.dataset.validate()
        self.drift.validate()
        self.train.validate()
        for name, policy in self.steps.items():
            policy.validate(name)
        for name, fault in self.faults.items():
            if name not in CONTAINER_STEPS:
                _bad("faults", name, f"a container step: {', '.join(CONTAINER_STEPS)}")
            fault.validate(name)
        return self

    @property
    def profile(self) -> DatasetProfile:
        """The dataset as ingest reads it: `[data] source = "csv"` points the profile at
        csv_dir/DATE.csv, one file per logical date."""
        if self.data.source == "csv":
            return dataclasses.replace(self.dataset, source="files",
                                       files=str(Path(self.data.csv_dir) / "{date}.csv"))
        return self.dataset

    @property
    def lake(self) -> Path:
        return self.home / "lake"

    @property
    def models(self) -> Path:
        """The model store: MLflow's tracking and registry (core/models.py)."""
        return self.home / "mlflow"

    def replace(self, **changes: Any) -> Config:
        """A copy with top-level or dotted changes, e.g. replace(**{"data.drift": "mild"})."""
        return _apply(self, changes).validate()

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["home"] = str(self.home)
        out["dataset"] = self.dataset.to_dict()
        return out


def load_config(path: Path | None = None, home: Path | None = None) -> Config:
    """Defaults, then the TOML file (if any), then ORCHBENCH_HOME / home.

    A ``.json`` file holds Config.to_dict(): how a driver hands the exact config
    of a run to an orchestrator in another environment (see save_config)."""
    cfg = Config()
    if path is not None:
        if not path.is_file():
            raise ConfigError(
                f"The config file {path} does not exist.",
                "Give the path of a TOML file, or leave --config out to use the defaults.",
            )
        kind = "JSON" if path.suffix == ".json" else "TOML"
        try:
            text = path.read_text()
            raw = json.loads(text) if kind == "JSON" else tomllib.loads(text)
        except (tomllib.TOMLDecodeError, json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(
                f"The config file {path} is not valid {kind}: {exc}.",
                "Fix the syntax at the line named.",
            ) from None
        cfg = _from_toml(cfg, raw, str(path))
    env_home = os.environ.get("ORCHBENCH_HOME")
    if home is not None:
        cfg = dataclasses.replace(cfg, home=Path(home))
    elif env_home:
        cfg = dataclasses.replace(cfg, home=Path(env_home))
    return cfg.validate()


def save_config(cfg: Config, target: Path) -> Path:
    """Write cfg so that load_config(target) gives it back exactly."""
    from core.lake import write_json

    write_json(cfg.to_dict(), target)
    return target


def _from_toml(cfg: Config, raw: dict[str, Any], where: str) -> Config:
    changes: dict[str, Any] = {}
    for key, value in raw.items():
        if key == "dataset":
            if not isinstance(value, dict):
                _bad(key, value, 'a table: [dataset] profile = "beijing", or a whole profile')
            cfg = dataclasses.replace(cfg, dataset=dataset_from_dict(value, f"{where} [dataset]"))
        elif key in ("steps", "faults"):
            if not isinstance(value, dict):
                _bad(key, value, "a table of step names")
            known = cfg.steps if key == "steps" else CONTAINER_STEPS
            for step, table in value.items():
                if step not in known or not isinstance(table, dict):
                    raise ConfigError(
                        f"{where}: unknown step {step!r} under [{key}].",
                        f"Use one of: {', '.join(known)}.",
                    )
                if key == "faults" and step not in cfg.faults:
                    cfg = dataclasses.replace(cfg, faults={**cfg.faults, step: Fault()})
                for k, v in table.items():
                    changes[f"{key}.{step}.{k}"] = v
        elif isinstance(value, dict):
            for k, v in value.items():
                changes[f"{key}.{k}"] = v
        else:
            changes[key] = value
    return _apply(cfg, changes, where)


def _apply(cfg: Config, changes: dict[str, Any], where: str = "config") -> Config:
    for dotted, value in changes.items():
        cfg = _set(cfg, dotted.split("."), value, dotted, where)
    return cfg


def _set(obj: Any, parts: list[str], value: Any, dotted: str, where: str) -> Any:
    head, rest = parts[0], parts[1:]
    if isinstance(obj, dict):
        if head not in obj:
            raise ConfigError(f"{where}: unknown key {dotted!r}.", f"Known: {', '.join(obj)}.")
        new = dict(obj)
        new[head] = _set(obj[head], rest, value, dotted, where) if rest else value
        return new
    fields = {f.name: f for f in dataclasses.fields(obj)}
    if head not in fields:
        raise ConfigError(
            f"{where}: unknown key {dotted!r}.",
            f"Known keys here: {', '.join(fields)}.",
        )
    if rest:
        inner = _set(getattr(obj, head), rest, value, dotted, where)
        return dataclasses.replace(obj, **{head: inner})
    current = getattr(obj, head)
    return dataclasses.replace(obj, **{head: _coerce(current, value, dotted, where)})


def _coerce(current: Any, value: Any, dotted: str, where: str) -> Any:
    """Accept a value of the default's type (ints for floats too), else say what was expected."""
    if isinstance(current, Path):
        return Path(value)
    if isinstance(current, bool):
        ok = isinstance(value, bool)
    elif isinstance(current, float):
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        value = float(value) if ok else value
    elif isinstance(current, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
    else:
        ok = isinstance(value, type(current))
    if not ok:
        raise ConfigError(
            f"{where}: {dotted} = {value!r} has the wrong type.",
            f"Give a {type(current).__name__}, like the default {current!r}.",
        )
    return value


def _bad(key: str, value: Any, expected: str) -> None:
    raise ConfigError(f"The config value {key} = {value!r} is not valid.", f"Expected {expected}.")


def _date(key: str, value: str) -> None:
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        _bad(key, value, "a date YYYY-MM-DD")
