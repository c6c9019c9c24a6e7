"""Shared benchmark fixtures: one small history per bench run, copied per measurement.

Building a history costs an ingest per day and a dbt container; a scenario that
needs a pipeline with state (the pipeline timings, the failure matrix) must not
pay that per run, nor let one run see another's lake, models or orchestrator
metadata. So the history is built once per bench run (cached in `bench.cache`)
and every measurement gets its own copy, with a `config.json` that points at
that copy: `orchbench run --config HOME/config.json` is then exactly what a
user types.

The shape is tests/history.py's `small_config` (11 days, short drift windows),
so the benchmarks and the tests exercise the same pipeline.
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

from benchmarks.plan import Bench
from core.config import Config, DataConfig, DriftConfig, StepPolicy, load_config, save_config
from infra.envs import ENVS

FIRST = dt.date(2026, 1, 1)
LAST_HISTORY = dt.date(2026, 1, 11)
CONFIG_FILE = "config.json"
_CACHE_KEY = "history_home"


def history_config(home: Path) -> Config:
    """tests/history.py's small_config: drift never orders cold (max_drifted_columns=9)."""
    fast = StepPolicy(retries=1, retry_delay_s=0.2, timeout_s=120)
    return Config(
        home=Path(home),
        data=DataConfig(bad_row_rate=0.01),
        drift=DriftConfig(current_days=3, reference_days=7, min_reference_days=7,
                          force_cold_every_days=4, max_drifted_columns=9),
        steps={name: fast for name in Config().steps},
    ).validate()


def history_home(bench: Bench) -> Path:
    """The 11-day history (lake only, no model yet), built on first use and cached."""
    cached = bench.cache.get(_CACHE_KEY)
    if cached is not None and Path(cached).is_dir():
        return Path(cached)
    from core.direct import backfill_history

    home = bench.workdir / "history"
    shutil.rmtree(home, ignore_errors=True)
    bench.log(f"fixtures: building the {FIRST}..{LAST_HISTORY} history in {home}")
    backfill_history(history_config(home), FIRST, LAST_HISTORY, log=lambda _: None)
    bench.cache[_CACHE_KEY] = home
    return home


def fresh_home(bench: Bench, label: str, *, metadata_of: str | None = None) -> Path:
    """A private copy of the history under workdir/homes/<label>, with its config.json.

    The copy starts with no orchestrator metadata, so every run is a user's first run
    of that orchestrator on this home; unless `metadata_of` names an orchestrator whose
    new metadata store costs a first run seconds to create (infra.drivers.
    prepare_metadata: Prefect's): the copy then has it, created once per bench run.
    """
    source = history_home(bench)
    home = bench.workdir / "homes" / label
    shutil.rmtree(home, ignore_errors=True)
    shutil.copytree(source, home, symlinks=True)
    save_config(history_config(home), home / CONFIG_FILE)
    if metadata_of is not None:
        template = _metadata_template(bench, metadata_of)
        if template is not None:
            shutil.copytree(template, home / "orchestrators" / metadata_of)
    return home


def _metadata_template(bench: Bench, name: str) -> Path | None:
    """`name`'s new metadata store, made once per bench run (None: nothing to make)."""
    from infra.drivers import prepare_metadata

    key = f"metadata-{name}"
    if key not in bench.cache:
        scratch = bench.workdir / "metadata" / name
        shutil.rmtree(scratch, ignore_errors=True)
        made = prepare_metadata(name, scratch)
        bench.cache[key] = scratch / "orchestrators" / name if made else None
    return bench.cache[key]


def home_config(home: Path) -> Config:
    """The config a fresh home was given (edit it, then save_config it back)."""
    return load_config(home / CONFIG_FILE, home)


def bench_day(bench: Bench, offset: int = 0) -> str:
    """The logical date `offset` days after the history (0: the first day without data)."""
    return (LAST_HISTORY + dt.timedelta(days=1 + offset)).isoformat()


def run_command(name: str, home: Path, day: str) -> list[str]:
    """`orchbench run -o NAME --date DAY` on a bench home, as a user types it (argv)."""
    return [str(ENVS["base"].path / "bin" / "orchbench"), "run", "-o", name, "--date", day,
            "--config", str(home / CONFIG_FILE), "--home", str(home)]
