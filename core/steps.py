"""The pipeline's steps as plain functions of (context, upstream outputs).

Each step takes a RunContext and the small JSON-able dicts its upstream steps
returned, and returns one of its own: paths, ids, counts, the decision — never
data frames — so Airflow can pass them through XCom, Prefect and Dagster as
task/op outputs, and the direct run as local variables, all unchanged.

Container steps write into a fresh staging folder; the host moves the results
into the lake (or the model store) only after the container exited 0, one
os.replace per file. A failed or killed container therefore changes nothing.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from core.config import Config
from core.dates import date_range
from core.drift import Windows, measure_drift
from core.errors import InputDataError, StepFailed
from core.images import image_tag
from core.lake import Lake, write_json
from core.models import MODEL_FILE, ModelStore
from core.policy import Decision, Facts, decide
from core.runner import ContainerSpec, Mount, run_container
from core.schema import ranges as measurement_ranges

Log = Callable[[str], None]


@dataclass
class RunContext:
    """What every step of one run for one logical date needs to know."""

    cfg: Config
    day: dt.date
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    log: Log = print
    force_cold: bool = False
    # Container output, line by line as it is printed; the wrappers pass their
    # orchestrator's logger here too, the CLI hides it unless asked (--verbose).
    container_log: Log | None = None
    # Who runs the steps (core.names: an orchestrator, or "direct"): a tag of the
    # training's MLflow run, so the same date under three orchestrators is three runs.
    orchestrator: str = "direct"

    @property
    def lake(self) -> Lake:
        return Lake(self.cfg.lake)

    @property
    def store(self) -> ModelStore:
        return ModelStore.of(self.cfg)


# --------------------------------------------------------------------------- ingest
def ingest(ctx: RunContext) -> dict[str, Any]:
    from core.ingest import ingest as ingest_day

    result = ingest_day(ctx.cfg, ctx.day)
    ctx.log(
        f"ingest {ctx.day}: {result.rows_in} rows in, {result.rows_raw} to raw, "
        f"{result.rows_quarantined} quarantined {result.reasons or ''}".rstrip()
    )
    return asdict(result)


# ------------------------------------------------------------------------ transform
def transform(ctx: RunContext, ingested: dict[str, Any] | None = None) -> dict[str, Any]:
    return transform_range(ctx, ctx.day, ctx.day)


def transform_range(ctx: RunContext, start: dt.date, end: dt.date) -> dict[str, Any]:
    """dbt in the transform container over [start, end]; one container for a whole backfill."""
    lake = ctx.lake
    missing = [d for d in date_range(start, end) if not lake.table_file("raw", d).exists()]
    if missing:
        raise InputDataError(
            f"No raw data for {', '.join(map(str, missing[:5]))}"
            f"{' and more' if len(missing) > 5 else ''}.",
            "Run the ingest step for those dates first.",
        )
    dbt_vars = _transform_vars(ctx)
    staging = _staging(ctx.cfg.lake)
    try:
        _run(
            ctx,
            "transform",
            "transform",
            ["python", "/app/transform.py", str(start), str(end), json.dumps(dbt_vars)],
            mounts=[
                Mount(lake.zone("raw"), "/lake/raw/measurements"),
                Mount(staging, "/out", read_only=False),
            ],
        )
        written = {}
        for zone, sub in (("trusted", "trusted/measurements"), ("refined", "refined/features")):
            for day in date_range(start, end):
                produced = staging / sub / f"{day}.parquet"
                if not produced.is_file():
                    raise StepFailed(
                        f"The transform container wrote no {sub}/{day}.parquet.",
                        "Read the step's log: dbt should have said why.",
                    )
                target = lake.table_file(zone, day)
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(produced, target)
                written.setdefault(zone, []).append(str(target))
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return {"start": str(start), "end": str(end), **written}


def _transform_vars(ctx: RunContext) -> dict[str, Any]:
    """dbt's vars for the run's dataset: its measured columns' ranges, and the lags
    (core.dataset.DatasetProfile.lags; the container checks they are 1 h or 24 h)."""
    profile = ctx.cfg.profile
    return {"ranges": measurement_ranges(profile.columns),
            "lags": {c: list(hours) for c, hours in profile.lags.items()}}


# ---------------------------------------------------------------------- check_drift
def decision_file(cfg: Config, day: dt.date) -> Path:
    """Where check_drift records `day`'s decision (JSON: strategy, reason, drifted
    columns, decision_id …), beside its Evidently report: <home>/drift/<date>/."""
    return cfg.home / "drift" / day.isoformat() / "decision.json"


def check_drift(ctx: RunContext, transformed: dict[str, Any] | None = None) -> dict[str, Any]:
    """Decide warm or cold, record why, and keep Evidently's report beside the record."""
    cfg, lake, store, day = ctx.cfg, ctx.lake, ctx.store, ctx.day
    windows = Windows.ending(day, cfg.drift)
    # A day counts only if it has rows: the first day of a history has no lags,
    # so its refined file exists but is empty.
    ref_days = [d for d in windows.reference_days() if lake.rows("refined", d) > 0]
    cur_days = [d for d in windows.current_days() if lake.rows("refined", d) > 0]
    enough = len(ref_days) >= cfg.drift.min_reference_days and len(cur_days) == len(
        windows.current_days()
    )
    folder = decision_file(cfg, day).parent
    drift = None
    if enough:
        drift = measure_drift(
            lake.read("refined", ref_days),
            lake.read("refined", cur_days),
            cfg.profile.columns,
            cfg.drift,
            html=folder / "report.html",
        )
        ctx.log(
            f"drift {day}: {len(drift.drifted_columns)} drifted column(s) "
            f"{list(drift.drifted_columns)} of {len(drift.compared)} compared in "
            f"{drift.seconds:.1f} s"
            + (f"; insufficient data (under {cfg.drift.min_column_completeness:.0%} of "
               f"rows with a value): {list(drift.insufficient)}" if drift.insufficient else "")
        )
    else:
        ctx.log(
            f"drift {day}: {len(ref_days)}/{cfg.drift.min_reference_days} reference days "
            f"and {len(cur_days)}/{len(windows.current_days())} current days: "
            "insufficient history, no drift test"
        )

    previous = store.previous(day)
    last_cold = store.last_cold_before(day)
    drifted = drift.drifted_columns if drift else ()
    decision: Decision = decide(
        Facts(
            day=day,
            has_previous_model=previous is not None,
            last_cold=last_cold.date if last_cold else None,
            last_cold_drifted=tuple(last_cold.meta["decision"]["drifted_columns"])
            if last_cold
            else (),
            enough_history=enough,
            drifted_columns=drifted,
            force_cold=ctx.force_cold,
            columns_compared=drift is None or bool(drift.compared),
        ),
        cfg.drift,
    )
    record = {
        "logical_date": day.isoformat(),
        "strategy": decision.strategy,
        "reason": decision.reason,
        "drifted_columns": list(drifted),
        "drift_share": drift.share if drift else None,
        "scores": drift.scores if drift else {},
        "insufficient_data_columns": list(drift.insufficient) if drift else [],
        "completeness": drift.completeness if drift else {},
        "windows": windows.to_dict(),
        "days_available": {"reference": len(ref_days), "current": len(cur_days)},
        "thresholds": {
            "method": cfg.drift.method,
            "threshold": cfg.drift.threshold,
            "max_drifted_columns": cfg.drift.max_drifted_columns,
            "force_cold_every_days": cfg.drift.force_cold_every_days,
            "min_reference_days": cfg.drift.min_reference_days,
            "min_column_completeness": cfg.drift.min_column_completeness,
            "policy": cfg.drift.policy,
        },
        "evidently_version": drift.evidently_version if drift else None,
        "previous_model": previous.version if previous else None,
        "last_cold_start": last_cold.meta["logical_date"] if last_cold else None,
        "force_cold": ctx.force_cold,
    }
    # The id hashes what was decided and why, not where the files live, so the
    # same inputs give the same id in any home folder and under any orchestrator.
    digest = hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()
    record["decision_id"] = digest[:12]
    report = folder / "report.html"
    record["report"] = str(report) if drift and drift.compared else None
    if record["report"] is None:
        report.unlink(missing_ok=True)  # an earlier run's report of other data
    write_json(record, decision_file(cfg, day))
    ctx.log(f"decision {day}: {decision.strategy} ({decision.reason})")
    return record


