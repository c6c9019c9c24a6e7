"""`orchbench mlflow` and `orchbench serve`: MLflow's UI and scoring server for a home.

A home's models live in MLflow's tracking and registry (core/models.py). These two
commands start MLflow's own programs on that store, on 127.0.0.1 (infra/tracking.py
starts and stops them):

- `orchbench mlflow [--home H] [--port 5000]`: the tracking UI, where the experiment
  `orchbench-<dataset>` lists one run per training with its tags (strategy, reason,
  drifted columns), parameters and metrics (mse, skill, importance/…), and the
  registry shows the versions and the alias `champion`;
- `orchbench serve [--home H] [--port 5001] [--model NAME]`: the registry's current
  version (`models:/<name>@champion`) behind MLflow's scoring server, POST
  /invocations. MLflow resolves the alias once, at the start (the server is handed
  the version's folder): a training that moves it later is served after a restart.

As `orchbench ui` does: a taken port, or a home without a store, fails at once with
the fix; then we wait until it answers, print the address, block until Ctrl-C or
SIGTERM, and stop every process it started (exit 0; 1 if the server ended on its
own).
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from infra.tracking import (
    SERVE_PORT,
    UI_PORT,
    Champion,
    RunningServer,
    StopRequested,
    curl_example,
    example_row,
    start_scoring_server,
    start_tracking_ui,
)

Log = Callable[[str], None]


@contextlib.contextmanager
def stop_on_signals(stop: threading.Event) -> Iterator[threading.Event]:
    """While inside, SIGINT and SIGTERM only set `stop` (the caller then stops its
    servers itself); the previous handlers come back on the way out. Outside the main
    thread, where Python takes no handler, it changes nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    previous = {s: signal.signal(s, lambda *_: stop.set()) for s in (signal.SIGINT,
                                                                     signal.SIGTERM)}
    try:
        yield stop
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def block(servers: list[RunningServer], log: Log, stop: threading.Event, prefix: str) -> int:
    """Until `stop` is set (0) or a server exits on its own (1, with its log's tail)."""
    log(f"{prefix}: press Ctrl-C to stop " + ("them" if len(servers) > 1 else "it"))
    while not stop.wait(0.5):
        for server in servers:
            if not server.alive():
                log(f"{prefix}: MLflow's {server.role} stopped on its own (code "
                    f"{server.root.returncode}); its log ends:\n{server.log_tail()}")
                return 1
    return 0


def until_stopped(prefix: str, what: str, start: Callable[[], RunningServer],
                  ready: Callable[[RunningServer, float], None], log: Log,
                  stop: threading.Event) -> int:
    """The life of one server command: `start()` it, wait until it answers (then
    `ready(server, seconds)` prints where it is), block until Ctrl-C/SIGTERM or `stop`,
    and stop its whole tree on every way out. 0, or 1 if it ended on its own."""
    server = None
    with stop_on_signals(stop):
        try:
            server = start()
            ready(server, server.wait_ready(stop=stop))
            return block([server], log, stop, prefix)
        except StopRequested:
            log(f"{prefix}: stopped before {what} answered")
            return 0
        finally:
            if server is not None:
                log(f"{prefix}: stopping {what} …")
                left = server.stop()
                if left:
                    log(f"{prefix}: still running after SIGKILL: {', '.join(left)}")


def mlflow_ui(home: Path, port: int | None, log: Log,
              stop: threading.Event | None = None) -> int:
    """`orchbench mlflow`: the tracking UI of `home`, until Ctrl-C/SIGTERM (or `stop`)."""
    def ready(server: RunningServer, seconds: float) -> None:
        log(f"mlflow: MLflow's UI is ready after {seconds:.0f} s at {server.url} "
            f"(no login; the store: {Path(home).resolve() / 'mlflow'})")

    return until_stopped("mlflow", "MLflow's UI",
                         lambda: start_tracking_ui(home, port or UI_PORT, log), ready, log,
                         stop or threading.Event())


def serve_model(home: Path, port: int | None, log: Log, model: str | None = None,
                stop: threading.Event | None = None) -> int:
    """`orchbench serve`: the current model version of `home` behind MLflow's scoring
    server, until Ctrl-C/SIGTERM (or `stop`)."""
    began = time.perf_counter()
    served: list[Champion] = []

    def start() -> RunningServer:
        server, found = start_scoring_server(home, port or SERVE_PORT, log, model)
        served.append(found)
        version = found.version
        log(f"serve: {found.uri} is version {version.registry_version} "
            f"({version.version}, a {version.strategy} start, trained for "
            f"{version.meta['logical_date']}); loading it …")
        return server

    def ready(server: RunningServer, seconds: float) -> None:
        found = served[0]
        # Reading the registry first takes ~5 s (MLflow's import, 3 s, and its client).
        log(f"serve: the model is ready after {time.perf_counter() - began:.0f} s (the "
            f"scoring server's start: {seconds:.0f} s) at {server.url}/invocations "
            f"({len(found.features)} features)")
        log("serve: for example (the last hour of its date):\n  "
            + curl_example(server.url, found, example_row(home, found)))

    return until_stopped("serve", "the scoring server", start, ready, log,
                         stop or threading.Event())
