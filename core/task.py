"""What one orchestrator task does, whichever orchestrator runs it.

A task of Prefect, Airflow or Dagster receives only small JSON-able values
(RunParams and its upstream step's output dict) and calls execute(): it
takes the run's config (loaded once per process, run_config), rebuilds the
RunContext and runs the registry's step.
The three wrappers therefore differ only in how they declare tasks, retries,
timeouts, schedules and logging — which is what a reader should compare.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path
from typing import Any

from core.config import Config, load_config
from core.dates import parse_date
from core.errors import StepError
from core.registry import step
from core.result import error_file, write_step_error
from core.steps import Log, RunContext


@dataclass(frozen=True)
class RunParams:
    """One pipeline run, as orchestrator parameters: only strings and booleans."""

    day: str
    run_id: str
    config: str | None = None  # a TOML file, or the JSON a driver saved (core.config.save_config)
    home: str | None = None
    force_cold: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunParams:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})

    def context(self, log: Log = print, container_log: Log | None = None,
                cfg: Config | None = None, orchestrator: str = "direct") -> RunContext:
        """The step's RunContext; `cfg` is the run's Config where the caller holds it."""
        cfg = cfg or run_config(self.config, self.home)
        return RunContext(cfg, logical_date(self.day), self.run_id, log, self.force_cold,
                          container_log, orchestrator)


# Why a memo, and not the Config handed down as an argument everywhere: an
# orchestrator gives a task only what it can serialise (Airflow's params and XCom,
# Dagster's run config, Prefect's flow parameters, which it stores in its API), so
# a task receives the config's path, not the Config. Where the object can be
# handed down it is (the Prefect flow to its tasks, `execute(cfg=...)`); elsewhere
# each process loads the run's config once, here: the driver entry (<name>_impl.run)
# loads it first, and the DAG or job definitions and every task in that process get
# the same object; an Airflow task in its own process (a served stack) loads it
# once there. Keyed by the path and home as given, not by the file's mtime: a
# process is one run or one task, whose config must not change under it.
_CONFIGS: dict[tuple[str | None, str | None], Config] = {}


def run_config(config: str | Path | None = None, home: str | Path | None = None) -> Config:
    """The run's config (a TOML file, or a driver's JSON), loaded once per process."""
    key = (str(Path(config).resolve()) if config else None,
           str(Path(home).resolve()) if home else None)
    if key not in _CONFIGS:
        _CONFIGS[key] = load_config(Path(config) if config else None,
                                    Path(home) if home else None)
    return _CONFIGS[key]


@cache
def logical_date(text: str) -> dt.date:
    """The run's logical date, parsed once per process (a ConfigError if malformed)."""
    return parse_date(text)


def execute(name: str, params: RunParams, upstream: dict[str, Any] | None = None,
            log: Log = print, container_log: Log | None = None,
            cfg: Config | None = None, orchestrator: str = "direct") -> dict[str, Any]:
    """Run registry step `name` for `params`, fed with its upstream step's output.

    `cfg`: the run's Config, where the caller holds it; else run_config(params.config).
    `orchestrator`: the caller's name (core.names.ORCHESTRATORS), tagged on the
    training's MLflow run.
    A failing step leaves its core.errors.StepError in core.result.error_file(home,
    run_id, name) before the exception propagates; a succeeding attempt leaves none."""
    spec = step(name)
    # A config that cannot be loaded leaves no home to record in: the orchestrator's
    # own record of the exception is then all there is.
    cfg = cfg or run_config(params.config, params.home)
    record = error_file(cfg.home, params.run_id, name)
    record.unlink(missing_ok=True)  # an earlier attempt's: only the last attempt's counts
    try:
        ctx = params.context(log, container_log, cfg, orchestrator)
        return spec.func(ctx, upstream) if spec.upstream else spec.func(ctx)
    except Exception as exc:
        # The failure as data, for the run reader (core/result.py explains the path);
        # the orchestrator still gets the exception, for its retries and states.
        write_step_error(record, StepError.from_exception(exc))
        raise
