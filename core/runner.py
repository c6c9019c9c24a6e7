"""Run one workload container the way every orchestrator wrapper needs it run.

The published Docker integrations each miss something users hit (an unchecked exit
code, containers kept or never removed), so all three wrappers call this instead and
get identical behaviour: labelled containers, no network unless asked, live log
lines, a timeout that really stops the container, an error that carries the log
tail, and removal no matter how the call ends.

It talks to the Engine API through the Docker SDK's low-level client and keeps to
the calls ``docker run --rm`` itself makes (create, start, output, wait, remove)
plus one short read of the log's end after exit, because Docker's follow mode can
drop the last line (see ``_LogReader``). The SDK's ``containers.run`` and its
``logs`` helper would each add an inspect round trip, a measurable share of a short
step.

``docker`` is imported lazily: ``core`` must import fast inside DAG parsing and
per-task subprocesses.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import struct
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.docker_client import docker_client, unavailable
from core.errors import (
    ConfigError,
    ContainerFailed,
    ContainerTimeout,
    ImageMissing,
)
from core.registry import DEFAULT_TIMEOUT_S

if TYPE_CHECKING:
    import docker

LABEL_RUN_ID = "orchbench.run_id"
# A test session (or a benchmark) sets ORCHBENCH_SESSION so that its clean-up
# check can tell its own containers from those of a demo running beside it.
LABEL_SESSION = "orchbench.session"
LABEL_STEP = "orchbench.step"

DEFAULT_TAIL_LINES = 40

# How long to wait for the log stream to drain after the container has exited.
# The daemon ends a follow stream as soon as the container stops, so this bounds
# only a misbehaving daemon; it is not a sleep.
_LOG_DRAIN_TIMEOUT_S = 30.0

# Longest the caller's thread blocks at once while a container runs: bounds how late
# a Ctrl-C is noticed (see _Waiter).
_INTERRUPT_SLICE_S = 0.5

_FRAME_HEADER = struct.Struct(">BxxxL")


# ---------------------------------------------------------------------- cancelling


class Interrupted(KeyboardInterrupt):
    """A stop request (SIGINT or SIGTERM) unwinding the process like Ctrl-C does.

    A KeyboardInterrupt, so every ``finally`` (this runner's container removal above
    all) and every orchestrator's own Ctrl-C handling runs; ``signum`` says which
    signal it was, for the exit code (128 + signum) and the message.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


# Set by cancel(): every run_container of this process, in whichever thread it
# waits (Prefect can run a task on a worker thread, where no signal handler runs),
# stops its container, removes it and raises Interrupted; none starts after it.
_CANCELLED = threading.Event()
_cancel_signal = [0]
# True in a process that called unwind_on_signals (the CLI, a driver): there a step
# interrupted by anything that is not an Exception (KeyboardInterrupt, SystemExit,
# Dagster's DagsterExecutionInterruptedError, Prefect's TerminationSignal) means
# the process is being stopped, so the orchestrator's retry must not start another
# container. Elsewhere (a test calling run_container) an interrupt stays local.
_UNWINDING = [False]


def cancel(signum: int = signal.SIGINT) -> None:
    """Make every container step of this process stop and remove its container."""
    _cancel_signal[0] = _cancel_signal[0] or signum
    _CANCELLED.set()


def cancelled() -> int:
    """The signal that cancelled this process's work, or 0."""
    return _cancel_signal[0] if _CANCELLED.is_set() else 0


def unwind_on_signals(signals: Sequence[int] = (signal.SIGTERM, signal.SIGINT)
                      ) -> Callable[[], None]:
    """Turn SIGTERM and SIGINT (by default) into the unwinding of Ctrl-C, in this process.

    The first signal cancels every container step (any thread) and raises
    ``Interrupted`` in the main thread; a later one only re-cancels, so clean-up in
    progress is not cut short (whoever sent it bounds its wait and then kills).
    Call it from the main thread, early. An orchestrator may install its own handler
    for a while (Dagster maps both signals to its interrupt, Prefect SIGTERM to its
    TerminationSignal); those unwind the step too, and the runner then cancels the
    rest (see _UNWINDING). Returns a function that restores the previous handlers.
    """
    def handler(signum: int, frame: object) -> None:
        first = not _CANCELLED.is_set()
        cancel(signum)
        if first:
            raise Interrupted(signum)

    previous = {signum: signal.getsignal(signum) for signum in signals}
    for signum in signals:
        signal.signal(signum, handler)
    _UNWINDING[0] = True

    def restore() -> None:
        for signum, old in previous.items():
            signal.signal(signum, old)
        _UNWINDING[0] = False
        _CANCELLED.clear()
        _cancel_signal[0] = 0

    return restore


