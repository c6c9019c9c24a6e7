"""What a local orchestrator stack is, and the one way all three are started and stopped.

A *stack* is the set of long-running processes a user starts to see an
orchestrator's UI and have it run the pipeline on its own (Prefect's server and a
served deployment; Airflow standalone; `dagster dev`). Both `orchbench ui` and the
benchmarks need the same things from it, so they share this code:

- start its processes, each in its own session (process group), on 127.0.0.1 and a
  chosen port, with its state under `<home>/orchestrators/<name>/` (the same place
  as the driver's, so the UI shows the runs `orchbench run -o <name>` made);
- refuse a port that is taken, or a second stack of the same kind on one home, with
  a message that says what holds it — never hang on it;
- wait until the UI answers, and say how long that took;
- list every process it started (with descendants), the ports they listen on and
  their memory: the setup-effort figures are read from here, not estimated;
- trigger a pipeline run through the orchestrator's own HTTP API and read back its
  state and first task start: served-mode latency and failure handling;
- stop everything it started, descendants included, even after Ctrl-C.

Each orchestrator's module implements the abstract methods: what to start, how to
tell it is ready, how to trigger and read runs. Everything else lives here once.
Nothing here imports an orchestrator: stacks are driven over HTTP and processes.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import socket
import subprocess
import time
import urllib.error
import urllib.request
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import psutil

from core.errors import OrchbenchError
from core.schedules import schedule_for
from infra import process
from infra.envs import ENVS, ROOT

Log = Callable[[str], None]

# The servers a production layout runs beside its UI, as offsets from the UI's port
# (Airflow's own extra ports take +1 … +3): free_ports(SPAN) finds room for all.
SERVICE_PORTS = {"postgres": 10, "redis": 11, "code server": 12}
SPAN = 13


@dataclass(frozen=True)
class StackSettings:
    """Where and how one stack runs.

    `variant` is "default" (the orchestrator as installed), "tuned" (the settings a
    user tuning for latency would choose; each stack's `knobs()` says which) or
    "detect" (defaults plus `detection_knobs()`, to notice a killed worker). "tuned"
    includes the detection knobs too: one start then measures a tuned user's stack.
    `config` is the run config (JSON or TOML) the served pipeline uses."""

    home: Path
    config: Path
    port: int
    host: str = "127.0.0.1"
    variant: str = "default"
    session: str | None = None  # labels the workload containers its runs start
    backend: str = "sqlite"  # core.names.BACKENDS: where the orchestrator keeps its state
    scale: bool = False  # also load the fan-out definition (core.names.FANOUT_NAME)

    def label(self, name: str) -> str:
        """How progress lines and notes name a start of stack `name`: "airflow default",
        with the layout after it unless it is the development one ("… celery")."""
        return f"{name} {self.variant}" + ("" if self.backend == "sqlite" else f" {self.backend}")

    def port_of(self, service: str) -> int:
        """The port of a server the stack runs beside its UI (SERVICE_PORTS)."""
        return self.port + SERVICE_PORTS[service]

    @property
    def state_dir(self) -> Path:
        return self.home / "orchestrators"


@dataclass(frozen=True)
class Command:
    """One process of a stack: a role name (for people), argv and extra environment.

    Commands start in order. By default each is started and the next follows at once.
    `ready` makes the start wait until it returns True (a database the next ones connect
    to); `once` runs the command to its end instead (a schema migration, a work pool's
    creation), a non-zero exit failing the start. `user` runs it as another user
    (PostgreSQL refuses to run as root)."""

    role: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    ready: Callable[[], bool] | None = None
    once: bool = False
    user: str | None = None


@dataclass(frozen=True)
class RunStatus:
    """A served run as the orchestrator reports it. Times are epoch seconds."""

    run_id: str
    state: str  # the orchestrator's own word: COMPLETED, success, SUCCESS, failed, …
    final: bool
    succeeded: bool
    first_task_started: float | None = None
    ended: float | None = None
    steps: dict[str, str] = field(default_factory=dict)  # step name → its state
    # A fan-out run's mapped no-op tasks recorded as succeeded (counted by the API, not
    # listed: task lists are paged at 100 or 200); None for a pipeline run.
    tasks_succeeded: int | None = None


class Stack(ABC):
    """One orchestrator's local stack. Subclasses fill in the orchestrator's facts."""

    name: ClassVar[str]
    default_port: ClassVar[int]
    login: ClassVar[str | None] = None  # what the user types to log in, if anything
    backends: ClassVar[tuple[str, ...]] = ("sqlite",)  # the BACKENDS it can run on

    # ---- what to start
    @abstractmethod
    def commands(self, s: StackSettings) -> list[Command]:
        """The processes to start, in order."""

    @abstractmethod
    def knobs(self, variant: str, backend: str = "sqlite") -> dict[str, str]:
        """The settings that decide latency, as environment variables, for `variant` on
        `backend`. Recorded with every figure, and passed to the processes."""

    def services(self, s: StackSettings) -> tuple[str, ...]:
        """The servers (SERVICE_PORTS) the layout runs beside the orchestrator."""
        return {"sqlite": (), "postgres": ("postgres",),
                "celery": ("postgres", "redis")}[s.backend]

    def prepare(self, s: StackSettings, log: Log) -> None:  # noqa: B027 - optional hook
        """Anything to do before the processes start (e.g. write a config file)."""

    @abstractmethod
    def config_files(self, s: StackSettings) -> list[Path]:
        """The configuration files this stack needs a user to have (or that it writes)."""

    # ---- readiness
    @abstractmethod
    def ui_url(self, s: StackSettings) -> str:
        """The address a person opens."""

    @abstractmethod
    def ready(self, s: StackSettings) -> bool:
        """True once the UI answers and the pipeline is loaded and can be triggered."""

    def after_ready(self, s: StackSettings, log: Log) -> None:  # noqa: B027 - optional hook
        """Anything to do once it answers (e.g. unpause the DAG)."""

    # ---- runs
    def detection_knobs(self) -> dict[str, str]:
        """Settings (environment variables) with which the stack notices a killed
        worker quickly (heartbeats, zombie detection, run monitoring). Empty if its
        defaults already do. Added on top of knobs() by the variant "detect"."""
        return {}

    @abstractmethod
    def trigger(self, s: StackSettings, day: str, *, force_cold: bool = False,
                config: Path | None = None) -> str:
        """Start a pipeline run for `day` through the orchestrator's API; its run id.
        `config` overrides the stack's run config for this run only (the failure
        scenarios pass one with a fault in it)."""

    @abstractmethod
    def status(self, s: StackSettings, run_id: str) -> RunStatus:
        """The run's state as the orchestrator records it."""

    def trigger_fanout(self, s: StackSettings, n: int) -> str:
        """Start the fan-out definition (core.names.FANOUT_NAME) with `n` mapped no-op
        tasks through the orchestrator's API; its run id. Needs a stack started with
        `scale=True`."""
        raise OrchbenchError(f"{self.name}'s stack has no fan-out definition.",
                             "Measure the fan-out on a stack that has one.")

    def fanout_status(self, s: StackSettings, run_id: str) -> RunStatus:
        """A fan-out run's state, its start and end, and `tasks_succeeded`."""
        raise OrchbenchError(f"{self.name}'s stack has no fan-out definition.",
                             "Measure the fan-out on a stack that has one.")

    def backfill(self, running: RunningStack, days: Sequence[str],
                 timeout_s: float = 900) -> list[RunStatus]:
        """Run the pipeline for each logical date of `days` (ascending, consecutive) through
        the orchestrator's own mechanism, one date at a time and in order (a date's
        features need the day before, and a warm start the model before it); each date
        as its schedule would run it (core.schedules.schedule_for: Sundays with
        force_cold). Returns the runs' final statuses in date order, and stops at the first
        run that does not succeed (so the list may be shorter than `days`), cancelling the
        dates after it where the mechanism had already queued them. Raises
        OrchbenchError if a run does not end within `timeout_s` of the wait for it (from
        its creation, or from the end of the run before it where the mechanism queued
        it), urllib.error.HTTPError if the orchestrator's API refuses the backfill.

        By default (Prefect, which has no backfill of its own: `prefect deployment run`
        and the API create one run with the parameters given; `POST /deployments/{id}/
        schedule` creates a past range's runs at once, but then nothing orders them, its
        concurrency slots being retried, not queued in order): a run per date is created
        through the API once the one before it ended. The subclasses whose orchestrator
        has its own mechanism override it; `backfill_mechanism` says which was used."""
        statuses: list[RunStatus] = []
        for day in days:
            force_cold = schedule_for(dt.date.fromisoformat(day)).force_cold
            run_id = self.trigger(running.settings, day, force_cold=force_cold)
            statuses.append(running.wait_run(run_id, timeout_s))
            if not statuses[-1].succeeded:
                break
        return statuses

    def backfill_mechanism(self, s: StackSettings) -> str:
        """How `backfill` runs the dates on this stack, in a phrase for the report."""
        return "a run per date created through the API when the one before has ended"

    def step_processes(self, running: RunningStack, run_id: str) -> list[psutil.Process]:
        """The processes executing the run's steps (what a SIGKILL of "the worker"
        kills). By default: the stack's processes whose command line names the run."""
        return [p for p in running.processes() if _mentions(p, run_id)]

    # ---- the shared machinery
    def environment(self, s: StackSettings) -> dict[str, str]:
        env = process.clean_environment({"ORCHBENCH_CONFIG": str(s.config),
                                          "ORCHBENCH_HOME": str(s.home)})
        if s.session:
            env["ORCHBENCH_SESSION"] = s.session
        env.update(self.knobs(s.variant, s.backend))
        if s.variant in ("tuned", "detect"):
            env.update(self.detection_knobs())
        return env

    def python(self) -> str:
        env = ENVS[self.name]
        if not env.python.exists():
            raise OrchbenchError(f"The {self.name} environment is missing ({env.path}).",
                                 f"Run `orchbench setup --env {self.name}`.")
        return str(env.python)

    def start(self, s: StackSettings, log: Log = print) -> RunningStack:
        """Start the stack's processes (not yet waiting for them to answer)."""
        if s.backend not in self.backends:
            raise OrchbenchError(f"{self.name} has no {s.backend!r} layout here.",
                                 f"Use --backend {' or '.join(self.backends)}.")
        check_port_free(s.host, s.port, self.name)
        for service in self.services(s):
            check_port_free(s.host, s.port_of(service), self.name,
                            what=f"{self.name}'s {service} (the UI port + "
                            f"{SERVICE_PORTS[service]})")
        lock = lock_path(s.home, self.name)
        _take_lock(lock, self.name, s)
        try:
            self.prepare(s, log)
            log_dir = s.state_dir / self.name / "logs"
            log_dir.mkdir(parents=True, exist_ok=True)
            running = RunningStack(self, s, lock, time.time(), time.perf_counter())
            base_env = self.environment(s)
            try:
                for command in self.commands(s):
                    running.launch(command, base_env, log)
            except BaseException:
                running.stop()  # what started before the failing command
                raise
            return running
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                lock.unlink()
            raise


