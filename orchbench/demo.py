"""`orchbench demo`: the main job, end to end, in a few minutes.

It builds five weeks of history (ingest per day, one transform container for
the whole backfill), then runs the daily pipeline day by day with the `direct`
implementation and prints a table in which the reader can find warm days, the
forced weekly cold start and the cold start drift causes, each with its reason,
and how the model did against persistence (the target one hour earlier).

Two data sets: `synthetic` (the default) injects a strong drift partway into the
daily weeks; `beijing` is real hourly PM2.5 from Beijing's US Embassy, autumn
2013, where the drift is the weather and the heating season (it starts on
15 November) rather than an injection.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from core.config import Config, DataConfig
from core.errors import ConfigError, OrchbenchError
from core.lake import Lake
from core.models import CHAMPION, ModelStore, ModelVersion

FIRST_DAY = dt.date(2026, 1, 1)
MARKER = ".orchbench-demo"
DATASETS = ("synthetic", "beijing")
DEFAULT_DAYS = {"synthetic": 21, "beijing": 28}
DEFAULT_HOME = {"synthetic": Path("var/demo"), "beijing": Path("var/demo-beijing")}


@dataclass(frozen=True)
class Plan:
    """What one demo runs: its config, the history range, and the first daily date."""

    cfg: Config
    first_history: dt.date
    first_daily: dt.date
    story: str  # one line on what to look for, printed once the history is ready

    @property
    def last_history(self) -> dt.date:
        return self.first_daily - dt.timedelta(days=1)


def demo_config(home: Path, days: int) -> Config:
    history = Config().drift.current_days + Config().drift.reference_days
    first_daily = FIRST_DAY + dt.timedelta(days=history)
    drift_start = first_daily + dt.timedelta(days=min(10, max(days - 4, 0)))
    return Config(home=home, data=DataConfig(
        drift="strong", drift_start=drift_start.isoformat(), bad_row_rate=0.01)).validate()


def plan(dataset: str, home: Path, days: int) -> Plan:
    if dataset == "synthetic":
        cfg = demo_config(home, days)
        history = cfg.drift.current_days + cfg.drift.reference_days
        return Plan(cfg, FIRST_DAY, FIRST_DAY + dt.timedelta(days=history),
                    f"strong drift in pm25, pm10, temperature and humidity from "
                    f"{cfg.data.drift_start}")
    if dataset == "beijing":
        from core.dataset import built_in
        from infra.data import FIRST_DAILY

        first_daily = FIRST_DAILY["beijing"]
        cfg = Config(home=home, dataset=built_in("beijing")).validate()
        history = cfg.drift.current_days + cfg.drift.reference_days
        return Plan(cfg, first_daily - dt.timedelta(days=history), first_daily,
                    "real data, nothing injected: Beijing's heating season starts on "
                    f"{first_daily}; winter smog follows")
    raise ConfigError(f"There is no demo for dataset {dataset!r}.",
                      f"Choose one of: {', '.join(DATASETS)}.")


def demo(home: Path | None = None, days: int | None = None, log: Callable[[str], None] = print,
         dataset: str = "synthetic") -> int:
    from core.direct import backfill_history, run_date
    from infra.setup import ensure_images
    from orchbench.summary import table

    if dataset not in DATASETS:
        raise ConfigError(f"There is no demo for dataset {dataset!r}.",
                          f"Choose one of: {', '.join(DATASETS)}.")
    days = DEFAULT_DAYS[dataset] if days is None else days
    home = DEFAULT_HOME[dataset] if home is None else home
    if not 1 <= days <= 60:
        raise ConfigError(f"--days {days} is out of range.", "Give from 1 to 60 days.")
    if dataset != "synthetic":
        from infra.data import get

        get(dataset, log)  # downloads once; a no-op when the file is there
    _fresh(home)
    p = plan(dataset, home, days)
    cfg, target = p.cfg, p.cfg.profile.target
    log("checking the workload images …")
    ensure_images(log)

    started = time.perf_counter()
    log(f"history: ingesting {p.first_history}..{p.last_history} and transforming it in one "
        "dbt container …")
    quarantined = backfill_history(cfg, p.first_history, p.last_history, log=lambda _: None)
    log(f"history: {quarantined} invalid rows quarantined")
    log(f"history ready in {time.perf_counter() - started:.0f} s; {p.story}")

    lake = Lake(cfg.lake)
    rows, skills = [], []
    for i in range(days):
        day = p.first_daily + dt.timedelta(days=i)
        t0 = time.perf_counter()
        result = run_date(cfg, day, log=lambda _: None)
        if result.status != "success":
            raise OrchbenchError(f"The demo's run for {day} failed: {result.error}",
                                 "Run `orchbench doctor`; the run's log is in "
                                 f"{cfg.home / 'runs'}.")
        d, m = result.decision or {}, result.metrics or {}
        skill = m.get("skill")
        if skill is not None:
            skills.append(skill)
        row = {"date": day.isoformat()}
        if dataset == "synthetic":
            row["drift"] = "yes" if cfg.data.drift_start <= day.isoformat() else ""
        row |= {
            "strategy": d["strategy"],
            "reason": d["reason"],
            "drifted columns": ", ".join(d["drifted_columns"]) or "-",
            "mse": f"{m['mse']:.2f}",
            "mae": f"{m['mae']:.2f}",
            "prev mse": f"{m['previous_mse']:.2f}" if m.get("previous_mse") is not None else "-",
            "regression": "yes" if m.get("regression") else "",
            "skill": f"{skill:+.2f}" if skill is not None else "-",
            f"{target} complete": _completeness(lake, day, target),
            "seconds": f"{time.perf_counter() - t0:.1f}",
        }
        rows.append(row)
        log(f"[{i + 1}/{days}] {day}: {d['strategy']} ({d['reason']})")

    history_days = (p.first_daily - p.first_history).days
    print()
    print(table(rows))
    print()
    print(f"{len(rows)} daily runs after {history_days} days of history, "
          f"{time.perf_counter() - started:.0f} s in all.")
    print(persistence_finding(skills, len(rows), target))
    print(f"Decision records and Evidently reports: {cfg.home / 'drift'}/<date>/")
    print(what_the_model_learned(ModelStore.of(cfg).current()))
    print(f"Lake: {cfg.lake}. Runs, metrics and model versions in MLflow: "
          f"`orchbench mlflow{_home_flag(home)}`; the current model on a scoring "
          f"server: `orchbench serve{_home_flag(home)}`.")
    return 0


def what_the_model_learned(current: ModelVersion | None, top: int = 3) -> str:
    """One line: the current model's `top` features by permutation importance on its
    held-out day (evaluate's, images/train/app/evaluate.py), largest first."""
    importance = ((current.metrics() or {}).get("permutation_importance")
                  if current else None)
    if not importance:
        return "Feature importance: not reported (no evaluated model is current)."
    ranked = sorted(importance.items(), key=lambda kv: -kv[1])[:top]
    named = ", ".join(f"{f} (+{v:.2f})" if v >= 0 else f"{f} ({v:.2f})" for f, v in ranked)
    return (f"What the current model ({current.version}, registry alias `{CHAMPION}`) "
            f"learned: its {len(ranked)} most important features on "
            f"{current.meta['logical_date']} are {named} (permutation importance: how much "
            "the MSE grows when the feature is shuffled).")


def _home_flag(home: Path) -> str:
    """`orchbench mlflow` and `serve` default to the synthetic demo's home."""
    return "" if home == DEFAULT_HOME["synthetic"] else f" --home {home}"


def persistence_finding(skills: list[float], runs: int, target: str) -> str:
    """One line: on how many days the model beat persistence (skill > 0)."""
    if not skills:
        return ("Skill against persistence: not reported (the evaluate step gave no "
                "metrics['skill']).")
    beat = sum(s > 0 for s in skills)
    what = f"persistence ({target} one hour earlier)"
    median = statistics.median(skills)
    line = (f"The model never beat {what}: skill <= 0 on all {len(skills)} days"
            if beat == 0 else f"The model beat {what} on {beat} of {len(skills)} days")
    line += f" (skill = 1 - MSE / persistence MSE; median {median:+.2f})"
    missing = runs - len(skills)
    return line + (f"; {missing} day(s) without a skill." if missing else ".")


def _completeness(lake: Lake, day: dt.date, column: str) -> str:
    """Share of the day's raw rows with a value of `column`, from ingest's report."""
    try:
        report = json.loads(lake.ingest_report(day).read_text())
        return f"{report['completeness'][column]:.0%}"
    except (OSError, ValueError, KeyError, TypeError):
        return "-"


def _fresh(home: Path) -> None:
    """Empty the demo folder, but never a folder the demo did not create."""
    if home.exists() and any(home.iterdir()) and not (home / MARKER).exists():
        raise ConfigError(f"{home} exists and was not made by the demo, so it is left alone.",
                          "Give an empty or new folder with --home.")
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    (home / MARKER).write_text("made by `orchbench demo`; emptied on every demo run\n")
