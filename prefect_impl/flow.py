"""The pipeline as a Prefect flow: core/registry.py translated, one @task per step.

Policies come from the run's config (`Step.policy(cfg)`), so tasks are built inside
the flow, once per run, each holding the run's Config (loaded once per process,
core.task.run_config). Tasks are called directly, in sequence, never `.submit`ted:
a direct call runs in the flow's (main) thread, where Prefect's `timeout_seconds`
can interrupt it (PrefectHQ/prefect#15760). That timeout is the step's timeout_s
plus core's ORCHESTRATOR_TIMEOUT_MARGIN_S, as in the other wrappers: the container
runner's own timeout (timeout_s) stops a hung container first, and Prefect's
does not race it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import Task, flow, get_run_logger, task
from prefect.artifacts import create_link_artifact, create_markdown_artifact
from prefect.runtime import flow_run

from core.config import Config
from core.names import PIPELINE_NAME
from core.registry import DECISION_STEP, STEPS, Step
from core.task import RunParams, execute, run_config


def refuse_unretryable(_task: Task, _run: Any, state: Any) -> bool:
    """Prefect retries every failure; a bad config or input file (`retryable = False`)
    cannot be fixed by retrying, so it fails at once, as in core/direct.py."""
    return getattr(state.data, "retryable", True)


def as_task(spec: Step, cfg: Config) -> Task:
    """One registry step as a Prefect task with the step's retry and timeout policy;
    its body runs the step with `cfg`, the run's Config (not a reload of it)."""
    policy = spec.policy(cfg)

    def run_step(params: dict[str, Any], upstream: dict[str, Any] | None) -> dict[str, Any]:
        logger = get_run_logger()
        return execute(spec.name, RunParams.from_dict(params), upstream,
                       log=logger.info, container_log=logger.info, cfg=cfg,
                       orchestrator="prefect")

    run_step.__qualname__ = spec.name  # Prefect keys a task by its function's name
    return task(
        run_step,
        name=spec.name,
        task_run_name=spec.name,
        description=spec.doc,
        retries=policy.retries,
        retry_delay_seconds=policy.retry_delay_s,
        timeout_seconds=policy.orchestrator_timeout_s,
        retry_condition_fn=refuse_unretryable,
        # Each output is kept as JSON under its own flow run's id: the driver (and the
        # UI) read it back from Prefect, and no later run can take it for a cache hit.
        persist_result=True,
        result_serializer="json",
        result_storage_key="{flow_run.id}/{task_run.name}.json",
    )


def publish_decision(decision: dict[str, Any]) -> None:
    """The warm/cold decision and Evidently's report, where a Prefect user looks: artifacts."""
    windows = decision["windows"]
    create_markdown_artifact(
        key="drift-decision",
        description=f"Warm or cold start for {decision['logical_date']}",
        markdown=(f"**{decision['strategy']}** start ({decision['reason']})\n\n"
                  f"- drifted columns: {', '.join(decision['drifted_columns']) or 'none'}\n"
                  f"- reference {windows['reference']}, current {windows['current']}\n"
                  f"- decision id: `{decision['decision_id']}`"),
    )
    if decision["report"]:
        create_link_artifact(key="evidently-report", link=Path(decision["report"]).as_uri(),
                             link_text=f"Evidently drift report {decision['logical_date']}")


def logical_date() -> str:
    """The run's date: given by the driver, or the day a scheduled run was due."""
    return flow_run.parameters.get("day") or flow_run.scheduled_start_time.date().isoformat()


def run_name() -> str:
    """`<date>-<run id>`: what a person (or a test) looks for among the flow runs."""
    return f"{logical_date()}-{flow_run.parameters.get('run_id') or flow_run.id[:12]}"


@flow(name=PIPELINE_NAME, flow_run_name=run_name)
def pipeline(day: str | None = None, run_id: str | None = None, config: str | None = None,
             home: str | None = None, force_cold: bool = False) -> dict[str, Any]:
    """The registry's steps in order, each fed its upstream step's output."""
    params = RunParams(logical_date(), run_id or flow_run.id[:12], config, home, force_cold)
    # A bad date fails the first task, as in core/direct.py. The driver (run.py) has
    # loaded this config already in this process: run_config hands back that object.
    cfg = run_config(config, home)
    outputs: dict[str, Any] = {}
    for spec in STEPS:
        step_task = as_task(spec, cfg)
        outputs[spec.name] = step_task(params.to_dict(),
                                       outputs[spec.upstream] if spec.upstream else None)
        if spec.name == DECISION_STEP:
            publish_decision(outputs[spec.name])
    return outputs

