"""MLflow's own two servers for a home: the tracking UI and the model scoring server.

A home's model store (core/models.py) is MLflow's tracking and registry on SQLite,
`<home>/mlflow/mlflow.db`, with the artifacts as files under `<home>/mlflow/artifacts/`.
Two MLflow programs read it, and both `orchbench mlflow`/`orchbench serve` and the
benchmarks (the UI's idle memory) need them started and stopped the same way:

- `start_tracking_ui(home, port, log)`: `mlflow server` (the UI and the REST API) on
  127.0.0.1, on that store, with the lean settings below;
- `start_scoring_server(home, port, log)`: `mlflow models serve` of the registry's
  current version (`models:/<name>@champion`) in this environment (`--env-manager
  local`: no conda, no virtualenv, no network);

each returning a `RunningServer`: wait until it answers, list its processes and
their memory, stop the whole tree.

Facts measured on the 2-core VM of this project (issue 12), which decide the settings:

- `mlflow server` as installed starts 4 uvicorn workers and a job-execution runner:
  15 processes, 2.9 GiB RSS, 28-30 s until it answers. Lean (`--workers 1`,
  MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false: the job runner serves MLflow's GenAI
  evaluation jobs, which nothing here uses): ~14 s and ~0.5 GiB.
- A port that is taken makes `mlflow server` print "Address already in use" and exit
  with code 0, and a server that never started looks like one that stopped: so the
  port is checked here first (infra/stacks/base.py's check), and a server that exits
  before it answers is an error with its log's tail.
- DO_NOT_TRACK=1 does not switch MLflow's telemetry off; MLFLOW_DISABLE_TELEMETRY does.
- `mlflow models serve --env-manager local` starts uvicorn by name: without this
  environment's bin/ on PATH it exits 127. It answers /ping after 13-15 s.

The servers' output goes to `<home>/mlflow/logs/<role>.log`. Nothing here imports
MLflow at module level: the servers run as programs, and the registry is read (in
`champion`) only by the scoring server's start.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import math
import os
import shlex
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from core.config import Config
from core.errors import ConfigError, OrchbenchError
from core.models import (
    CHAMPION,
    TRACKING_DB,
    ModelStore,
    ModelVersion,
    artifacts_uri,
    registered_models,
    tracking_uri,
)
from infra import process
from infra.envs import ENVS
from infra.stacks.base import answers, check_port_free

Log = Callable[[str], None]

HOST = "127.0.0.1"
UI_PORT = 5000  # MLflow's own default
SERVE_PORT = 5001  # so that it runs beside the UI
READY_TIMEOUT_S = 180.0  # 14-30 s measured on 2 idle cores; a loaded CI machine is slower
TRACKING_UI = "tracking-ui"  # the roles: a RunningServer's name and its log file's
SCORING_SERVER = "scoring-server"


class StopRequested(Exception):
    """Raised by RunningServer.wait_ready when its `stop` event is set before the
    server answered (Ctrl-C during the start)."""


# ----------------------------------------------------------------------- the store
def store_root(home: Path) -> Path:
    """`<home>/mlflow`: the model store's folder (Config.models, core/models.py)."""
    return Config(home=Path(home)).models


def require_store(home: Path) -> Path:
    """The store's folder; OrchbenchError if the home has no MLflow database yet."""
    root = store_root(home)
    if not (root / TRACKING_DB).is_file():
        raise OrchbenchError(
            f"{Path(home)} has no MLflow store yet ({root / TRACKING_DB} does not exist): "
            "no model was trained with this home.",
            f"Run `orchbench demo` first (or `orchbench demo --home {home}`, or "
            f"`orchbench run --date D --home {home}`), then start this again.")
    return root


