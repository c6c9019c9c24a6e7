"""The scale scenario's fan-out as an Airflow DAG (benchmarks/scale.py, issue 13 item 4).

``orchbench_fanout`` (core.names.FANOUT_NAME): one task, ``items``, returns
``list(range(n))`` for the run's param ``n`` (a count of tasks, default 10); then
``noop.expand(i=items())`` — dynamic task mapping, the idiomatic Airflow way to run
one task per item of a list only known at run time — makes n mapped task instances of
``noop`` (map_index 0 … n-1), each doing nothing and returning nothing (so no XCom
row per task). The scheduler expands the mapping when ``items`` has succeeded; what
is measured is how a served stack schedules, runs and records n tiny tasks. Trigger
it with conf ``{"n": N}`` (infra/stacks/airflow.py, ``AirflowStack.trigger_fanout``).

This file lives outside airflow_impl/dags on purpose: the served stack loads it only
when started with ``StackSettings.scale`` (a second DAG bundle, see the stack's
``scale_bundles``), and the driver (``orchbench run -o airflow``) and the parse-time
probe see only the pipeline's DAGs.

The caps that shape a run, Airflow 3.3.2's defaults (airflow/config_templates/
config.yml in the airflow environment's site-packages):
- ``[core] max_map_length`` = 1024 items: a longer list makes ``items`` fail (the API
  server's execution API refuses the XCom push as "unmappable_return_value_length",
  api_fastapi/execution_api/routes/xcoms.py), so n is at most 1024;
- ``[core] max_active_tasks_per_dag`` = 16 task instances running at once in a DAG
  run (the default of this DAG's ``max_active_tasks``): mapped tasks run 16 at a time
  at most, whatever the executor's slots;
- ``[core] parallelism`` = 32 (the stack's "tuned" variant: 4) task instances running
  per scheduler, the LocalExecutor's worker processes; under Celery the worker's
  ``worker_concurrency`` (16; tuned 4) processes take them;
- ``[scheduler] max_tis_per_query`` = 16 task instances looked at per scheduler loop;
- ``[core] default_pool_task_slot_count`` = 128 slots of default_pool.
``max_active_runs`` = core.names.FANOUT_RUN_LIMIT (4): Airflow's own run concurrency
limit, which the scale scenario's runs at once meet (issue 13); a run beyond it stays
queued until one ends. The curve's runs come one at a time.

Only ``airflow.sdk`` and core.names are imported: parsing stays fast.
"""

from __future__ import annotations

from airflow.sdk import Param, dag, get_current_context, task

from core.names import FANOUT_NAME, FANOUT_RUN_LIMIT


@task
def items() -> list[int]:
    """The n items to map over: 0 … n-1, n the run's param (conf {"n": N})."""
    n = int(get_current_context()["params"]["n"])
    return list(range(n))


@task
def noop(i: int) -> None:
    """One mapped task: nothing to do, nothing returned (no XCom)."""


@dag(
    dag_id=FANOUT_NAME,
    schedule=None,
    catchup=False,
    params={"n": Param(10, type="integer", minimum=0,
                       description="How many no-op tasks to map (at most [core] "
                                   "max_map_length, 1024 by default).")},
    max_active_runs=FANOUT_RUN_LIMIT,
    tags=["orchbench", "scale"],
)
def orchbench_fanout() -> None:
    noop.expand(i=items())


orchbench_fanout()
