"""`orchbench ui prefect|airflow|dagster|--all`: an orchestrator's own UI, with history in it.

A data scientist opening a UI on an empty orchestrator learns nothing: so the
first start builds a small history in the UI's home and runs the pipeline for a
few days through that orchestrator's own driver (the same state folder the
stack then serves, so those runs are in the UI). Later starts reuse it.

Then the stack starts on 127.0.0.1 (its default port unless --port says
otherwise), we wait until it answers, print the address and the login, and
block until Ctrl-C, when every process the stack started is stopped. A taken
port, or a second `ui` of the same kind on the same home, fails at once with a
message naming the holder (infra/stacks/base.py).

With --backend postgres (or celery, Airflow's), the orchestrator starts in its
production layout instead (PostgreSQL, each component a process of its own;
infra/stacks/, README "Production layouts"), and the history runs are triggered
through its own API once it answers, since the driver's runs are in SQLite.

With --mlflow, MLflow's UI for the same home (its model store: the runs those
pipeline runs trained, the registry) starts beside it, on 5000 (--mlflow-port), and
stops with it; with --all, one per orchestrator's home, on 5000, 5001 and 5002. Off
by default: it costs about 0.5 GB and 15 s more (infra/tracking.py).
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from pathlib import Path

from core.config import Config, DataConfig, DriftConfig, save_config
from core.errors import ConfigError
from infra.stacks import RunningStack, StackSettings, stack
from infra.stacks.base import check_port_free
from infra.tracking import HOST, RunningServer, StopRequested, start_tracking_ui
from orchbench.tracking import stop_on_signals

FIRST = dt.date(2026, 1, 1)
HISTORY_DAYS = 14
Log = Callable[[str], None]


def ui_config(home: Path) -> Config:
    """Two weeks of history and short drift windows: runs take seconds, decisions vary."""
    return Config(home=home, data=DataConfig(bad_row_rate=0.01),
                  drift=DriftConfig(current_days=3, reference_days=7, min_reference_days=7,
                                    force_cold_every_days=4)).validate()


def daily_dates(days: int) -> list[str]:
    start = FIRST + dt.timedelta(days=HISTORY_DAYS)
    return [(start + dt.timedelta(days=i)).isoformat() for i in range(days)]


def prepare(name: str, home: Path, days: int, log: Log, backend: str = "sqlite") -> Path:
    """History and, on SQLite, `days` pipeline runs through `name`'s driver, once per
    home (the driver's runs are in the development layout's SQLite, which that UI
    shows; a production layout gets its runs through its own API: `served_history`)."""
    from core.direct import backfill_history
    from infra.drivers import run_wrapped

    cfg = ui_config(home)
    config = save_config(cfg, home / "config.json")
    if not (home / "lake" / "refined").is_dir():
        log(f"ui: building {HISTORY_DAYS} days of history in {home} (once) …")
        backfill_history(cfg, FIRST, FIRST + dt.timedelta(days=HISTORY_DAYS - 1),
                         log=lambda _: None)
    marker = history_marker(home, name, backend)
    if backend == "sqlite" and not marker.exists():
        for day in daily_dates(days):
            log(f"ui: running {day} through {name} so the UI has history …")
            result = run_wrapped(name, cfg, day, log=lambda _: None, config=config)
            log(f"ui:   {day}: {result['status']}")
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text("\n".join(daily_dates(days)) + "\n")
    return config


def history_marker(home: Path, name: str, backend: str) -> Path:
    """The file that says a home's `name` UI on `backend` has its history runs."""
    suffix = "" if backend == "sqlite" else f"-{backend}"
    return home / "orchestrators" / name / f".history-runs{suffix}"


def served_history(running: RunningStack, days: int, log: Log) -> None:
    """`days` pipeline runs triggered through a started stack's own API, once per home
    and backend: the production layouts' UIs then have history, as the driver's runs
    give the development layout's."""
    s = running.settings
    marker = history_marker(s.home, running.stack.name, s.backend)
    if marker.exists():
        return
    for day in daily_dates(days):
        log(f"ui: running {day} through {running.stack.name}'s API so the UI has history …")
        status = running.wait_run(running.stack.trigger(s, day), timeout_s=900)
        log(f"ui:   {day}: {status.state}")
    marker.write_text("\n".join(daily_dates(days)) + "\n")