@dataclass(frozen=True)
class Mount:
    """A host folder bind-mounted into the container.

    Read-only by default: workload containers should write only where a step
    explicitly says so, so a buggy container cannot damage earlier lake zones.
    """

    source: Path
    target: str
    read_only: bool = True


@dataclass(frozen=True)
class ContainerSpec:
    """Everything that decides what a workload container does.

    ``network`` defaults to ``"none"``: workload containers only read and write
    mounted folders, and offline machines must behave like online ones.
    ``user`` ``None`` means "the calling user" (``uid:gid``) so files written into
    mounts stay owned and deletable by whoever runs the pipeline; pass ``""`` to
    keep the image's own ``USER``.
    """

    image: str
    command: list[str]
    env: Mapping[str, str] = field(default_factory=dict)
    mounts: Sequence[Mount] = ()
    network: str = "none"
    timeout_s: float = DEFAULT_TIMEOUT_S
    mem_limit: str | None = None
    cpus: float | None = None
    user: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ContainerResult:
    """What a successful run leaves for the caller (the container itself is gone).

    ``duration_s`` spans create to exit, the part of the step a user waits for that
    the container runtime, not the orchestrator, is responsible for.
    """

    container_id: str
    name: str
    exit_code: int
    duration_s: float
    log_tail: list[str]


# --------------------------------------------------------------------------- client


# docker_client (imported above) is made in core.docker_client: one factory and one
# wording of "no daemon" for the runner, the images, the benchmarks and `doctor`.


# ---------------------------------------------------------------------------- logs


class _LineSplitter:
    """Turn multiplexed log frames into whole lines.

    Docker's json-file driver splits lines longer than 16 KiB into several frames and
    stdout and stderr interleave freely, so each stream keeps its own partial-line
    buffer; decoding happens per line so a UTF-8 character split between frames
    survives.
    """

    def __init__(self, emit: Callable[[str], None]) -> None:
        self._emit = emit
        self._partial: dict[int, bytearray] = {}

    def feed(self, stream: int, payload: bytes) -> None:
        buf = self._partial.setdefault(stream, bytearray())
        if b"\n" not in payload:
            buf += payload
            return
        parts = payload.split(b"\n")
        parts[0] = bytes(buf) + parts[0]
        buf[:] = parts.pop()
        for part in parts:
            self._emit(_decode(part))

    def flush(self) -> None:
        """Emit what a stream printed without a final newline."""
        for buf in self._partial.values():
            if buf:
                self._emit(_decode(bytes(buf)))
                buf.clear()


def _decode(line: bytes) -> str:
    return line.decode("utf-8", errors="replace").rstrip("\r")


def _read_exactly(raw: Any, n: int) -> bytes:
    data = raw.read(n)
    while data and len(data) < n:
        more = raw.read(n - len(data))
        if not more:
            break
        data += more
    return data or b""


def _frames(raw: Any) -> Iterator[tuple[int, bytes]]:
    """Yield (stream, payload) from Docker's multiplexed stream format (non-TTY)."""
    while True:
        header = _read_exactly(raw, _FRAME_HEADER.size)
        if not header:
            return
        if len(header) < _FRAME_HEADER.size:
            raise EOFError("log stream ended inside a frame header")
        stream, size = _FRAME_HEADER.unpack(header)
        payload = _read_exactly(raw, size) if size else b""
        if len(payload) < size:
            raise EOFError("log stream ended inside a frame")
        yield stream, payload


def _ts_key(stamp: bytes) -> str:
    """A fixed-width, sortable key for an RFC 3339 UTC timestamp from the logs API.

    Docker prints nine fraction digits today; padding keeps string comparison equal
    to time comparison should a daemon ever trim trailing zeros.
    """
    text = stamp.decode("ascii", errors="replace").rstrip("Z")
    whole, _, fraction = text.partition(".")
    return f"{whole}.{fraction.ljust(9, '0')[:9]}"


def _since_param(key: str) -> str:
    """The logs API's ``since`` (Unix seconds with nanoseconds) for a ``_ts_key``."""
    from datetime import datetime

    whole, _, fraction = key.partition(".")
    seconds = int(datetime.fromisoformat(f"{whole}+00:00").timestamp())
    return f"{seconds}.{fraction}"


