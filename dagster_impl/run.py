"""Run one pipeline date as a Dagster job and write the uniform result (core/protocol.py).

    python -m dagster_impl.run --date D --run-id ID --config CONFIG.json --result OUT.json
                               [--force-cold]

Dagster's instance lives in DAGSTER_HOME = <home>/orchestrators/dagster/ (SQLite
run, event-log and schedule storage: Dagster's default). The job is launched with
`execute_job(reconstructable(job))`, so the multiprocess executor can re-import it
in each step process; the `__main__` guard below is what stops those processes
from launching the run again (design.md §5: a fork bomb without it). Per-step
status, attempts and times come from Dagster's event log (`get_run_step_stats`),
not from our clocks. Exits 0 whether the run succeeded or failed.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.errors import StepError
from core.lake import write_json
from core.protocol import driver_arguments
from core.registry import DECISION_STEP, METRICS_STEP, STEPS
from core.result import RunResult, StepResult, error_file, read_step_error
from core.runner import unwind_on_signals
from core.task import RunParams, run_config

if TYPE_CHECKING:
    from dagster import DagsterInstance, JobExecutionResult

_DAGSTER_WRAPPERS = {"DagsterExecutionStepExecutionError", "RetryRequestedFromPolicy"}
DAGSTER_YAML = "telemetry:\n  enabled: false\n"  # offline machines; SQLite storage is the default


def main(argv: list[str] | None = None) -> int:
    args = driver_arguments("python -m dagster_impl.run", __doc__, argv)
    # SIGINT (what the CLI sends when it is stopped) and SIGTERM unwind like Ctrl-C,
    # in every thread: the running step's container is stopped and removed.
    unwind_on_signals()

    # Once per process (core.task.run_config): definitions.py and every op of an
    # in-process run get this same Config; a multiprocess step process loads it once.
    cfg = run_config(Path(args.config).resolve())
    home = (cfg.home / "orchestrators" / "dagster").resolve()
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text(DAGSTER_YAML)
    # Inherited by every step process of the multiprocess executor: DAGSTER_HOME names the
    # instance, ORCHBENCH_CONFIG the policies definitions.py builds the ops with.
    os.environ["DAGSTER_HOME"] = str(home)
    os.environ["ORCHBENCH_CONFIG"] = str(Path(args.config).resolve())

    import dagster
    from dagster import DagsterInstance, execute_job, reconstructable

    from dagster_impl import definitions

    params = RunParams(args.date, args.run_id, os.environ["ORCHBENCH_CONFIG"],
                       force_cold=args.force_cold)
    with DagsterInstance.get() as instance, execute_job(
        reconstructable(definitions.pipeline), instance,
        run_config=definitions.run_config(params),
        tags={"orchbench/run_id": args.run_id, "orchbench/logical_date": args.date},
    ) as executed:
        result = uniform_result(instance, executed, params, dagster.__version__, cfg.home)
    write_json(result.to_dict(), args.result)
    write_json(result.to_dict(), cfg.home / "runs" / f"{args.date}-{args.run_id}.json")
    return 0


def uniform_result(instance: DagsterInstance, executed: JobExecutionResult, params: RunParams,
                   version: str, home: Path) -> RunResult:
    """core.result.RunResult from what Dagster recorded about the run.

    A failed step's error is the StepError its op left in `home`
    (core.result.error_file); without one (the op failed before core ran) it is the
    error of Dagster's STEP_FAILURE event."""
    from dagster import DagsterEventType

    run_id = executed.run_id
    stats = {s.step_key: s for s in instance.get_run_step_stats(run_id)}
    events = instance.all_logs(run_id)
    first_event: dict[str, float] = {}
    errors: dict[str, StepError] = {}
    for entry in events:
        if entry.step_key:
            first_event.setdefault(entry.step_key, entry.timestamp)
        if entry.dagster_event and entry.dagster_event.event_type == DagsterEventType.STEP_FAILURE:
            errors[entry.step_key or ""] = _recorded_error(entry.dagster_event.step_failure_data)
    status = {"SUCCESS": "success", "FAILURE": "failed"}  # SKIPPED (upstream failed): not_run
    run_stats = instance.get_run_stats(run_id)
    result = RunResult("dagster", version, params.run_id, params.day,
                       status="success" if executed.success else "failed",
                       started=_iso(run_stats.start_time), ended=_iso(run_stats.end_time))
    for spec in STEPS:
        s = stats.get(spec.name)
        record = StepResult(
            spec.name,
            status=status.get(s.status.value, "not_run") if s and s.status else "not_run",
            attempts=(s.attempts or 0) if s else 0,
            # Dagster records no "queued" per step: its first event for the step (the
            # step process starting, under the multiprocess executor) is the nearest.
            queued=_iso(first_event.get(spec.name)),
            started=_iso(s.start_time) if s else None,
            ended=_iso(s.end_time) if s else None,
        )
        if record.status == "failed":
            record.fail(read_step_error(error_file(home, params.run_id, spec.name))
                        or errors.get(spec.name)
                        or StepError.recorded_by("dagster", "no STEP_FAILURE event recorded"))
        result.steps.append(record)
    result.error = result.error_from_steps()
    result.decision = _output(executed, DECISION_STEP)
    result.metrics = _output(executed, METRICS_STEP)
    return result


def _recorded_error(data: Any) -> StepError:
    """The error Dagster recorded for a step, below its own wrappers ('Error occurred
    while executing op', 'Exceeded max_retries'): its class and message as Dagster
    serialised them (SerializableErrorInfo)."""
    error = data.error
    while error.cause is not None and error.cls_name in _DAGSTER_WRAPPERS:
        error = error.cause
    return StepError.recorded_by("dagster", error.message.strip())


def _output(executed: JobExecutionResult, step: str) -> dict[str, Any] | None:
    try:
        return executed.output_for_node(step)
    except Exception:  # the step did not run or failed: no output, as in the direct run
        return None


def _iso(timestamp: float | None) -> str | None:
    if timestamp is None:
        return None
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).isoformat(timespec="milliseconds")


if __name__ == "__main__":
    raise SystemExit(main())
