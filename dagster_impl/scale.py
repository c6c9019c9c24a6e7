"""The scale scenario's fan-out as a Dagster job (core.names.FANOUT_NAME): one op that
lists N items, then N no-op ops mapped over them, the idiomatic dynamic way
(`DynamicOut` + `.map`, Dagster's "Dynamic graphs" docs).

What it is for: benchmarks/scale.py triggers it through a served stack's GraphQL API
(infra/stacks/dagster.py trigger_fanout) with N = 10, 100, 500, and reads back how long
the run took and how many `noop` steps succeeded (fanout_status). It measures what the
orchestrator costs per mapped task: the ops themselves do nothing.

Its shape:
- `fan_out` (config `n`: int ≥ 0, in the run config at `ops.fan_out.config.n`) yields
  `DynamicOutput(i, mapping_key=str(i))` for i in range(n): the step keys of the mapped
  ops are `noop[0]` … `noop[n-1]`.
- `noop` returns its input unchanged. Nothing collects: core/names.py defines the
  scenario as the listing task plus N mapped tasks, as in the Airflow and Prefect
  definitions; a `.collect()` into a final op would add one more step (with the
  multiprocess executor, one more interpreter) to every run's wall time, and the
  run's end already says all mapped ops are done. So a run has n + 1 steps, and the
  stack counts the mapped ones as "steps succeeded − 1" (see fanout_status).

The executor is the one the served pipeline job uses on the same stack
(dagster_impl/definitions.py `_executor()`, from $ORCHBENCH_DAGSTER_EXECUTOR): the
stack's variant decides both, so a fan-out figure carries the same settings as the
pipeline figures beside it. Variant "default" names multiprocess, Dagster's own
default: one fresh interpreter per step, at most `max_concurrent` at once, which
defaults to $DAGSTER_MULTIPROCESS_EXECUTOR_MAX_CONCURRENT or else
multiprocessing.cpu_count() (dagster/_core/executor/multiprocess.py,
MultiprocessExecutor.__init__; dagster/_core/definitions/executor_definition.py,
MULTI_PROC_CONFIG: "By default, this is set to be the return value of
`multiprocessing.cpu_count()`"; Dagster 1.13.27 as installed in .venvs/dagster).
On a 2-core machine that is two step processes at a time, each paying an
interpreter start and the import of Dagster and this code location. Variant "tuned"
names in_process: every step in the run worker, one after another.
"""

# No `from __future__ import annotations`: Dagster reads these annotations at runtime.

from collections.abc import Iterator

from dagster import (
    Config,
    DynamicOut,
    DynamicOutput,
    ExecutorDefinition,
    JobDefinition,
    job,
    op,
)

from core.names import FANOUT_NAME

FANOUT_OP = "fan_out"  # the listing op: its config is ops.fan_out.config.n
NOOP_OP = "noop"  # the mapped op: step keys noop[0] … noop[n-1]


class FanoutConfig(Config):
    """How many items the listing op yields, so how many `noop` steps the run maps."""

    n: int


@op(name=FANOUT_OP, out=DynamicOut(int),
    description="Lists n items (run config ops.fan_out.config.n), one dynamic output each.")
def fan_out(config: FanoutConfig) -> Iterator[DynamicOutput[int]]:
    if config.n < 0:
        raise ValueError(f"n must be 0 or more, got {config.n}")
    for i in range(config.n):
        yield DynamicOutput(i, mapping_key=str(i))


@op(name=NOOP_OP, description="Does nothing with its item: the orchestrator's cost alone.")
def noop(item: int) -> int:
    return item


def fanout_job(executor: ExecutorDefinition) -> JobDefinition:
    """The fan-out job, run by `executor` (the served pipeline job's: definitions.py)."""

    @job(name=FANOUT_NAME, executor_def=executor,
         description="The scale scenario: one op lists n items, n no-op ops map over them.")
    def fanout() -> None:
        fan_out().map(noop)

    return fanout