class _LogReader(threading.Thread):
    """Follow a container's output on a thread while the caller waits for it to exit.

    The live stream alone is not enough: Docker's follow mode drops a final line
    that has no trailing newline (moby/moby#43860; it is logged only as the container
    stops), and a broken stream would lose the rest. So once the container has
    exited, ``finish`` reads the log file again from the newest timestamp seen and
    skips exactly the entries already delivered (the logs API's ``since`` is
    inclusive, so it returns those first). That catch-up costs one round trip and
    transfers only the end of the log.

    Calls the logs endpoint directly: the SDK's ``logs()`` helper first inspects the
    container to learn whether it has a TTY, and ours never has one.
    """

    def __init__(
        self,
        api: docker.APIClient,
        container_id: str,
        on_log: Callable[[str], None] | None,
        tail_lines: int,
    ) -> None:
        super().__init__(name=f"orchbench-logs-{container_id[:12]}", daemon=True)
        self._api = api
        self._container_id = container_id
        self._on_log = on_log
        self.tail: deque[str] = deque(maxlen=tail_lines)
        self._splitter = _LineSplitter(self._emit)
        self._newest = ""  # _ts_key of the newest entry delivered
        self._at_newest = 0  # how many delivered entries carry exactly that timestamp
        self.stream_error: BaseException | None = None
        self.callback_error: BaseException | None = None

    def _emit(self, line: str) -> None:
        self.tail.append(line)
        if self._on_log is None or self.callback_error is not None:
            return
        try:
            self._on_log(line)
        except BaseException as exc:  # a caller's bug must not stop draining the stream
            self.callback_error = exc

    def run(self) -> None:
        try:
            self._read(follow=True)
        except BaseException as exc:  # reported to the waiting thread, never lost
            self.stream_error = exc

    def _read(self, *, follow: bool, since: str | None = None, skip: int = 0) -> None:
        url = f"{self._api.base_url}/v{self._api.api_version}/containers/{self._container_id}/logs"
        params = {"stdout": 1, "stderr": 1, "follow": int(follow), "timestamps": 1}
        if since is not None:
            params["since"] = since
        # timeout=None: a container quiet for a while must not break the stream at the
        # client's default socket timeout.
        response = self._api.get(url, params=params, stream=True, timeout=None)
        try:
            response.raise_for_status()
            for stream, payload in _frames(response.raw):
                if skip:
                    skip -= 1
                    continue
                stamp, _, data = payload.partition(b" ")
                key = _ts_key(stamp)
                if key > self._newest:
                    self._newest, self._at_newest = key, 1
                elif key == self._newest:
                    self._at_newest += 1
                self._splitter.feed(stream, data)
        finally:
            response.close()

    def finish(self, *, catch_up: bool) -> None:
        """Wait until every line is delivered.

        ``catch_up`` only once the container has stopped (and still exists): then its
        log file is complete.
        """
        self.join(_LOG_DRAIN_TIMEOUT_S)
        if self.is_alive():
            self.stream_error = TimeoutError("log stream did not end after the container exited")
            return
        if catch_up:
            since = _since_param(self._newest) if self._newest else None
            try:
                self._read(follow=False, since=since, skip=self._at_newest)
                self.stream_error = None
            except Exception as exc:
                self.stream_error = self.stream_error or exc
        self._splitter.flush()


class _Waiter(threading.Thread):
    """Wait for the container's exit on a thread, so the caller's thread only ever
    blocks in short slices.

    A signal that lands just before a blocking socket read stays pending until the
    read returns (CPython checks for signals between bytecodes, and the read is one
    long C call): Ctrl-C during a step could go unnoticed for the whole timeout. A
    ``join`` with a short timeout returns to Python often enough to see it, and
    finishes the moment the thread does, so the normal path pays nothing. The
    deadline is kept here too, with no socket timeout to interpret.
    """

    def __init__(self, api: docker.APIClient, container_id: str) -> None:
        super().__init__(name=f"orchbench-wait-{container_id[:12]}", daemon=True)
        self._api = api
        self._container_id = container_id
        self._status: dict[str, Any] | None = None
        self._error: BaseException | None = None

    def run(self) -> None:
        try:
            self._status = self._api.wait(self._container_id, timeout=None)
        except BaseException as exc:  # handed to the caller's thread by result()
            self._error = exc

    def wait_until(self, deadline: float) -> bool:
        """True once the container has exited (or the wait failed), False at the deadline."""
        while self.is_alive():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self.join(min(remaining, _INTERRUPT_SLICE_S))
            if _CANCELLED.is_set():
                raise Interrupted(_cancel_signal[0] or signal.SIGINT)
        return True

    def result(self) -> dict[str, Any]:
        if self._error is not None:
            raise self._error
        assert self._status is not None
        return self._status


