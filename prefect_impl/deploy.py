"""The pipeline as a Prefect deployment on core/schedules.py's timetable:
06:00 UTC every day but Sunday, and Sundays a forced cold start, so warm starts
cannot drift for ever (design.md §1).

Scheduled runs leave `day` empty: the flow takes the date the run was due.
`python -m prefect_impl.deploy [--config FILE] [--home DIR]` serves it, on the same
Prefect home (and so the same runs in the UI) as the driver; Ctrl-C stops it.

`... --pool NAME` instead deploys it to the work pool NAME and exits: Prefect's
worker-based layout (infra/stacks/prefect.py, backend "postgres"), where a
`prefect worker start --pool NAME` process starts its runs. The deployment's code
is this repository (`flow.from_source`, a local directory: its pull step sets the
run's working directory here); name, parameters and schedules are the served ones.

`--scale` adds the scale scenario's fan-out (prefect_impl/scale.py): served beside the
pipeline in the same `serve` process, or deployed to the same pool, named
core.names.FANOUT_NAME (flow and deployment), with no schedule: it runs only when
triggered (infra/stacks/prefect.py `trigger_fanout`). Without it, nothing else changes.
"""

from __future__ import annotations

import argparse
import os
import time
import urllib.request
from pathlib import Path
from typing import Any

from core.config import load_config
from core.names import DEPLOYMENT_NAME, FANOUT_NAME, FANOUT_RUN_LIMIT
from core.schedules import SCHEDULES, TIMEZONE
from prefect_impl.run import use_prefect_home

ROOT = Path(__file__).resolve().parents[1]  # the repository: the deployed code's source
ENTRYPOINT = "prefect_impl/flow.py:pipeline"  # relative to ROOT
FANOUT_ENTRYPOINT = "prefect_impl/scale.py:fanout"  # relative to ROOT


def schedules(defaults: dict[str, Any]) -> list[Any]:
    """core/schedules.py: the same timetable as the other wrappers (one run a day)."""
    from prefect.schedules import Cron

    return [Cron(s.cron, timezone=TIMEZONE, slug=s.name,
                 parameters={**defaults, "force_cold": s.force_cold})
            for s in SCHEDULES]


def deployment(config: str | None = None, home: str | None = None) -> Any:
    """The deployment, built from the flow; `.apply()` registers it, `serve()` runs it."""
    from prefect_impl.flow import pipeline

    defaults = {"config": config, "home": home}
    return pipeline.to_deployment(name=DEPLOYMENT_NAME, parameters=defaults,
                                  schedules=schedules(defaults))


def deploy_to_pool(pool: str, config: str | None = None, home: str | None = None) -> Any:
    """Register the deployment on work pool `pool` (a `process` pool: no image to
    build or push); its id. A worker of the pool then runs it from ROOT."""
    from prefect import Flow

    defaults = {"config": config, "home": home}
    source = Flow.from_source(source=str(ROOT), entrypoint=ENTRYPOINT)
    return source.deploy(name=DEPLOYMENT_NAME, work_pool_name=pool, parameters=defaults,
                         schedules=schedules(defaults), build=False, push=False,
                         print_next_steps=False)


def fanout_deployment() -> Any:
    """The fan-out's deployment for `serve()`: its flow's name, no schedule, n defaulting
    to the flow's own (10), at most FANOUT_RUN_LIMIT runs at once (the deployment's
    concurrency_limit: a run beyond it waits Scheduled, "AwaitingConcurrencySlot", and is
    retried every PREFECT_SERVER_DEPLOYMENTS_CONCURRENCY_SLOT_WAIT_SECONDS, 30 s)."""
    from prefect_impl.scale import fanout

    return fanout.to_deployment(name=FANOUT_NAME, concurrency_limit=FANOUT_RUN_LIMIT)


def deploy_fanout_to_pool(pool: str) -> Any:
    """Register the fan-out's deployment on work pool `pool`, like deploy_to_pool; its id."""
    from prefect import Flow

    source = Flow.from_source(source=str(ROOT), entrypoint=FANOUT_ENTRYPOINT)
    return source.deploy(name=FANOUT_NAME, work_pool_name=pool, build=False, push=False,
                         print_next_steps=False, concurrency_limit=FANOUT_RUN_LIMIT)


def wait_for_api(timeout_s: float) -> None:
    """Block until PREFECT_API_URL answers: a Prefect client that never reached its
    server gives up at once, so a stack starting server and deployment together
    (infra/stacks/prefect.py) has the deployment wait here."""
    url = os.environ.get("PREFECT_API_URL")
    deadline = time.monotonic() + timeout_s
    while url and time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2):
                return
        except OSError:
            time.sleep(0.25)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--config")
    parser.add_argument("--home")
    parser.add_argument("--wait-for-api", type=float, default=0, metavar="SECONDS",
                        help="wait up to SECONDS for PREFECT_API_URL to answer before serving")
    parser.add_argument("--pool", metavar="NAME",
                        help="deploy to the work pool NAME and exit, instead of serving")
    parser.add_argument("--scale", action="store_true",
                        help=f"also serve or deploy the fan-out {FANOUT_NAME!r} "
                        "(prefect_impl/scale.py)")
    args = parser.parse_args()
    cfg = load_config(Path(args.config) if args.config else None,
                      Path(args.home) if args.home else None)
    use_prefect_home(cfg.home / "orchestrators" / "prefect")  # before Prefect is imported
    if args.pool:
        wait_for_api(args.wait_for_api)
        print(f"deployment {deploy_to_pool(args.pool, args.config, str(cfg.home))} "
              f"on work pool {args.pool!r}")
        if args.scale:
            print(f"deployment {deploy_fanout_to_pool(args.pool)} on work pool {args.pool!r}")
    else:
        from prefect import serve

        # Built before the wait: imports Prefect (and the flows) while the server starts.
        served = [deployment(args.config, str(cfg.home))]
        if args.scale:
            served.append(fanout_deployment())
        wait_for_api(args.wait_for_api)
        serve(*served)