def server_environment(home: Path) -> dict[str, str]:
    """The servers' environment: ours (process.clean_environment), this environment's
    bin/ first on PATH, the home's store as tracking and registry URI, no telemetry,
    no job runner."""
    uri = tracking_uri(store_root(home))
    bin_dir = ENVS["base"].path / "bin"
    return process.clean_environment({
        "PATH": os.pathsep.join([str(bin_dir), os.environ.get("PATH", os.defpath)]),
        "MLFLOW_TRACKING_URI": uri,
        "MLFLOW_REGISTRY_URI": uri,
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "DO_NOT_TRACK": "1",
        "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
    })


def mlflow_program() -> str:
    """This environment's `mlflow` command; OrchbenchError if it is not installed."""
    program = ENVS["base"].path / "bin" / "mlflow"
    if not program.exists():
        raise OrchbenchError(f"MLflow's command is missing ({program}).",
                             "Run `orchbench setup --env base`.")
    return str(program)


# -------------------------------------------------------------------- the registry
@dataclass(frozen=True)
class Champion:
    """The version the scoring server serves: registered model `name`, its `version`
    (core's ModelVersion: folder, meta.json, registry number) and the input columns
    of its MLflow signature, in order."""

    name: str
    version: ModelVersion
    features: list[str]

    @property
    def uri(self) -> str:
        """What `mlflow models serve -m` loads: `models:/<name>@champion`."""
        return f"models:/{self.name}@{CHAMPION}"


def champion(home: Path, model: str | None = None) -> Champion:
    """The registry's current version in the home's store (alias CHAMPION).

    `model` names the registered model; None picks the only one that has the alias
    (a home serves one dataset). Raises OrchbenchError when the home has no store, no
    registered model has the alias, the named one does not exist or has none, or
    several have it and none is named. Reads the registry with MLflow's client
    (≈3 s for its import)."""
    root = require_store(home)
    found = registered_models(root)
    with_alias = sorted(n for n, aliases in found.items() if CHAMPION in aliases)
    if model is not None and model not in found:
        raise ConfigError(
            f"No registered model {model!r} in {root}"
            + (f" (it has {', '.join(sorted(found))})." if found else "."),
            "Leave out --model to serve the home's own, or name one of those.")
    if model is None:
        if not with_alias:
            raise OrchbenchError(
                f"No model version in {root} is marked current (no registered model has "
                f"the alias {CHAMPION!r}): "
                + ("nothing is registered yet." if not found else
                   f"{', '.join(sorted(found))} has no current version."),
                f"Run `orchbench demo` first (or `orchbench run --date D --home {home}`): "
                "a successful training registers its version and makes it current.")
        if len(with_alias) > 1:
            raise ConfigError(f"Several registered models in {root} have a current version: "
                              f"{', '.join(with_alias)}.",
                              f"Name one: `orchbench serve --home {home} --model NAME`.")
        model = with_alias[0]
    elif model not in with_alias:
        raise OrchbenchError(f"The registered model {model!r} in {root} has no version "
                             f"marked current (no alias {CHAMPION!r}).",
                             "Run the pipeline for a date with this home: a successful "
                             "training makes its version current.")
    version = ModelStore(root, model).current()
    if version is None:  # the alias vanished between the two reads
        raise OrchbenchError(f"{model}@{CHAMPION} vanished from {root} while reading it.",
                             "Start again once the pipeline run writing to it finished.")
    return Champion(model, version, signature_features(version))


def signature_features(version: ModelVersion) -> list[str]:
    """The input columns of the version's MLflow signature (what the server checks a
    request against), in order; the bundle's meta.json `features` if it has none."""
    from mlflow.models import Model

    with contextlib.suppress(OSError, ValueError, AttributeError):
        signature = Model.load(str(version.mlflow_model)).signature
        if signature is not None and signature.inputs is not None:
            return list(signature.inputs.input_names())
    return list(version.meta.get("features") or [])


