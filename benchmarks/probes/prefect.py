"""Prefect probe: flow import, chains of no-op tasks and a fan-out, run as a user runs them.

    .venvs/prefect/bin/python -m benchmarks.probes.prefect load|chain|fanout \
        --out F.json --workdir D

Runs call the flow in this process against Prefect's ephemeral API (a temporary
server on SQLite that Prefect starts on the first call, under a fresh
PREFECT_HOME in the workdir), with Prefect's defaults otherwise. Chain tasks are
called directly, as prefect_impl/flow.py does; fan-out tasks are `.submit`ted to
the default task runner (a thread pool), the way Prefect runs independent work.

Variants: ``default`` is Prefect as installed. ``tuned`` turns flow-run heartbeats
off (``PREFECT_FLOWS_HEARTBEAT_FREQUENCY``, 180 s by default in 3.9): a sync flow
joins its heartbeat thread on exit, and that thread sleeps in 1 s steps, so with
heartbeats on every flow call lasts at least 1 s and ends on a whole second after
its start — which hides the per-task cost of short flows. Heartbeats are what
lets Prefect mark a crashed flow run, so tuned trades that away (failure scenarios).

Tuned chains are bimodal, about 0.2 s or about 2.1 s a call, and that is Prefect's
own doing, not noise: with PREFECT_LOGGING_LEVEL=DEBUG, every slow call logs
"Received response with retryable status code 503 … in ~2 s" right after the flow
finishes, and PREFECT_API_LOG_RETRYABLE_ERRORS=true shows the server's cause:
`sqlite3.OperationalError: database is locked` (the temporary server is still
writing the run's events and states), which it answers with 503; the client backs
off about 2 s. With heartbeats on, the 1 s join leaves the writes time to finish,
so default calls never hit it.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from benchmarks.probes import chain_protocol, fail, fanout_protocol, parse_args, write
from core.names import PIPELINE_NAME

PROBE = "prefect"
VARIANTS = ("default", "tuned")


def use_home(workdir: Path) -> None:
    """Prefect reads its settings when imported: a fresh home in the workdir, offline."""
    home = workdir / "prefect-home"
    home.mkdir(parents=True, exist_ok=True)
    os.environ["PREFECT_HOME"] = str(home)
    os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    os.environ.pop("PREFECT_API_URL", None)  # the ephemeral API, never a running server
    # First start migrates a new SQLite file; on 2 busy cores that can pass the 20 s default.
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")


def load() -> dict[str, Any]:
    t0 = time.perf_counter()
    import prefect
    t1 = time.perf_counter()
    from prefect_impl.flow import pipeline
    assert pipeline.name == PIPELINE_NAME and callable(pipeline.fn)
    t2 = time.perf_counter()
    return {"framework_import_s": t1 - t0, "definitions_s": t2 - t1,
            "version": prefect.__version__}


def build_flows() -> tuple[Any, Any]:
    """The chain and fan-out flows, built from Prefect's own primitives only."""
    from prefect import flow, task
    from prefect.futures import wait

    @task
    def noop(upstream: int | None) -> int:
        return (upstream or 0) + 1

    @task
    def nap(seconds: float) -> None:
        time.sleep(seconds)

    @flow(name="probe-chain")
    def chain(n: int) -> int:
        value = None
        for _ in range(n):
            value = noop(value)
        return value

    @flow(name="probe-fanout")
    def fanout(n: int, sleep: float) -> None:
        futures = [nap.submit(sleep) for _ in range(n)]
        wait(futures)
        for future in futures:
            future.result()  # raise if a task failed

    return chain, fanout


def knobs() -> dict[str, str]:
    from prefect.settings import get_current_settings

    settings = get_current_settings()
    workers = settings.tasks.runner.thread_pool_max_workers
    return {"api": "ephemeral (temporary server started by the first flow call)",
            "metadata_db": "SQLite",
            "task_runner": f"ThreadPoolTaskRunner (max_workers={workers or 'default'})",
            # On exit a sync flow joins its heartbeat thread, which sleeps in 1 s steps:
            # with heartbeats on, every flow call ends on the next whole second.
            "flows.heartbeat_frequency_s": str(settings.flows.heartbeat_frequency),
            "chain_calls": "direct task calls (flow thread)", "fanout_calls": "task.submit"}


@contextlib.contextmanager
def variant_settings(variant: str) -> Iterator[None]:
    """Heartbeats off for `tuned` (None is the setting's "off"; env vars cannot say None)."""
    if variant == "default":
        yield
        return
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        yield


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(f"benchmarks.probes.{PROBE}", argv, variants=VARIANTS)
    use_home(args.workdir)
    if args.command == "load":
        payload = load()
        write(args.out, PROBE, "load", payload, payload.pop("version"), {})
        return 0
    import prefect

    chain, fanout = build_flows()
    with variant_settings(args.variant):
        if args.command == "chain":
            def run(n: int) -> None:
                if chain(n) != n:
                    fail(f"chain of {n} returned a wrong value")

            payload = chain_protocol(run, args.sizes, args.reps, args.warmup)
        else:
            payload = fanout_protocol(lambda: fanout(args.n, args.sleep), args.n, args.sleep,
                                      args.reps, args.warmup)
        settings = knobs()
    write(args.out, PROBE, args.command, payload, prefect.__version__, settings)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
