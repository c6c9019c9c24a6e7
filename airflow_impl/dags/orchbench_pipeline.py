"""The orchbench pipeline as Airflow TaskFlow DAGs, translated from core/registry.py.

One ``@task`` per registry step, chained by each step's ``upstream``; retries,
retry delay and timeout come from the step's policy. A task receives only small
JSON-able values (its upstream step's output dict through XCom, the run's
parameters through ``params``) and hands them to ``core.task.execute``, so the
wrapper adds nothing the core could do.

Two DAGs come out of one factory, and together they run every date exactly once:

- ``orchbench_pipeline`` (core.names.PIPELINE_NAME, the pipeline's name in all
  three UIs): 06:00 UTC every day except Sunday;
- ``orchbench_pipeline_weekly_cold``: 06:00 UTC on Sundays, with ``force_cold``.

(The timetable and these names are core/schedules.py's, shared with the Prefect and
Dagster wrappers.)

Why a second DAG rather than a Timetable or a branch inside one DAG: an Airflow
user sees both schedules in the DAG list at a glance, can pause the weekly cold
start on its own, and triggers either by hand with the same params; a custom
Timetable would need a plugin registered with the scheduler, and a weekday test
inside a task would hide the schedule in code. (The policy's own
``force_cold_every_days`` rule still applies in both DAGs.)

Params: ``day`` (YYYY-MM-DD, default: the run's logical date ``ds``), ``config``
(a TOML or driver-saved JSON file; default: the ORCHBENCH_CONFIG environment
variable read when the file is parsed, else core's defaults and ORCHBENCH_HOME),
``force_cold`` and ``run_id`` (default: Airflow's run id), which labels the
containers. Only ``airflow.sdk`` and the light core modules are imported here, so
parsing stays fast; pandas, Evidently and Docker load inside the tasks.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from typing import Any

from airflow.sdk import DAG, Param, dag, get_current_context, task
from airflow.sdk.exceptions import AirflowFailException

from core.config import Config
from core.registry import STEPS, Step
from core.schedules import DAILY, EARLIEST, WEEKLY_COLD, Schedule, definition_name
from core.task import RunParams, execute, run_config

log = logging.getLogger("airflow.task")  # what Airflow shows as the task's log

def _run_params() -> RunParams:
    context = get_current_context()
    params = context["params"]
    return RunParams(
        day=params["day"] or context["ds"],
        run_id=params["run_id"] or context["run_id"],
        config=params["config"],
        force_cold=params["force_cold"],
    )


def _parse_time_config() -> Config:
    """The config the policies are read from: Airflow fixes retries and timeouts when
    it parses the file, so they come from the file the tasks will load
    (ORCHBENCH_CONFIG) or core's defaults. core.task.run_config loads it once per
    process: the driver (run.py) has loaded it before parsing, and the tasks that
    dag.test() runs in that process get the same object."""
    return run_config(os.environ.get("ORCHBENCH_CONFIG"))


def _step_task(spec: Step, cfg: Config) -> Any:
    """One registry step as an Airflow task, with the step's retry and timeout policy.

    The container runner's timeout (the step's timeout_s) is the first line: it kills
    and removes the container and says so. Airflow's execution_timeout is the second,
    core's ORCHESTRATOR_TIMEOUT_MARGIN_S later, as in the other wrappers, so it never
    interrupts the runner's own clean-up."""
    policy = spec.policy(cfg)

    @task(
        task_id=spec.name,
        doc_md=spec.doc,
        retries=policy.retries,
        retry_delay=dt.timedelta(seconds=policy.retry_delay_s),
        execution_timeout=dt.timedelta(seconds=policy.orchestrator_timeout_s),
    )
    def run_step(upstream: dict[str, Any] | None = None) -> dict[str, Any]:
        try:
            return execute(spec.name, _run_params(), upstream, log=log.info,
                           container_log=log.info, orchestrator="airflow")
        except Exception as exc:
            log.error("%s failed: %s", spec.name, exc)
            if getattr(exc, "retryable", True):
                raise
            # A bad config or input file: retrying cannot help, so Airflow must not.
            raise AirflowFailException(str(exc)) from exc

    return run_step


def pipeline_dag(schedule: Schedule) -> DAG:
    @dag(
        dag_id=definition_name(schedule),
        schedule=schedule.cron,
        start_date=EARLIEST,
        catchup=False,
        max_active_runs=1,  # dates share the model store: one at a time, in order
        doc_md=schedule.description,
        tags=["orchbench"],
        params={
            "day": Param(None, type=["null", "string"], format="date",
                         description="Logical date to run; default: the run's ds."),
            "config": Param(os.environ.get("ORCHBENCH_CONFIG"), type=["null", "string"],
                            description="orchbench config file (TOML, or a driver's JSON)."),
            "force_cold": Param(schedule.force_cold, type="boolean",
                                description="Force a cold start of training."),
            "run_id": Param(None, type=["null", "string"],
                            description="Id that labels this run's containers."),
        },
    )
    def pipeline() -> None:
        cfg = _parse_time_config()
        outputs: dict[str, Any] = {}
        for spec in STEPS:
            step = _step_task(spec, cfg)
            outputs[spec.name] = step(outputs[spec.upstream]) if spec.upstream else step()

    return pipeline()


daily = pipeline_dag(DAILY)
weekly_cold = pipeline_dag(WEEKLY_COLD)
