"""Dagster probe: Definitions load, chains of no-op ops and a fan-out, with execute_job.

    .venvs/dagster/bin/python -m benchmarks.probes.dagster load|chain|fanout \
        --out F.json --workdir D [--variant in_process|multiprocess]

Runs use ``execute_job`` on a persistent DagsterInstance in the workdir (SQLite),
with the in-process executor (every op in this process) or the multiprocess one
(a Python process per op, at most one per core at a time). The multiprocess
executor rebuilds the job in each child, so jobs come from module-level
factories, pointed at by name (``build_reconstructable_job``).

Never run this module's code on import: the children of a multiprocess run import
it to rebuild the job, and a run started at import time would start runs
recursively (design.md §5: that once ate 24 GB). Hence the ``__main__`` guard,
and dagster itself is imported inside functions only.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.probes import chain_protocol, fail, fanout_protocol, parse_args, write
from core.names import PIPELINE_NAME

PROBE = "dagster"
MODULE = "benchmarks.probes.dagster"
VARIANTS = ("in_process", "multiprocess")
MAX_CONCURRENT = os.cpu_count() or 1  # Dagster's own default, stated: one child per core


def _executor(variant: str) -> Any:
    from dagster import in_process_executor, multiprocess_executor

    if variant == "in_process":
        return in_process_executor
    return multiprocess_executor.configured({"max_concurrent": MAX_CONCURRENT})


def make_chain_job(n: int, variant: str) -> Any:
    """A chain of n ops, each fed its upstream's output (the factory children rebuild)."""
    from dagster import In, job, op

    @op
    def first() -> int:
        return 1

    @op(ins={"upstream": In(int)})
    def noop(upstream: int) -> int:
        return upstream + 1

    @job(name=f"probe_chain_{n}", executor_def=_executor(variant))
    def chain() -> None:
        value = first()
        for _ in range(n - 1):
            value = noop(value)  # Dagster aliases repeated ops: noop, noop_2, …

    return chain


def make_fanout_job(n: int, sleep: float, variant: str) -> Any:
    """n independent ops that each sleep."""
    from dagster import job, op

    @op
    def nap() -> None:
        time.sleep(sleep)

    @job(name=f"probe_fanout_{n}", executor_def=_executor(variant))
    def fanout() -> None:
        for _ in range(n):
            nap()

    return fanout


def load() -> dict[str, Any]:
    t0 = time.perf_counter()
    import dagster
    t1 = time.perf_counter()
    from dagster_impl.definitions import defs
    job = defs.resolve_job_def(PIPELINE_NAME)
    schedules = [defs.resolve_schedule_def(name).name
                 for name in ("daily_0600_utc", "weekly_cold_start")]
    t2 = time.perf_counter()
    assert job.name == PIPELINE_NAME and len(schedules) == 2
    return {"framework_import_s": t1 - t0, "definitions_s": t2 - t1,
            "version": dagster.__version__}


def runner(instance: Any, factory: str, *factory_args: object) -> Any:
    """A function that executes the factory's job once and fails loudly if it failed."""
    from dagster import build_reconstructable_job, execute_job

    job = build_reconstructable_job(MODULE, factory, tuple(factory_args),
                                    reconstructor_working_directory=os.getcwd())

    def run() -> None:
        result = execute_job(job, instance=instance)
        if not result.success:
            fail(f"{factory}{factory_args} did not succeed")

    return run


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(f"benchmarks.probes.{PROBE}", argv, variants=VARIANTS)
    home = Path(args.workdir) / "dagster-home"
    home.mkdir(parents=True, exist_ok=True)
    os.environ["DAGSTER_HOME"] = str(home)
    if args.command == "load":
        payload = load()
        write(args.out, PROBE, "load", payload, payload.pop("version"), {})
        return 0
    import dagster
    from dagster import DagsterInstance

    instance = DagsterInstance.local_temp(tempdir=str(home))
    try:
        if args.command == "chain":
            runs = {n: runner(instance, "make_chain_job", n, args.variant) for n in args.sizes}
            payload = chain_protocol(lambda n: runs[n](), args.sizes, args.reps, args.warmup)
        else:
            run = runner(instance, "make_fanout_job", args.n, args.sleep, args.variant)
            payload = fanout_protocol(run, args.n, args.sleep, args.reps, args.warmup)
    finally:
        instance.dispose()
    knobs = {"mode": "execute_job, persistent DagsterInstance", "metadata_db": "SQLite",
             "executor": f"{args.variant}_executor"}
    if args.variant == "multiprocess":
        knobs["max_concurrent"] = str(MAX_CONCURRENT)
    write(args.out, PROBE, args.command, payload, dagster.__version__, knobs)
    return 0


if __name__ == "__main__":  # see the module docstring: never remove this guard
    raise SystemExit(main())
