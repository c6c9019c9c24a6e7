"""Driver entry point (contract in core/protocol.py): one date through Prefect.

`python -m prefect_impl.run --date D --run-id ID --config CONFIG.json --result OUT.json
[--force-cold]` runs the flow once against Prefect's ephemeral API (a temporary
server on SQLite under <home>/orchestrators/prefect/), then reads every task run
back from that API: attempts, times, states and persisted outputs are Prefect's
own account, not our clocks. Exits 0 whether the pipeline succeeded or failed.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import sys
from pathlib import Path
from typing import Any
from uuid import UUID

from core.errors import StepError
from core.lake import write_json
from core.protocol import driver_arguments
from core.registry import DECISION_STEP, METRICS_STEP, STEPS
from core.result import RunResult, StepResult, error_file, read_step_error
from core.runner import unwind_on_signals
from core.task import run_config


def use_prefect_home(home: Path) -> None:
    """Prefect reads its settings from the environment: set them before importing it."""
    home.mkdir(parents=True, exist_ok=True)  # Prefect creates the last folder only
    os.environ["PREFECT_HOME"] = str(home)
    os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"  # offline: telemetry fails noisily
    # The first start of the temporary server migrates a new SQLite file; on 2 busy
    # cores that can pass Prefect's 20 s default (design.md §4 measured 16–25 s).
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")


def iso(moment: dt.datetime | None) -> str | None:
    return moment.astimezone(dt.UTC).isoformat(timespec="milliseconds") if moment else None


async def read_result(flow_run_id: UUID, run_id: str, day: str,
                      home: Path | None = None) -> RunResult:
    """The uniform result, from the flow run and task runs Prefect recorded.

    A failed step's error is the StepError its task left in the run's `home`
    (core.result.error_file); without one (no home given, or Prefect stopped the task
    itself, e.g. at its timeout_seconds: state "TimedOut") it is Prefect's state
    message."""
    import prefect
    from prefect import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    async with get_client() as client:
        run = await client.read_flow_run(flow_run_id)
        task_runs = await client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])))
    by_name = {t.name: t for t in task_runs}
    result = RunResult("prefect", prefect.__version__, run_id, day,
                       status="success" if run.state and run.state.is_completed() else "failed",
                       started=iso(run.start_time), ended=iso(run.end_time))
    outputs: dict[str, Any] = {}
    for spec in STEPS:
        record = StepResult(spec.name)
        result.steps.append(record)
        task_run = by_name.get(spec.name)
        if task_run is None or task_run.state is None:
            continue
        record.attempts = task_run.run_count
        record.queued = iso(task_run.expected_start_time)
        record.started, record.ended = iso(task_run.start_time), iso(task_run.end_time)
        if task_run.state.is_completed():
            record.status = "success"
            outputs[spec.name] = await task_run.state.result()
        else:
            left = read_step_error(error_file(home, run_id, spec.name)) if home else None
            record.fail(left or StepError.recorded_by(
                            "prefect", task_run.state.message or f"task {task_run.state.name}",
                            kind="timeout" if task_run.state.name == "TimedOut"
                            else "orchestrator"))
            result.error = result.error or f"{spec.name}: {record.error}"
    if result.status == "failed" and not result.error:  # the flow failed before any task
        result.error = run.state.message if run.state else "no final state recorded"
    result.decision, result.metrics = outputs.get(DECISION_STEP), outputs.get(METRICS_STEP)
    return result


def main(argv: list[str] | None = None) -> int:
    args = driver_arguments("python -m prefect_impl.run", __doc__, argv)
    # SIGINT (what the CLI sends when it is stopped) and SIGTERM unwind like Ctrl-C,
    # in every thread: the running step's container is stopped and removed.
    unwind_on_signals()

    # The run's one load of its config in this process: the flow gets the same object
    # from core.task.run_config (same path, no home: cfg.home is already the file's or
    # $ORCHBENCH_HOME's), and hands it to its tasks.
    cfg = run_config(args.config)
    use_prefect_home(cfg.home / "orchestrators" / "prefect")
    from prefect_impl.flow import pipeline

    state = pipeline(day=args.date, run_id=args.run_id, config=args.config,
                     force_cold=args.force_cold, return_state=True)
    result = asyncio.run(read_result(state.state_details.flow_run_id, args.run_id, args.date,
                                     cfg.home))
    write_json(result.to_dict(), args.result)
    write_json(result.to_dict(), cfg.home / "runs" / f"{args.date}-{args.run_id}.json")
    print(f"prefect {args.date}: {result.status}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
