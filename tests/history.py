"""The quick history every pipeline test builds: 11 days, short drift windows.

Shared by the direct, wrapper and parity tests so they all run the same
configuration. Drift never orders cold here (max_drifted_columns=9): the drift
rule has its own tests; these check the plumbing.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from benchmarks.fixtures import history_config
from core.config import Config

FIRST = dt.date(2026, 1, 1)
LAST_HISTORY = dt.date(2026, 1, 11)
DAILY = [dt.date(2026, 1, 12) + dt.timedelta(days=i) for i in range(6)]


def small_config(home: Path) -> Config:
    """The benchmark's history config (benchmarks/fixtures.py), one definition for both."""
    return history_config(home)


# The same shape on real data: the Beijing profile (US Embassy PM2.5 with its NA
# hours, dew point, temperature and pressure, local time Asia/Shanghai). The three
# wrapper test modules run on it, so their parity with `direct` is parity on a real
# date (issue 10). `orchbench data get beijing` is what fetches the file (once).
BEIJING_FIRST = dt.date(2013, 11, 1)
BEIJING_LAST_HISTORY = dt.date(2013, 11, 11)


def beijing_config(home: Path) -> Config:
    """small_config on the real Beijing dataset, downloading it on first use."""
    import dataclasses

    from core.dataset import built_in
    from infra.data import get

    get("beijing", log=lambda _: None)
    return dataclasses.replace(small_config(home), dataset=built_in("beijing")).validate()


def beijing_parity_date() -> dt.date:
    """The first daily date after the Beijing history: the wrapper tests' parity date."""
    return BEIJING_LAST_HISTORY + dt.timedelta(days=1)


def assert_tracked(cfg: Config, orchestrator: str, run_id: str, metrics: dict) -> None:
    """The date's training is one finished MLflow run, tagged with who ran it and its run
    id, whose metrics are evaluate's (`metrics`, the run's result), and the registry
    holds one version for its content, the current one (issue 12)."""
    from core.models import ModelStore

    store = ModelStore.of(cfg)
    experiment = store.client.get_experiment_by_name(store.name)
    runs = store.client.search_runs([experiment.experiment_id],
                                    f"tags.orchbench_run_id = '{run_id}'")
    assert len(runs) == 1, [r.info.run_id for r in runs]
    run = runs[0]
    assert run.info.status == "FINISHED"
    assert run.data.tags["orchestrator"] == orchestrator
    assert run.data.tags["model_version"] == metrics["version"]
    assert {k: run.data.metrics[k] for k in ("mse", "mae", "persistence_mse", "rows")} == {
        k: metrics[k] for k in ("mse", "mae", "persistence_mse", "rows")}
    learned = {k.removeprefix("importance/"): v for k, v in run.data.metrics.items()
               if k.startswith("importance/")}
    assert learned == metrics["permutation_importance"] and learned
    assert metrics["version"] in [v.version for v in store.versions()]
    assert store.for_date(dt.date.fromisoformat(run.data.tags["logical_date"])).version == (
        metrics["version"])


def build_ui_history(home: Path) -> Path:
    """`orchbench ui`'s first-start history in `home` (ingest and dbt, no training): the
    session's `ui_history` (conftest.py), and test_production.py's own."""
    from core.direct import backfill_history
    from orchbench.ui import FIRST as UI_FIRST
    from orchbench.ui import HISTORY_DAYS, ui_config

    backfill_history(ui_config(home), UI_FIRST, UI_FIRST + dt.timedelta(days=HISTORY_DAYS - 1),
                     log=lambda _: None)
    return home