# -------------------------------------------------------------------------- runner


def _container_name(run_id: str, step: str) -> str:
    """A readable, unique name, chosen by us so an interrupted create can still be
    found and removed even before the daemon has told us the container's id."""
    base = re.sub(r"[^a-zA-Z0-9_.-]+", "-", f"orchbench-{run_id}-{step}")[:50].rstrip("-.")
    return f"{base}-{os.urandom(4).hex()}"


def _mounts(mounts: Sequence[Mount]) -> list[docker.types.Mount]:
    """Bind mounts in the API's structured form, which (unlike ``-v`` strings) takes
    any path and allows one folder at several targets."""
    import docker

    result = []
    for mount in mounts:
        source = Path(mount.source).expanduser().resolve()
        if not source.exists():
            raise ConfigError(
                f"Mount source {source} does not exist.",
                "Create it first, or fix the path in the step's mounts.",
            )
        if not mount.target.startswith("/"):
            raise ConfigError(
                f"Mount target {mount.target!r} is not an absolute path.",
                "Use an absolute path inside the container, e.g. /data/raw.",
            )
        result.append(
            docker.types.Mount(mount.target, str(source), type="bind", read_only=mount.read_only)
        )
    return result


def run_container(
    spec: ContainerSpec,
    *,
    run_id: str,
    step: str,
    on_log: Callable[[str], None] | None = None,
    client: docker.DockerClient | None = None,
    tail_lines: int = DEFAULT_TAIL_LINES,
) -> ContainerResult:
    """Run ``spec`` to completion and remove its container, whatever happens.

    ``on_log`` receives each output line (stdout and stderr) as it is printed, on a
    reader thread; wrappers pass their orchestrator's logger. Every line has been
    delivered before this returns or raises. Pass ``client`` from a long-lived worker
    to avoid a client (and a version round trip) per call.

    Raises ``ContainerFailed`` (non-zero exit), ``ContainerTimeout``, ``ImageMissing``
    (never pulls: these machines reach no registry), ``DockerUnavailable`` and
    ``ConfigError`` (a spec Docker refuses). If ``on_log`` raised, its first
    exception is re-raised after a successful run, since a silently broken logger
    would hide every later step's output.
    """
    import docker
    import requests

    if _CANCELLED.is_set():  # a retry or a later step after a stop request: start nothing
        raise Interrupted(_cancel_signal[0] or signal.SIGINT)
    own_client = client is None
    if client is None:
        client = docker_client()
    api = client.api
    name = _container_name(run_id, step)
    user = spec.user if spec.user is not None else f"{os.getuid()}:{os.getgid()}"
    labels = {**spec.labels, LABEL_RUN_ID: run_id, LABEL_STEP: step}
    if os.environ.get("ORCHBENCH_SESSION"):
        labels[LABEL_SESSION] = os.environ["ORCHBENCH_SESSION"]

    container_id: str | None = None
    threads: list[threading.Thread] = []
    pending: BaseException | None = None
    t0 = time.monotonic()
    try:
        host_config = api.create_host_config(
            mounts=_mounts(spec.mounts),
            network_mode=spec.network,
            mem_limit=spec.mem_limit,
            nano_cpus=int(spec.cpus * 1e9) if spec.cpus else None,
        )
        try:
            container_id = api.create_container(
                spec.image,
                command=list(spec.command),
                environment=dict(spec.env),
                labels=labels,
                name=name,
                user=user or None,
                detach=True,
                host_config=host_config,
            )["Id"]
        except docker.errors.ImageNotFound as exc:
            raise ImageMissing(
                f"Image {spec.image} is not present locally (step {step}).",
                "Run `orchbench images build` to build it; nothing is ever pulled.",
            ) from exc
        except docker.errors.APIError as exc:
            raise ConfigError(
                f"Docker refused to create the container for step {step}: "
                f"{exc.explanation or exc}.",
                "Check the step's image, mounts, network and resource limits.",
            ) from exc

        try:
            api.start(container_id)
        except docker.errors.APIError as exc:
            # Same codes a shell (and `docker run`) gives: 127 not found, 126 not runnable.
            text = str(exc.explanation or exc)
            code = 127 if "not found" in text or "no such file" in text else 126
            raise ContainerFailed(
                spec.image,
                list(spec.command),
                code,
                [f"[orchbench] Docker could not start the container: {text}"],
            ) from exc
        deadline = time.monotonic() + spec.timeout_s
        reader = _LogReader(api, container_id, on_log, tail_lines)
        waiter = _Waiter(api, container_id)
        threads += [reader, waiter]
        reader.start()
        waiter.start()

        if not waiter.wait_until(deadline):
            _kill(api, container_id)
            # Its log file is complete only once it has stopped; SIGKILL makes that quick.
            stopped = waiter.wait_until(time.monotonic() + _LOG_DRAIN_TIMEOUT_S)
            reader.finish(catch_up=stopped)
            raise ContainerTimeout(
                spec.image, list(spec.command), spec.timeout_s, list(reader.tail)
            )
        status = waiter.result()
        duration = time.monotonic() - t0
        exit_code = int(status.get("StatusCode", -1))
        reader.finish(catch_up=True)
        tail = list(reader.tail)
        if reader.stream_error is not None:
            tail.append(f"[orchbench] log stream interrupted: {reader.stream_error}")
        if exit_code != 0:
            if exit_code == 137 and spec.mem_limit and _oom_killed(api, container_id):
                tail.append(f"[orchbench] killed: out of memory (mem_limit={spec.mem_limit})")
            raise ContainerFailed(spec.image, list(spec.command), exit_code, tail)
        if reader.callback_error is not None:
            raise reader.callback_error
        return ContainerResult(container_id, name, exit_code, duration, tail)
    except requests.exceptions.ConnectionError as exc:
        pending = unavailable(exc)
        raise pending from exc
    except BaseException as exc:
        pending = exc
        if _UNWINDING[0] and not isinstance(exc, Exception | GeneratorExit):
            cancel(_cancel_signal[0] or signal.SIGINT)
        raise
    finally:
        _cleanup(api, container_id or name, threads, pending)
        if own_client:
            client.close()