def serve(names: list[str], home: Path, port: int | None, days: int, log: Log,
          stop: threading.Event | None = None, mlflow_port: int | None = None,
          backend: str = "sqlite") -> int:
    """Start the stacks, print where they are, wait for Ctrl-C (or `stop`), stop them.
    `mlflow_port`: also MLflow's UI of each stack's home, on this port and the next.
    `backend`: the layout (core.names.BACKENDS); one a stack lacks fails before anything
    starts."""
    for name in names:
        if backend not in stack(name).backends:
            raise ConfigError(f"{name} has no {backend!r} layout (only "
                              f"{', '.join(stack(name).backends)}).",
                              f"Start it with --backend {stack(name).backends[-1]}, or "
                              "choose another orchestrator.")
    if port is not None and len(names) > 1:
        raise ConfigError("--port applies to one UI, and --all starts three.",
                          "Drop --port, or start one UI: `orchbench ui dagster --port 3001`.")
    mlflow_ports = [] if mlflow_port is None else [mlflow_port + i for i in range(len(names))]
    for name, mport in zip(names, mlflow_ports, strict=False):  # before the long part
        check_port_free(HOST, mport, name, what=f"MLflow's UI (for {name})",
                        retry=f"orchbench ui {'--all' if len(names) > 1 else name} --mlflow "
                        "--mlflow-port N")
    stop = stop or threading.Event()
    with stop_on_signals(stop):
        return _serve(names, home, port, days, log, stop, mlflow_ports, backend)


def _serve(names: list[str], home: Path, port: int | None, days: int, log: Log,
           stop: threading.Event, mlflow_ports: list[int], backend: str) -> int:
    """serve()'s body, its signals already turned into `stop`."""
    running: list[RunningStack] = []
    mlflows: list[RunningServer] = []
    try:
        for i, name in enumerate(names):
            st = stack(name)
            name_home = home / name if len(names) > 1 else home
            config = prepare(name, name_home, days, log, backend)
            # "tuned": what a user running it locally wants — Dagster's in-process
            # executor, Airflow with 4 workers instead of 32 forked at start, Prefect
            # polling every second — and a dead worker noticed in seconds.
            settings = StackSettings(name_home, config, port or st.default_port,
                                     variant="tuned", backend=backend)
            started = st.start(settings, log)
            running.append(started)
            ready = started.wait_ready(log=log)
            served_history(started, days, log)
            login = f" (login: {st.login})" if st.login else " (no login needed)"
            log(f"ui: {name} is ready after {ready:.0f} s at {st.ui_url(settings)}{login}"
                + ("" if backend == "sqlite" else f", on {backend}"))
            if mlflow_ports:
                mlflows.append(start_tracking_ui(name_home, mlflow_ports[i], log))
                ready = mlflows[-1].wait_ready(stop=stop)
                log(f"ui: mlflow{f' (for {name})' if len(names) > 1 else ''} is ready after "
                    f"{ready:.0f} s at {mlflows[-1].url}")
        log("ui: press Ctrl-C to stop " + ("them" if len(running) + len(mlflows) > 1 else "it"))
        while not stop.wait(0.5):
            for r in running:
                dead = [role for role, proc in r.roots if proc.poll() is not None]
                if dead:
                    log(f"ui: {r.stack.name}'s {', '.join(dead)} stopped on its own; "
                        f"its log ends:\n{r.log_tail(dead[0])}")
                    stop.set()
            for m in mlflows:
                if not m.alive():
                    log(f"ui: MLflow's UI on {m.url} stopped on its own; its log ends:\n"
                        f"{m.log_tail()}")
                    stop.set()
        return 0
    except StopRequested:  # Ctrl-C while MLflow's UI started
        return 0
    finally:
        for m in reversed(mlflows):
            log(f"ui: stopping mlflow on {m.url} …")
            m.stop()
        for r in reversed(running):
            log(f"ui: stopping {r.stack.name} …")
            r.stop()
