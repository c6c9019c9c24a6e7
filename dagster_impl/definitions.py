"""The pipeline as a Dagster job: core/registry.py translated into ops.

Ops, not assets: one op per registry step maps 1:1 to the registry and keeps the
three wrappers parallel (a Prefect task, an Airflow task, a Dagster op), which is
what a reader comparing them needs. The lake and the model store are partitioned
by logical date and written by core, not by Dagster's IO managers, so assets
would only re-describe what core already owns.

Each op receives the run's parameters from the `run` resource (set once per run
in its run config) and its upstream op's small output dict, and calls
core.task.execute with Dagster's logger for step messages and container lines.

Policies are definitions in Dagster, read when this module loads: from the config
file named by $ORCHBENCH_CONFIG (run.py sets it to the run's config; the CLI and
the UI use it too), else core's defaults.
- Retries: `RetryPolicy(max_retries, delay)` per op. An error core marks
  `retryable = False` (bad config, bad input, missing image) is re-raised as
  `Failure(allow_retries=False)`, so Dagster skips the retries, as the direct run does.
- Timeouts: Dagster has no op timeout. The container runner's timeout (the step's
  `timeout_s`) stops a hung container, as in the other wrappers; in-process steps
  have none, as in the direct run. Run monitoring is off by default. Each op still
  declares the timeout the other wrappers give their tasks (timeout_s plus core's
  ORCHESTRATOR_TIMEOUT_MARGIN_S) as its tag `orchbench/timeout_s`, shown in the UI
  and read back by tests/test_declared_policies.py; nothing in Dagster enforces it.
- Config: loaded once per process (core.task.run_config): run.py loads it first,
  and this module and every op in the run's process get the same object.
- Executor: $ORCHBENCH_DAGSTER_EXECUTOR, `in_process` (default) or `multiprocess`.
  Multiprocess starts a Python process per op, which re-imports this module and
  core (design.md §4: 67 s for 11 no-op ops, against 0.3 s in process); the steps
  are sequential anyway, so in-process is the default and multiprocess a setting
  for the benchmark to measure.
- Scale: the fan-out job of the scale scenario (dagster_impl/scale.py, core.names.
  FANOUT_NAME) is defined only when $ORCHBENCH_SCALE is "1" (infra/stacks/dagster.py
  sets it for a stack started with `scale`), with the pipeline's executor; otherwise
  `dagster job list` and the UI show the pipeline alone.
"""

# No `from __future__ import annotations`: Dagster reads these annotations at runtime.

import os
import uuid
from collections.abc import Callable
from typing import Any

from dagster import (
    ConfigurableResource,
    Definitions,
    ExecutorDefinition,
    Failure,
    In,
    OpDefinition,
    OpExecutionContext,
    Out,
    RetryPolicy,
    ScheduleDefinition,
    ScheduleEvaluationContext,
    in_process_executor,
    job,
    multiprocess_executor,
    op,
)

from core.config import Config
from core.names import PIPELINE_NAME
from core.registry import STEP_NAMES, STEPS, Step
from core.schedules import DAILY, TIMEZONE, WEEKLY_COLD
from core.task import RunParams, execute, run_config
from dagster_impl.scale import fanout_job

TIMEOUT_TAG = "orchbench/timeout_s"  # an op's declared timeout (Dagster enforces none)


class RunResource(ConfigurableResource):
    """RunParams of one run (core/task.py), given once in the run config."""

    day: str
    run_id: str
    # The stack's run config unless the launch names another, as in the other two UIs
    # (Airflow's trigger form and Prefect's deployment default to it too).
    config: str | None = os.environ.get("ORCHBENCH_CONFIG")
    home: str | None = None
    force_cold: bool = False

    def params(self) -> RunParams:
        return RunParams(self.day, self.run_id, self.config, self.home, self.force_cold)


def step_op(spec: Step, cfg: Config) -> OpDefinition:
    """One registry step as an op, with the step's retry policy (and its timeout as a tag)."""
    policy = spec.policy(cfg)
    ins = {"upstream": In(dict[str, Any])} if spec.upstream else {}

    @op(name=spec.name, description=spec.doc, ins=ins, out=Out(dict[str, Any]),
        retry_policy=RetryPolicy(max_retries=policy.retries, delay=policy.retry_delay_s),
        tags={TIMEOUT_TAG: f"{policy.orchestrator_timeout_s:g}"})
    def _step(context: OpExecutionContext, run: RunResource,
              upstream: dict[str, Any] | None = None) -> dict[str, Any]:
        try:
            return execute(spec.name, run.params(), upstream,
                           log=context.log.info, container_log=context.log.info,
                           orchestrator="dagster")
        except Exception as exc:
            if getattr(exc, "retryable", True):
                raise  # the RetryPolicy applies
            raise Failure(str(exc), allow_retries=False) from exc

    return _step


def _executor() -> ExecutorDefinition:
    name = os.environ.get("ORCHBENCH_DAGSTER_EXECUTOR", "in_process")
    executors = {"in_process": in_process_executor, "multiprocess": multiprocess_executor}
    if name not in executors:
        raise ValueError(f"ORCHBENCH_DAGSTER_EXECUTOR={name!r}: expected one of {list(executors)}")
    return executors[name]


CONFIG = run_config(os.environ.get("ORCHBENCH_CONFIG"))
OPS = {spec.name: step_op(spec, CONFIG) for spec in STEPS}


@job(name=PIPELINE_NAME, executor_def=_executor(),
     resource_defs={"run": RunResource.configure_at_launch()},
     description="The daily air-quality pipeline: " + " → ".join(STEP_NAMES))
def pipeline() -> None:
    outputs: dict[str, Any] = {}
    for spec in STEPS:
        node = OPS[spec.name]
        outputs[spec.name] = node(outputs[spec.upstream]) if spec.upstream else node()


def run_config(params: RunParams) -> dict[str, Any]:
    """The run config that carries RunParams to every op."""
    return {"resources": {"run": {"config": params.to_dict()}}}


def _scheduled(force_cold: bool) -> Callable[[ScheduleEvaluationContext], dict[str, Any]]:
    """The run config of a scheduled run: the logical date is the scheduled day."""

    def run_config_fn(context: ScheduleEvaluationContext) -> dict[str, Any]:
        assert context.scheduled_execution_time is not None
        day = context.scheduled_execution_time.date().isoformat()
        return run_config(RunParams(day, uuid.uuid4().hex[:12], os.environ.get("ORCHBENCH_CONFIG"),
                                    force_cold=force_cold))

    return run_config_fn


# core/schedules.py: the same timetable as the other wrappers (never two runs a day).
daily = ScheduleDefinition(name="daily_0600_utc", job=pipeline, cron_schedule=DAILY.cron,
                           execution_timezone=TIMEZONE, description=DAILY.description,
                           run_config_fn=_scheduled(DAILY.force_cold))
weekly_cold = ScheduleDefinition(name="weekly_cold_start", job=pipeline,
                                 cron_schedule=WEEKLY_COLD.cron, execution_timezone=TIMEZONE,
                                 description=WEEKLY_COLD.description,
                                 run_config_fn=_scheduled(WEEKLY_COLD.force_cold))

# The scale scenario's fan-out, only where asked for (see the module docstring).
SCALE = os.environ.get("ORCHBENCH_SCALE") == "1"
JOBS = [pipeline, fanout_job(_executor())] if SCALE else [pipeline]

defs = Definitions(jobs=JOBS, schedules=[daily, weekly_cold])
