"""`orchbench demo`: the main job, end to end, in a few minutes.

It builds five weeks of history (ingest per day, one transform container for
the whole backfill), injects a strong drift partway into the following weeks,
then runs the daily pipeline day by day with the `direct` implementation and
prints a table in which the reader can find warm days, the forced weekly cold
start and the cold start the drift causes, each with its reason.
"""

from __future__ import annotations

import datetime as dt
import shutil
import time
from collections.abc import Callable
from pathlib import Path

from core.config import Config, DataConfig
from core.errors import ConfigError, OrchbenchError

FIRST_DAY = dt.date(2026, 1, 1)
MARKER = ".orchbench-demo"


def demo_config(home: Path, days: int) -> Config:
    history = Config().drift.current_days + Config().drift.reference_days
    first_daily = FIRST_DAY + dt.timedelta(days=history)
    drift_start = first_daily + dt.timedelta(days=min(10, max(days - 4, 0)))
    return Config(home=home, data=DataConfig(
        drift="strong", drift_start=drift_start.isoformat(), bad_row_rate=0.01)).validate()


def demo(home: Path, days: int = 21, log: Callable[[str], None] = print) -> int:
    from core.direct import backfill_history, run_date
    from orchbench.setup import ensure_images
    from orchbench.summary import table

    if not 1 <= days <= 60:
        raise ConfigError(f"--days {days} is out of range.", "Give from 1 to 60 days.")
    _fresh(home)
    cfg = demo_config(home, days)
    history_days = cfg.drift.current_days + cfg.drift.reference_days
    first_daily = FIRST_DAY + dt.timedelta(days=history_days)
    log("checking the workload images …")
    ensure_images(log)

    started = time.perf_counter()
    last_history = first_daily - dt.timedelta(days=1)
    log(f"history: ingesting {FIRST_DAY}..{last_history} and transforming it in one dbt "
        "container …")
    quarantined = backfill_history(cfg, FIRST_DAY, last_history, log=lambda _: None)
    log(f"history: {quarantined} invalid rows quarantined")
    log(f"history ready in {time.perf_counter() - started:.0f} s; strong drift in pm25, pm10, "
        f"temperature and humidity from {cfg.data.drift_start}")

    rows = []
    for i in range(days):
        day = first_daily + dt.timedelta(days=i)
        t0 = time.perf_counter()
        result = run_date(cfg, day, log=lambda _: None)
        if result.status != "success":
            raise OrchbenchError(f"The demo's run for {day} failed: {result.error}",
                                 "Run `orchbench doctor`; the run's log is in "
                                 f"{cfg.home / 'runs'}.")
        d, m = result.decision or {}, result.metrics or {}
        rows.append({
            "date": day.isoformat(),
            "drift": "yes" if cfg.data.drift_start <= day.isoformat() else "",
            "strategy": d["strategy"],
            "reason": d["reason"],
            "drifted columns": ", ".join(d["drifted_columns"]) or "-",
            "mse": f"{m['mse']:.2f}",
            "mae": f"{m['mae']:.2f}",
            "prev mse": f"{m['previous_mse']:.2f}" if m.get("previous_mse") is not None else "-",
            "regression": "yes" if m.get("regression") else "",
            "seconds": f"{time.perf_counter() - t0:.1f}",
        })
        log(f"[{i + 1}/{days}] {day}: {d['strategy']} ({d['reason']})")

    print()
    print(table(rows))
    print()
    print(f"{len(rows)} daily runs after {history_days} days of history, "
          f"{time.perf_counter() - started:.0f} s in all.")
    print(f"Decision records and Evidently reports: {cfg.home / 'drift'}/<date>/")
    print(f"Model versions: {cfg.models / 'versions'}; lake: {cfg.lake}")
    return 0


def _fresh(home: Path) -> None:
    """Empty the demo folder, but never a folder the demo did not create."""
    if home.exists() and any(home.iterdir()) and not (home / MARKER).exists():
        raise ConfigError(f"{home} exists and was not made by the demo, so it is left alone.",
                          "Give an empty or new folder with --home.")
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    (home / MARKER).write_text("made by `orchbench demo`; emptied on every demo run\n")



