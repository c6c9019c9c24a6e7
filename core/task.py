"""What one orchestrator task does, whichever orchestrator runs it.

A task of Prefect, Airflow or Dagster receives only small JSON-able values
(RunParams and its upstream step's output dict) and calls execute(): it
loads the run's config, rebuilds the RunContext and runs the registry's step.
The three wrappers therefore differ only in how they declare tasks, retries,
timeouts, schedules and logging — which is what a reader should compare.
"""

from __future__ import annotations

from argparse import ArgumentParser, Namespace
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from core.config import load_config
from core.dates import parse_date
from core.registry import step
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

    def context(self, log: Log = print, container_log: Log | None = None) -> RunContext:
        cfg = load_config(Path(self.config) if self.config else None,
                          Path(self.home) if self.home else None)
        return RunContext(cfg, parse_date(self.day), self.run_id, log, self.force_cold,
                          container_log)


def execute(name: str, params: RunParams, upstream: dict[str, Any] | None = None,
            log: Log = print, container_log: Log | None = None) -> dict[str, Any]:
    """Run registry step `name` for `params`, fed with its upstream step's output."""
    spec = step(name)
    ctx = params.context(log, container_log)
    return spec.func(ctx, upstream) if spec.upstream else spec.func(ctx)


def driver_arguments(prog: str, doc: str | None, argv: list[str] | None = None) -> Namespace:
    """The command line of every `<name>_impl.run` (the contract in infra/drivers.py):
    --date --run-id --config --result [--force-cold]. `result` is a Path."""
    parser = ArgumentParser(prog=prog, description=doc)
    parser.add_argument("--date", required=True, help="logical date YYYY-MM-DD")
    parser.add_argument("--run-id", required=True, help="labels the run's containers")
    parser.add_argument("--config", required=True, help="the run's config (JSON or TOML)")
    parser.add_argument("--result", required=True, type=Path, help="where to write the result")
    parser.add_argument("--force-cold", action="store_true")
    return parser.parse_args(argv)
