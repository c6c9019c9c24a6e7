"""The driver protocol: how a driver starts a wrapper's entry point, and what it reads.

The orchestrators cannot share a Python environment, so the CLI and the benchmarks
never import them: a driver (infra/drivers.py) saves the run's exact config as JSON
and starts `python -m <name>_impl.run` with that orchestrator's own interpreter.
Both sides of that command line are here, so they cannot drift apart:

    python -m <name>_impl.run --date YYYY-MM-DD --run-id ID --config CONFIG.json
        --result OUT.json [--force-cold]

The entry point runs the pipeline for that date through the orchestrator's own
machinery, with its metadata in SQLite under <home>/orchestrators/<name>/, writes the
uniform result (core/result.py: per-step attempts and times read from the
orchestrator) to OUT.json, and exits 0 whether the pipeline run succeeded or failed;
a non-zero exit means the driver itself broke. A stopped driver gets SIGINT and
unwinds like Ctrl-C (core.runner.unwind_on_signals), removing its container.
"""

from __future__ import annotations

from argparse import ArgumentParser, Namespace
from pathlib import Path


def entry_module(orchestrator: str) -> str:
    """The wrapper's entry point, run with `python -m`: `<name>_impl.run`."""
    return f"{orchestrator}_impl.run"


def entry_command(python: Path | str, orchestrator: str, day: str, run_id: str,
                  config: Path | str, result: Path | str, *,
                  force_cold: bool = False) -> list[str]:
    """The command line a driver starts (argv, for subprocess)."""
    command = [str(python), "-m", entry_module(orchestrator), "--date", day,
               "--run-id", run_id, "--config", str(config), "--result", str(result)]
    return [*command, "--force-cold"] if force_cold else command


def driver_arguments(prog: str, doc: str | None, argv: list[str] | None = None) -> Namespace:
    """The entry point's side of entry_command: --date --run-id --config --result
    [--force-cold]. `result` is a Path; argparse exits 2 on a malformed command line."""
    parser = ArgumentParser(prog=prog, description=doc)
    parser.add_argument("--date", required=True, help="logical date YYYY-MM-DD")
    parser.add_argument("--run-id", required=True, help="labels the run's containers")
    parser.add_argument("--config", required=True, help="the run's config (JSON or TOML)")
    parser.add_argument("--result", required=True, type=Path, help="where to write the result")
    parser.add_argument("--force-cold", action="store_true")
    return parser.parse_args(argv)