def example_row(home: Path, found: Champion) -> list[float | None]:
    """One real input for a curl example: the last hour of the version's date in the
    home's refined lake (None where not measured); zeros if that file is gone."""
    from core.lake import Lake

    with contextlib.suppress(OSError, ValueError, KeyError):
        day = dt.date.fromisoformat(found.version.meta["logical_date"])
        frame = Lake(Config(home=Path(home)).lake).read("refined", [day])
        if not frame.empty:
            last = frame.sort_values("ts").iloc[-1] if "ts" in frame else frame.iloc[-1]
            return [None if v is None or (isinstance(v, float) and math.isnan(v))
                    else float(v) for v in (last[f] for f in found.features)]
    return [0.0] * len(found.features)


def invocation_body(columns: Sequence[str], rows: Sequence[Sequence[float | None]]) -> str:
    """The scoring server's JSON input, pandas "split" orientation (NaN as null)."""
    return json.dumps({"dataframe_split": {"columns": list(columns),
                                           "data": [list(r) for r in rows]}})


def curl_example(url: str, found: Champion, row: Sequence[float | None]) -> str:
    """A command a person can paste: POST one row to /invocations."""
    return (f"curl -s {url}/invocations -H 'Content-Type: application/json' -d "
            + shlex.quote(invocation_body(found.features, [row])))