class RunningStack:
    """A started stack: its processes, and the means to measure and stop them."""

    def __init__(self, stack: Stack, settings: StackSettings, lock: Path,
                 started_epoch: float, started: float) -> None:
        self.stack = stack
        self.settings = settings
        self.lock = lock
        self.started_epoch = started_epoch
        self.started = started
        self.roots: list[tuple[str, subprocess.Popen[bytes]]] = []
        self.seen: dict[int, psutil.Process] = {}
        self.ready_after_s: float | None = None

    # ---- starting
    def launch(self, command: Command, env: dict[str, str], log: Log,
               timeout_s: float = 300) -> None:
        """Start one command (see Command): in the background, waited for, or run to
        its end. A failure raises with the tail of the command's log."""
        log_file = self.log_path(command.role)
        with log_file.open("ab") as out:
            proc = process.spawn(command.argv, cwd=ROOT, env={**env, **command.env},
                                 stdout=out, stderr=subprocess.STDOUT,
                                 stdin=subprocess.DEVNULL, user=command.user)
        shown = " ".join(command.argv[-4:])
        if command.once:
            started = time.perf_counter()
            try:
                code = proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                raise OrchbenchError(
                    f"{self.stack.name}'s {command.role} ({shown}) did not finish within "
                    f"{timeout_s:.0f} s. Its log ends:\n{self.log_tail(command.role)}",
                    f"See {log_file}.") from None
            finally:
                process.stop_tree(proc, grace_s=5)
            if code != 0:
                raise OrchbenchError(
                    f"{self.stack.name}'s {command.role} ({shown}) failed with exit code "
                    f"{code}. Its log ends:\n{self.log_tail(command.role)}",
                    f"See {log_file}; `orchbench doctor` checks the set-up.")
            log(f"{self.stack.name}: {command.role} done in "
                f"{time.perf_counter() - started:.1f} s: {shown}")
            return
        self.roots.append((command.role, proc))
        log(f"{self.stack.name}: started {command.role} (pid {proc.pid}): {shown}")
        if command.ready is not None:
            self.wait_for(command.ready, timeout_s, awaited=f"its {command.role} was ready",
                          timed_out=f"{self.stack.name}'s {command.role} did not become "
                          f"ready within {timeout_s:.0f} s.", interval_s=0.1)

    # ---- waiting
    def wait_ready(self, timeout_s: float = 300, log: Log = print) -> float:
        """Block until the UI answers; seconds from start. Fails, with the log's tail,
        if a process exits first or the timeout passes."""
        self.wait_for(lambda: self.stack.ready(self.settings), timeout_s,
                      awaited="the UI answered",
                      timed_out=f"{self.stack.name}'s UI did not answer on "
                      f"{self.stack.ui_url(self.settings)} within {timeout_s:.0f} s.")
        self.ready_after_s = time.perf_counter() - self.started
        self.stack.after_ready(self.settings, log)
        return self.ready_after_s

    def wait_for(self, check: Callable[[], bool], timeout_s: float, *, awaited: str,
                 timed_out: str, interval_s: float = 0.25) -> None:
        """Block until check() holds (a connection error or a 5xx means "not yet").
        Fails, with its log's tail, if a started process exits first (`awaited` says
        what it exited before), or with `timed_out` after timeout_s."""
        deadline = time.perf_counter() + timeout_s
        while True:
            for role, proc in self.roots:
                if proc.poll() is not None:
                    raise OrchbenchError(
                        f"{self.stack.name}'s {role} exited with code {proc.returncode} "
                        f"before {awaited}. Its log ends:\n{self.log_tail(role)}",
                        f"See {self.log_path(role)}; `orchbench doctor` checks the set-up.")
            self.processes()  # remember children while they live, for stop()
            if _quietly(check):
                return
            if time.perf_counter() > deadline:
                raise OrchbenchError(timed_out, f"See the logs under {self.log_path('').parent}.")
            time.sleep(interval_s)

    def wait_run(self, run_id: str, timeout_s: float = 600,
                 until: Callable[[RunStatus], bool] = lambda st: st.final,
                 read: Callable[[StackSettings, str], RunStatus] | None = None) -> RunStatus:
        """Poll a run until `until` holds (by default: a final state). `read` reads its
        status (by default the stack's `status`: a pipeline run's)."""
        read = read or self.stack.status
        deadline = time.perf_counter() + timeout_s
        status = None
        while time.perf_counter() < deadline:
            status = _quietly(read, self.settings, run_id)
            if status is not None and until(status):
                return status
            self.processes()
            time.sleep(0.2)
        raise OrchbenchError(
            f"{self.stack.name} run {run_id} did not reach the awaited state in "
            f"{timeout_s:.0f} s (last seen: {status.state if status else 'nothing'}).",
            f"See the logs under {self.log_path('').parent}.")

    # ---- measuring
    def processes(self) -> list[psutil.Process]:
        """Every live process the stack started, with all descendants."""
        live: list[psutil.Process] = []
        for _, proc in self.roots:
            with contextlib.suppress(psutil.Error):
                root = psutil.Process(proc.pid)
                live.append(root)
                live.extend(root.children(recursive=True))
        for p in live:
            self.seen.setdefault(p.pid, p)
        return live

    def listening_ports(self) -> list[int]:
        return process.listening_ports(self.processes())

    def rss_bytes(self) -> int:
        """Memory of the whole stack: its proportional set size (process.pss_bytes; the
        name is the figure key's first, rss)."""
        return process.pss_bytes(self.processes())

    def describe(self) -> list[dict[str, Any]]:
        """One line per process: pid, name, command (shortened), PSS."""
        return process.memory_rows(self.processes())

    def log_path(self, role: str) -> Path:
        return self.settings.state_dir / self.stack.name / "logs" / f"{role}.log"

    def log_tail(self, role: str, lines: int = 25) -> str:
        try:
            text = self.log_path(role).read_text(errors="replace")
        except FileNotFoundError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    # ---- stopping
    def stop(self, timeout_s: float = 20) -> None:
        """Stop the processes in the reverse of their start order, each process group
        with its grace (SIGTERM, then SIGKILL), so a database stops after its clients
        have let go of it; then whatever was ever seen and still runs (a descendant
        that left its group). Idempotent."""
        doomed = [*self.seen.values(), *self.processes()]
        for i, (_, proc) in reversed(list(enumerate(self.roots))):
            process.stop_tree(proc, grace_s=timeout_s, also=doomed if i == 0 else ())
        with contextlib.suppress(FileNotFoundError):
            self.lock.unlink()

    def __enter__(self) -> RunningStack:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