def _kill(api: docker.APIClient, container_id: str) -> None:
    import docker

    # APIError: it exited (or is being removed) between the timeout and the kill.
    with contextlib.suppress(docker.errors.APIError):
        api.kill(container_id)


def _oom_killed(api: docker.APIClient, container_id: str) -> bool:
    """Only asked on failure: an inspect on every run would cost a round trip."""
    try:
        return bool(api.inspect_container(container_id)["State"].get("OOMKilled"))
    except Exception:
        return False


def _cleanup(
    api: docker.APIClient,
    container: str,
    threads: list[threading.Thread],
    pending: BaseException | None,
) -> None:
    """Remove the container and let our threads end.

    Removal failing must not hide the error that got us here, but on the success
    path it must not pass silently either: a leaked container is what this runner
    exists to prevent.
    """
    import docker
    import requests

    try:
        try:
            api.remove_container(container, v=True, force=True)
        except (KeyboardInterrupt, SystemExit):
            # A second Ctrl-C (or a stop request) while cleaning up: still remove it.
            api.remove_container(container, v=True, force=True)
            raise
    except docker.errors.NotFound:
        pass
    except docker.errors.APIError as exc:
        if "already in progress" not in str(exc):
            _report_cleanup_failure(container, exc, pending)
    except requests.exceptions.ConnectionError as exc:
        _report_cleanup_failure(container, exc, pending)
    for thread in threads:
        if thread.is_alive():
            # Only on an error path: removal has ended its request, so this is quick.
            thread.join(_LOG_DRAIN_TIMEOUT_S)


def _report_cleanup_failure(container: str, exc: Exception, pending: BaseException | None) -> None:
    import requests

    note = f"orchbench could not remove container {container}: {exc}"
    if pending is not None:
        pending.add_note(f"{note}; remove it with `docker rm -f {container}`")
        return
    if isinstance(exc, requests.exceptions.ConnectionError):
        raise unavailable(exc) from exc
    raise exc


def sweep(run_id: str | None = None, *, session: str | None = None,
          client: docker.DockerClient | None = None) -> int:
    """Force-remove orchbench containers (of one run, one session, or all); how many.

    For crash recovery (a worker killed mid-step leaves its container running) and
    for tests proving that nothing was left behind.
    """
    import docker

    own_client = client is None
    if client is None:
        client = docker_client()
    labels = [LABEL_RUN_ID if run_id is None else f"{LABEL_RUN_ID}={run_id}"]
    if session is not None:
        labels.append(f"{LABEL_SESSION}={session}")
    removed = 0
    try:
        for entry in client.api.containers(all=True, quiet=True, filters={"label": labels}):
            try:
                client.api.remove_container(entry["Id"], v=True, force=True)
                removed += 1
            except docker.errors.NotFound:
                pass  # removed concurrently, e.g. by its own runner's finally
    finally:
        if own_client:
            client.close()
    return removed