# --------------------------------------------------------------------- the servers
class RunningServer:
    """One started MLflow server: its process tree, address, readiness and stop.

    `role` is TRACKING_UI or SCORING_SERVER; `root` the Popen of the `mlflow` command
    (which starts uvicorn as its child); `url` the address a person opens,
    http://127.0.0.1:PORT; `ready_path` what answers 200 once it serves (/health for
    the UI, /ping for the scoring server, which answers only once the model loaded).
    """

    def __init__(self, role: str, root: subprocess.Popen[bytes], url: str, ready_path: str,
                 log_path: Path, started: float) -> None:
        self.role = role
        self.root = root
        self.url = url
        self.ready_path = ready_path
        self.log_path = log_path
        self.started = started  # time.perf_counter() just before the spawn
        self.ready_after_s: float | None = None
        self.seen: dict[int, psutil.Process] = {}

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    # ---- waiting
    def wait_ready(self, timeout_s: float = READY_TIMEOUT_S,
                   stop: threading.Event | None = None) -> float:
        """Block until GET url+ready_path answers 2xx; seconds since the spawn.

        Raises OrchbenchError, with the log's tail, if the program exits first (a
        port taken since the check: MLflow then exits 0) or the timeout passes, and
        StopRequested if `stop` is set first."""
        deadline = time.perf_counter() + timeout_s
        while time.perf_counter() < deadline:
            if self.root.poll() is not None:
                raise OrchbenchError(
                    f"MLflow's {self.role} exited with code {self.root.returncode} before it "
                    f"answered on {self.url}. Its log ends:\n{self.log_tail()}",
                    f"See {self.log_path}; a port taken in the meantime is one cause "
                    "(choose another with --port).")
            self.processes()  # remember children while they live, for stop()
            if answers(self.url + self.ready_path, timeout_s=2):
                self.ready_after_s = time.perf_counter() - self.started
                return self.ready_after_s
            if stop is not None and stop.wait(0.25):
                raise StopRequested(self.role)
            if stop is None:
                time.sleep(0.25)
        raise OrchbenchError(f"MLflow's {self.role} did not answer on {self.url}"
                             f"{self.ready_path} within {timeout_s:.0f} s.",
                             f"See its log, {self.log_path}.")

    def alive(self) -> bool:
        """False once the `mlflow` command exited."""
        return self.root.poll() is None

    # ---- measuring
    def processes(self) -> list[psutil.Process]:
        """The live processes of the server: the `mlflow` command and its descendants."""
        live = process.tree(self.root.pid)
        for p in live:
            self.seen.setdefault(p.pid, p)
        return live

    def pids(self) -> list[int]:
        return [p.pid for p in self.processes()]

    def rss_bytes(self) -> int:
        """Memory of the whole tree, in bytes: its proportional set size, measured as a
        UI stack's is (process.pss_bytes; RunningStack.rss_bytes)."""
        return process.pss_bytes(self.processes())

    def describe(self) -> list[dict[str, Any]]:
        """One line per process: pid, name, command (shortened), PSS."""
        return process.memory_rows(self.processes())

    def listening_ports(self) -> list[int]:
        """The TCP ports the tree listens on."""
        return process.listening_ports(self.processes())

    def log_tail(self, lines: int = 25) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:]) or "(empty)"

    # ---- stopping
    def stop(self, timeout_s: float = 20) -> list[str]:
        """SIGTERM to the whole tree (process.stop_tree), SIGKILL to what is left after
        `timeout_s`; returns the survivors' names (normally none). Idempotent."""
        return process.stop_tree(self.root, grace_s=timeout_s,
                                 also=[*self.seen.values(), *self.processes()])

    def __enter__(self) -> RunningServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _start(role: str, argv: list[str], home: Path, port: int, ready_path: str,
           log: Log, what: str) -> RunningServer:
    root = store_root(home)
    log_path = root / "logs" / f"{role}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    out = log_path.open("ab")
    started = time.perf_counter()
    # cwd: the store, so that anything MLflow writes beside itself stays in the home.
    proc = process.spawn(argv, env=server_environment(home), cwd=root, stdout=out,
                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    out.close()
    log(f"mlflow: started {role} (pid {proc.pid}): {what} --port {port} (its log: {log_path})")
    return RunningServer(role, proc, f"http://{HOST}:{port}", ready_path, log_path, started)


def tracking_ui_argv(home: Path, port: int) -> list[str]:
    """`mlflow server` on the home's store, 127.0.0.1:port, one worker."""
    root = store_root(home)
    return [mlflow_program(), "server",
            "--backend-store-uri", tracking_uri(root),
            "--default-artifact-root", artifacts_uri(root),
            "--host", HOST, "--port", str(port), "--workers", "1"]


def start_tracking_ui(home: Path, port: int = UI_PORT, log: Log = print) -> RunningServer:
    """Start MLflow's tracking UI for `home` on 127.0.0.1:`port` (not yet waiting).

    Raises OrchbenchError if the port is taken (naming the holder) or the home has
    no store (run the demo first), in that order. Call `wait_ready()` next, `stop()` always."""
    home = Path(home).resolve()
    check_port_free(HOST, port, "mlflow", what="MLflow's UI", retry="orchbench mlflow --port N")
    require_store(home)
    return _start(TRACKING_UI, tracking_ui_argv(home, port), home, port, "/health", log,
                  "mlflow server --workers 1")


def start_scoring_server(home: Path, port: int = SERVE_PORT, log: Log = print,
                         model: str | None = None) -> tuple[RunningServer, Champion]:
    """Start MLflow's scoring server for the registry's current version of `home`
    (`models:/<name>@champion`) on 127.0.0.1:`port`, not yet waiting; also returns
    what it serves. POST /invocations takes {"dataframe_split": {"columns": features,
    "data": [[…]]}} and answers {"predictions": [...]}.

    Raises OrchbenchError if the port is taken, or the home has no store or no
    current version (see `champion`)."""
    home = Path(home).resolve()
    check_port_free(HOST, port, "serve", what="the model's scoring server",
                    retry="orchbench serve --port N")
    found = champion(home, model)
    argv = [mlflow_program(), "models", "serve", "-m", found.uri, "--env-manager", "local",
            "-h", HOST, "-p", str(port)]
    return (_start(SCORING_SERVER, argv, home, port, "/ping", log,
                   f"mlflow models serve -m {found.uri} --env-manager local"), found)


def invoke(url: str, columns: Sequence[str], rows: Sequence[Sequence[float | None]],
           timeout_s: float = 30) -> list[Any]:
    """POST rows to a scoring server's /invocations; its "predictions"."""
    import urllib.request

    request = urllib.request.Request(url + "/invocations",
                                     data=invocation_body(columns, rows).encode(),
                                     headers={"Content-Type": "application/json"},
                                     method="POST")
    with urllib.request.urlopen(request, timeout=timeout_s) as response:
        return list(json.loads(response.read())["predictions"])
