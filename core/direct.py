"""The `direct` implementation: the registry's steps in a plain Python loop.

It is the benchmark's baseline (what the work costs with no orchestrator) and
the reference the three wrappers must match. Retries follow the registry's
policy; timeouts are the container runner's (in-process steps have none here,
as in Dagster).
"""

from __future__ import annotations

import datetime as dt
import platform
import time
import uuid
from typing import Any

from core.config import Config
from core.dates import date_range
from core.errors import StepError
from core.lake import write_json
from core.registry import DECISION_STEP, METRICS_STEP, STEPS
from core.result import RunResult, StepResult, now
from core.steps import Log, RunContext, ingest, transform_range


def backfill_history(cfg: Config, start: dt.date, end: dt.date, log: Log = print) -> int:
    """Ingest every date of [start, end], then transform them all in one container.

    The daily pipeline needs five weeks of refined history before its drift
    windows are full; building it day by day would start a dbt container per
    day for nothing. Returns the number of rows quarantined.
    """
    quarantined = sum(ingest(RunContext(cfg, day, log=log))["rows_quarantined"]
                      for day in date_range(start, end))
    transform_range(RunContext(cfg, end, log=log, container_log=lambda _: None), start, end)
    return quarantined


def run_date(
    cfg: Config,
    day: dt.date,
    *,
    force_cold: bool = False,
    log: Log = print,
    container_log: Log | None = None,
    run_id: str | None = None,
) -> RunResult:
    ctx = RunContext(cfg, day, run_id or uuid.uuid4().hex[:12], log, force_cold, container_log)
    result = RunResult(
        "direct",
        f"python {platform.python_version()}",
        ctx.run_id,
        day.isoformat(),
        steps=[StepResult(s.name) for s in STEPS],
        started=now(),
    )
    outputs: dict[str, Any] = {}
    for spec in STEPS:
        record = result.step(spec.name)
        policy = spec.policy(cfg)
        record.queued = now()
        args = [outputs[spec.upstream]] if spec.upstream else []
        while True:
            record.attempts += 1
            record.started = record.started or now()
            try:
                outputs[spec.name] = spec.func(ctx, *args)
                record.status = "success"
                break
            except Exception as exc:
                retry = getattr(exc, "retryable", True) and record.attempts <= policy.retries
                log(
                    f"{spec.name} attempt {record.attempts} failed: {exc}"
                    + (f"; retrying in {policy.retry_delay_s:g} s" if retry else "")
                )
                if not retry:
                    record.fail(StepError.from_exception(exc))  # text and data
                    break
                time.sleep(policy.retry_delay_s)
            finally:
                record.ended = now()
        if record.status == "failed":
            result.status, result.error = "failed", f"{spec.name}: {record.error}"
            break
    else:
        result.status = "success"
    result.decision = outputs.get(DECISION_STEP)
    result.metrics = outputs.get(METRICS_STEP)
    result.ended = now()
    write_json(result.to_dict(), cfg.home / "runs" / f"{day}-{ctx.run_id}.json")
    return result