# ---------------------------------------------------------------------------- train
def train(ctx: RunContext, decision: dict[str, Any]) -> dict[str, Any]:
    """Warm or cold start in the train container; publish the model only on success."""
    cfg, lake, store, day = ctx.cfg, ctx.lake, ctx.store, ctx.day
    strategy = decision["strategy"]
    parent = store.previous(day)
    if strategy == "warm" and parent is None:
        raise StepFailed(
            f"A warm start for {day} was decided but no previous model exists.",
            "Re-run check_drift for this date; it will decide a cold start.",
        )
    if strategy == "warm":
        first = dt.date.fromisoformat(parent.meta["train_end"]) + dt.timedelta(days=1)
    else:
        first = day - dt.timedelta(days=cfg.train.history_days)
    # Days with rows only: a history's first day has a refined file but no rows (no lags).
    train_days = [d for d in date_range(first, day - dt.timedelta(days=1))
                  if lake.rows("refined", d) > 0]
    if not train_days:
        n = cfg.drift.current_days + cfg.drift.reference_days
        raise InputDataError(
            f"No refined data to train on before {day}: the lake has no earlier day with "
            "features.",
            "Load the history first, without training: `orchbench history --start "
            f"{day - dt.timedelta(days=n)} --end {day - dt.timedelta(days=1)}` with the same "
            f"--config and --home ({n} days fill the drift windows), then run {day} again.",
        )
    if lake.rows("refined", day) == 0:
        # Checked before training: evaluate would have nothing to score, and a model
        # trained now would replace the current one for a date that cannot be judged.
        before = day - dt.timedelta(days=1)
        raise InputDataError(
            f"{day} has no refined rows: its features (the 1 h and 24 h lags) need the "
            f"measurements of {before}, and the lake has none for that day.",
            f"Load it without training: `orchbench history --start {before} --end {before}` "
            f"(same --config and --home), then run {day} again; or `orchbench run --date "
            f"{before}` to train on it too.",
        )
    profile = cfg.profile
    if _scorable_rows(lake, day, profile.target, profile.persistence) == 0:
        # The same reason: evaluate scores rows with a target and a persistence value.
        raise InputDataError(
            f"{day} has no refined row with both {profile.target} and {profile.persistence} "
            f"({profile.target} an hour earlier): the day cannot be evaluated, so no model is "
            "trained for it.",
            f"Check the completeness of {profile.target} in the ingest report of {day} and "
            "the day before; run the next date instead.",
        )
    staging = store.new_staging()
    try:
        env = {
            "TRAINING_STRATEGY": strategy,
            "TRAIN_FILES": ",".join(f"/lake/refined/{d}.parquet" for d in train_days),
            "FEATURES": ",".join(profile.features),
            "TARGET": profile.target,
            "SEED": str(cfg.train.seed),
        }
        mounts = [
            Mount(lake.zone("refined"), "/lake/refined"),
            Mount(staging, "/out", read_only=False),
        ]
        if strategy == "warm":
            env["PARENT_MODEL"] = f"/parent/{MODEL_FILE}"
            mounts.append(Mount(parent.path, "/parent"))
        _run(ctx, "train", "train", ["python", "/app/train.py"], env=env, mounts=mounts)
        info = json.loads((staging / "train.json").read_text())
        version, mlflow_run = store.publish(
            staging,
            day,
            {
                "strategy": strategy,
                "parent": parent.version if strategy == "warm" and parent else None,
                "train_start": str(train_days[0]),
                "train_end": str(train_days[-1]),
                "train_rows": info["rows"],
                "decision": {
                    k: decision[k] for k in ("decision_id", "strategy", "reason", "drifted_columns")
                },
                "features": list(profile.features),
                "target": profile.target,
                "seed": cfg.train.seed,
                "image": image_tag("train"),
                "t": info["t"],
            },
            tags={
                "strategy": strategy,
                "reason": decision["reason"],
                "drifted_columns": ", ".join(decision["drifted_columns"]) or "-",
                "decision_id": decision["decision_id"],
                "orchestrator": ctx.orchestrator,
                "orchbench_run_id": ctx.run_id,
                "dataset": profile.name,
            },
            params={
                "train_start": train_days[0],
                "train_end": train_days[-1],
                "train_days": len(train_days),
                "rows": info["rows"],
                "epochs": info["epochs"],
                "seed": cfg.train.seed,
                "parent": parent.version if strategy == "warm" and parent else "-",
                "image": image_tag("train"),
            },
        )
    finally:
        store.discard(staging)
    ctx.log(
        f"train {day}: {strategy} start → model {version.version} "
        f"({info['rows']} rows, {train_days[0]}..{train_days[-1]})"
    )
    return {
        "version": version.version,
        "strategy": strategy,
        "parent": version.meta["parent"],
        "train_rows": info["rows"],
        "mlflow_run_id": mlflow_run,
    }