# ------------------------------------------------------------------------ helpers
def check_port_free(host: str, port: int, name: str, *, what: str | None = None,
                    retry: str | None = None) -> None:
    """Fail at once, naming the holder, if something already listens on the port.
    `what` names the server in the message (default: the `name` UI), `retry` the command
    that picks another port (default `orchbench ui NAME --port N`)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
            return
        except OSError:
            pass
    holder = port_holder(port)
    raise OrchbenchError(
        f"Port {port} on {host} is already taken{f' by {holder}' if holder else ''}, so "
        f"{what or f'the {name} UI'} cannot start there.",
        f"Stop that program, or choose another port: "
        f"`{retry or f'orchbench ui {name} --port N'}`.")


def free_ports(count: int = 1, host: str = "127.0.0.1") -> int:
    """A port P with P … P+count-1 all free: Airflow's stack also takes P+1 and P+2."""
    for _ in range(50):
        with socket.socket() as sock:
            sock.bind((host, 0))
            port = int(sock.getsockname()[1])
        if port + count < 65536 and all(_bindable(host, port + i) for i in range(count)):
            return port
    raise OrchbenchError(f"No {count} free consecutive ports found on {host}.",
                         "Stop some servers, or pass --port.")


def _bindable(host: str, port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind((host, port))
            return True
        except OSError:
            return False


def port_holder(port: int) -> str | None:
    with contextlib.suppress(psutil.Error):
        for conn in psutil.net_connections(kind="inet"):
            if conn.laddr and conn.laddr.port == port and conn.status == psutil.CONN_LISTEN:
                if conn.pid is None:
                    return "another process"
                proc = psutil.Process(conn.pid)
                return f"pid {conn.pid} ({' '.join(proc.cmdline())[:80]})"
    return None


def lock_path(home: Path, name: str) -> Path:
    return home / "orchestrators" / name / "ui.json"


def running_stack(home: Path, name: str) -> StackSettings | None:
    """The settings of the `name` stack serving this home, if one is up: the
    workshop's scenario commands then trigger runs through its API, live."""
    lock = lock_path(home, name)
    try:
        held = json.loads(lock.read_text())
    except (OSError, ValueError):
        return None
    if not psutil.pid_exists(int(held.get("pid", 0))):
        return None
    return StackSettings(home=home, config=Path(held["config"]), port=int(held["port"]),
                         host=held.get("host", "127.0.0.1"),
                         variant=held.get("variant", "default"),
                         backend=held.get("backend", "sqlite"))


def _take_lock(lock: Path, name: str, s: StackSettings) -> None:
    """One stack of a kind per home: a second would share (and corrupt) its state."""
    lock.parent.mkdir(parents=True, exist_ok=True)
    held = running_stack(s.home, name)
    if held is not None:
        raise OrchbenchError(
            f"A {name} UI is already running from this home, on port {held.port} ({lock}).",
            f"Use that one (http://{held.host}:{held.port}), stop it with Ctrl-C, or give "
            "another --home.")
    lock.write_text(json.dumps({"pid": os.getpid(), "port": s.port, "host": s.host,
                                "config": str(s.config), "variant": s.variant,
                                "backend": s.backend}) + "\n")


def _mentions(proc: psutil.Process, text: str) -> bool:
    with contextlib.suppress(psutil.Error):
        return any(text in part for part in proc.cmdline())
    return False


def _quietly(func: Callable[..., Any], *args: Any) -> Any:
    """Call func; a connection error or a 5xx while a server starts means "not yet"."""
    try:
        return func(*args)
    except (OSError, urllib.error.URLError, ValueError, KeyError):
        return None


def http_json(method: str, url: str, body: Any = None, *, headers: dict[str, str] | None = None,
              timeout_s: float = 10) -> Any:
    """A JSON request with the standard library (no orchestrator client is imported).
    Raises urllib.error.HTTPError with the server's message on 4xx/5xx."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers={
        "Content-Type": "application/json", "Accept": "application/json", **(headers or {})})
    with urllib.request.urlopen(request, timeout=timeout_s) as response:
        raw = response.read()
    return json.loads(raw) if raw else None


def accepts(host: str, port: int, timeout_s: float = 1) -> bool:
    """True once something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


def answers(url: str, timeout_s: float = 2) -> bool:
    """True if a GET of url returns a 2xx/3xx."""
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            return 200 <= response.status < 400
    except (OSError, urllib.error.URLError):
        return False


@contextlib.contextmanager
def started(stack: Stack, s: StackSettings, log: Log = print,
            timeout_s: float = 300) -> Iterator[RunningStack]:
    """Start, wait until it answers, yield, and always stop."""
    running = stack.start(s, log)
    try:
        running.wait_ready(timeout_s, log)
        yield running
    finally:
        running.stop()
