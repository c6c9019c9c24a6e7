"""The names every layer shares, defined once: the orchestrators, the baselines,
and the pipeline's name in each orchestrator's UI. (The step names are the
registry's, core/registry.py.)
"""

from __future__ import annotations

# The three orchestrators, each wrapped by <name>_impl/ in its own environment.
ORCHESTRATORS: tuple[str, ...] = ("prefect", "airflow", "dagster")
# What the benchmarks compare them with: the registry's loop in plain Python
# (core/direct.py), and bare containers.
BASELINES: tuple[str, ...] = ("direct", "docker")
# Where a served orchestrator keeps its state, and so which of its layouts runs
# (infra/stacks): "sqlite" is each one's development layout (a process or a few, SQLite
# files under the home); "postgres" its documented production layout on one machine
# (PostgreSQL, each component a process of its own); "celery" Airflow's distributed one
# (postgres, plus Redis as CeleryExecutor's broker and a Celery worker).
BACKENDS: tuple[str, ...] = ("sqlite", "postgres", "celery")
# The pipeline's name in all three UIs: the Prefect flow, the Airflow dag_id, the
# Dagster job (Dagster requires an identifier, so no hyphen). Its second schedule
# is PIPELINE_NAME + "_" + schedule name where an orchestrator needs a second
# definition (the Airflow DAG of the weekly cold start).
PIPELINE_NAME = "orchbench_pipeline"
# Prefect's served deployment of the pipeline (addressed as PIPELINE_NAME/DEPLOYMENT_NAME).
DEPLOYMENT_NAME = "daily"
# The scale scenario's definition (benchmarks/scale.py), loaded only by stacks started
# with StackSettings.scale: one task that lists N items, then N no-op tasks mapped over
# them the orchestrator's idiomatic dynamic way (Airflow .expand, Prefect .map, Dagster
# DynamicOut). The Airflow dag_id, the Prefect flow (and its deployment's name), the
# Dagster job.
FANOUT_NAME = "orchbench_fanout"
# Its runs' concurrency limit, each orchestrator's own (Airflow the DAG's max_active_runs,
# Prefect the deployment's concurrency_limit, Dagster a tag_concurrency_limits entry of
# the QueuedRunCoordinator): the scale scenario triggers more runs than this at once
# (issue 13: 20 runs, a limit of 4).
FANOUT_RUN_LIMIT = 4
