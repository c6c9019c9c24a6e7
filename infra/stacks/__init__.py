"""Each orchestrator's local UI stack, started, measured and stopped the same way.

`STACKS[name]` is the stack of one orchestrator (prefect, airflow, dagster); see
base.py for what a stack is and why it is shaped so.
"""

from __future__ import annotations

from infra.stacks.base import RunningStack, Stack, StackSettings


def stack(name: str) -> Stack:
    """The stack of orchestrator `name`, imported on demand (each module is light,
    but there is no reason to load three when one is asked for)."""
    if name == "prefect":
        from infra.stacks.prefect import PrefectStack

        return PrefectStack()
    if name == "airflow":
        from infra.stacks.airflow import AirflowStack

        return AirflowStack()
    if name == "dagster":
        from infra.stacks.dagster import DagsterStack

        return DagsterStack()
    raise KeyError(name)


__all__ = ["RunningStack", "Stack", "StackSettings", "stack"]