# ------------------------------------------------------------------------- evaluate
def evaluate(ctx: RunContext, trained: dict[str, Any]) -> dict[str, Any]:
    """Score the new and the previous model on the held-out day; flag a regression."""
    cfg, lake, store, day = ctx.cfg, ctx.lake, ctx.store, ctx.day
    version = store.get(trained["version"])
    previous = store.previous(day)
    eval_file = lake.table_file("refined", day)
    profile = cfg.profile
    staging = store.new_staging()
    try:
        env = {
            "MODEL": f"/model/{MODEL_FILE}",
            "EVAL_FILE": f"/lake/refined/{day}.parquet",
            "FEATURES": ",".join(profile.features),
            "TARGET": profile.target,
            "PERSISTENCE": profile.persistence,
            "SEED": str(cfg.train.seed),
        }
        mounts = [
            Mount(eval_file.parent, "/lake/refined"),
            Mount(version.path, "/model"),
            Mount(staging, "/out", read_only=False),
        ]
        if previous:
            env["PREVIOUS_MODEL"] = f"/previous/{MODEL_FILE}"
            mounts.append(Mount(previous.path, "/previous"))
        _run(ctx, "evaluate", "train", ["python", "/app/evaluate.py"], env=env, mounts=mounts)
        scored = json.loads((staging / "metrics.json").read_text())
    except BaseException:
        # The training's run says so (an attempt that then succeeds marks it FINISHED);
        # a store that cannot say it must not hide why evaluate failed.
        with contextlib.suppress(Exception):
            store.mark_failed(trained["mlflow_run_id"])
        raise
    finally:
        store.discard(staging)
    metrics = {
        "version": version.version,
        "held_out": day.isoformat(),
        "rows": scored["rows"],
        "mse": round(scored["mse"], 6),
        "mae": round(scored["mae"], 6),
        "persistence_mse": round(scored["persistence_mse"], 6),
        "persistence_mae": round(scored["persistence_mae"], 6),
        "skill": round(scored["skill"], 6) if scored["skill"] is not None else None,
        "previous_version": previous.version if previous else None,
        "previous_mse": round(scored["previous"]["mse"], 6) if previous else None,
        "previous_mae": round(scored["previous"]["mae"], 6) if previous else None,
        # Growth of the MSE when the feature is shuffled, largest first (evaluate.py).
        "permutation_importance": {f: round(v, 6)
                                   for f, v in scored["permutation_importance"].items()},
    }
    tolerance = cfg.train.regression_tolerance
    metrics["regression"] = bool(
        previous and scored["mse"] > scored["previous"]["mse"] * (1 + tolerance)
    )
    store.log_evaluation(version, trained["mlflow_run_id"], metrics)
    ctx.log(
        f"evaluate {day}: mse {metrics['mse']:.3f}, mae {metrics['mae']:.3f}, skill "
        + (f"{metrics['skill']:.3f}" if metrics["skill"] is not None else "n/a")
        + f" on {metrics['rows']} rows"
        + (f" (previous {metrics['previous_mse']:.3f})" if previous else "")
        + (" REGRESSION" if metrics["regression"] else "")
    )
    return metrics


# -------------------------------------------------------------------------- helpers
# Injected faults run as a shell prologue, so they work in any image: the attempt
# count lives in a mounted folder because each retry is a new container.
_FAULT_PROLOGUE = """
n=$(cat /faults/attempts 2>/dev/null || echo 0); n=$((n + 1)); echo "$n" > /faults/attempts
if [ "$HANG_SECONDS" != "0" ]; then echo "fault injection: hanging $HANG_SECONDS s"; \
  sleep "$HANG_SECONDS"; fi
if [ "$n" -le "$FAIL_TIMES" ]; then
  echo "fault injection: attempt $n of the first $FAIL_TIMES fails with exit $FAIL_EXIT_CODE" >&2
  exit "$FAIL_EXIT_CODE"
fi
exec "$@"
"""


def _run(
    ctx: RunContext,
    step: str,
    image: str,
    command: list[str],
    *,
    env: dict[str, str] | None = None,
    mounts: list[Mount],
) -> None:
    """Run a step's container with the step's own timeout, the memory limit and any
    injected fault: every container step gets them from here, none can forget one."""
    spec = ContainerSpec(
        image=image_tag(image),
        command=command,
        env=env or {},
        mounts=mounts,
        timeout_s=ctx.cfg.steps[step].timeout_s,
        mem_limit=ctx.cfg.container_memory,
    )
    log = ctx.container_log or ctx.log
    fault = ctx.cfg.faults.get(step)
    if fault is not None and fault.active:
        state = ctx.cfg.home / "faults" / ctx.run_id / step
        state.mkdir(parents=True, exist_ok=True)
        spec = replace(
            spec,
            command=["sh", "-c", _FAULT_PROLOGUE, "fault", *spec.command],
            env={**spec.env, "FAIL_TIMES": str(fault.fail_times),
                 "FAIL_EXIT_CODE": str(fault.exit_code), "HANG_SECONDS": f"{fault.hang_seconds:g}"},
            mounts=[*spec.mounts, Mount(state, "/faults", read_only=False)],
        )
    run_container(spec, run_id=ctx.run_id, step=step, on_log=lambda line: log(f"[{step}] {line}"))


def _scorable_rows(lake: Lake, day: dt.date, target: str, persistence: str) -> int:
    """Refined rows of the day with both a target and a persistence value."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    path = lake.table_file("refined", day)
    names = pq.read_schema(path).names
    absent = [c for c in (target, persistence) if c not in names]
    if absent:
        raise InputDataError(
            f"The refined file of {day} has no column {', '.join(absent)}.",
            f"Transform {day} again (`orchbench run --date {day}`): its features were "
            "built for another dataset.")
    table = pq.read_table(path, columns=[target, persistence])
    both = pc.and_(pc.is_valid(table[target]), pc.is_valid(table[persistence]))
    return int(pc.sum(pc.cast(both, "int64")).as_py() or 0)


def _staging(lake_root: Path) -> Path:
    path = lake_root / ".staging" / uuid.uuid4().hex
    path.mkdir(parents=True)
    return path

