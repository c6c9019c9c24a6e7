"""Child processes the one way orchbench needs them: started apart, stopped whole.

Drivers, stacks, probes and the failure benchmark all start Python programs of
another environment that themselves start processes (Prefect's temporary API
server, Dagster's step processes, Airflow's task supervisor, `tail -F`). So:

- ``spawn`` starts a program in its own session (so its process group id is its
  pid and a terminal's Ctrl-C does not reach it behind our back), with
  ``clean_environment()``: ours without ``VIRTUAL_ENV``, which would point the
  child at our venv instead of its own interpreter's;
- ``stop_tree`` stops a program and everything it started: SIGTERM (or another
  signal) to its process group and to every descendant (a descendant may have
  left the group, or been re-parented to pid 1 once its parent died: we collect
  the tree first), a bounded grace, then SIGKILL to whatever is left;
- ``survivors`` says what of a recorded set still runs, in short names;
- ``pss_bytes``, ``listening_ports`` and ``memory_rows`` measure a set of processes
  (a UI stack's, an MLflow server's) the same way for every benchmark figure.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import psutil

# After SIGKILL the kernel needs a moment to tear a process down; bounded anyway.
_KILL_WAIT_S = 5.0


def clean_environment(extra: Mapping[str, str] | None = None, *,
                      drop: Iterable[str] = ()) -> dict[str, str]:
    """The caller's environment, minus anything that would point a child at our venv,
    with unbuffered Python output (the parent reads it live)."""
    env = dict(os.environ)
    for key in ("VIRTUAL_ENV", *drop):
        env.pop(key, None)
    env["PYTHONUNBUFFERED"] = "1"
    if extra:
        env.update(extra)
    return env


def spawn(argv: Sequence[str], *, env: Mapping[str, str] | None = None,
          **popen: Any) -> subprocess.Popen[Any]:
    """Start argv in a new session (its own process group, no controlling terminal),
    with ``clean_environment()`` unless ``env`` is given. Other Popen arguments
    (cwd, stdout, text, …) pass through."""
    return subprocess.Popen(list(argv), env=dict(env) if env is not None else clean_environment(),
                            start_new_session=True, **popen)


def tree(pid: int) -> list[psutil.Process]:
    """The process and all its live descendants (empty if it is gone)."""
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.Error:
        return []


def group(pgid: int) -> list[psutil.Process]:
    """Every live process of a process group, orphans included."""
    members = []
    for proc in psutil.process_iter():
        with contextlib.suppress(psutil.Error, ProcessLookupError, PermissionError):
            if os.getpgid(proc.pid) == pgid:
                members.append(proc)
    return members


def stop_tree(root: int | subprocess.Popen[Any], *, grace_s: float = 5.0,
              sig: int = signal.SIGTERM, also: Iterable[psutil.Process] = ()) -> list[str]:
    """Stop a process, its process group and all their descendants; what survived.

    ``root`` is a pid that leads its own group (as ``spawn`` makes it) or its Popen,
    which is then reaped. ``sig`` goes to the group and to every process of the tree
    (``also`` adds processes recorded earlier, e.g. children that have since been
    re-parented); those still alive after ``grace_s`` get SIGKILL. Safe to call after
    the process exited, and more than once. Returns ``survivors`` (normally empty).
    """
    popen = root if isinstance(root, subprocess.Popen) else None
    pid = popen.pid if popen is not None else int(root)
    doomed: dict[int, psutil.Process] = {}
    for proc in [*tree(pid), *group(pid), *also]:
        doomed.setdefault(proc.pid, proc)
        # Children of an orphan (re-parented to pid 1) are found only through it.
        with contextlib.suppress(psutil.Error):
            for child in proc.children(recursive=True):
                doomed.setdefault(child.pid, child)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)
    for proc in doomed.values():
        with contextlib.suppress(psutil.Error):
            proc.send_signal(sig)
    procs = list(doomed.values())
    _, alive = psutil.wait_procs(procs, timeout=grace_s) if grace_s > 0 else ([], procs)
    # Whatever joined the group or was started during the grace goes too.
    for proc in [*alive, *group(pid)]:
        with contextlib.suppress(psutil.Error):
            proc.kill()
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
    psutil.wait_procs(alive, timeout=_KILL_WAIT_S)
    if popen is not None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            popen.wait(timeout=_KILL_WAIT_S)
    return survivors(procs)


def signal_group(pgid: int, sig: int) -> bool:
    """Send sig to a process group; False if the group is gone."""
    try:
        os.killpg(pgid, sig)
        return True
    except (ProcessLookupError, PermissionError):
        return False


def survivors(procs: Iterable[psutil.Process]) -> list[str]:
    """Short names of the processes that still run (zombies count as ended)."""
    names = []
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            if proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE:
                names.append(describe(proc.cmdline()))
    return names


def pss_bytes(procs: Iterable[psutil.Process]) -> int:
    """Memory of a set of processes, in bytes: the proportional set size summed (RSS
    where the kernel gives no PSS). PSS, because Airflow's LocalExecutor and uvicorn
    fork their workers, and a sum of RSS counts their shared copy-on-write pages once
    per worker."""
    total = 0
    for p in procs:
        with contextlib.suppress(psutil.Error):
            info = p.memory_full_info()
            total += getattr(info, "pss", info.rss)
    return total


def memory_rows(procs: Iterable[psutil.Process]) -> list[dict[str, Any]]:
    """One row per live process: pid, name, command (shortened), PSS in MB (`rss_mb`,
    the key's first name)."""
    rows = []
    for p in procs:
        with contextlib.suppress(psutil.Error):
            info = p.memory_full_info()
            rows.append({"pid": p.pid, "name": p.name(), "cmd": " ".join(p.cmdline())[:160],
                         "rss_mb": round(getattr(info, "pss", info.rss) / 2**20, 1)})
    return rows


def listening_ports(procs: Iterable[psutil.Process]) -> list[int]:
    """The TCP ports a set of processes listens on, sorted."""
    pids = {p.pid for p in procs}
    return sorted({c.laddr.port for c in psutil.net_connections(kind="inet")
                   if c.status == psutil.CONN_LISTEN and c.pid in pids and c.laddr})


def find_descendant(pid: int, argument: str) -> psutil.Process | None:
    """The first descendant of pid whose command line has ``argument`` as one word."""
    for child in tree(pid)[1:]:
        with contextlib.suppress(psutil.Error):
            if argument in child.cmdline():
                return child
    return None


def describe(cmdline: list[str]) -> str:
    """A short name for a process: `-m module`, a script's name, or the program."""
    if "-m" in cmdline[:-1]:
        return cmdline[cmdline.index("-m") + 1]
    script = next((Path(a).name for a in cmdline[1:2] if not a.startswith("-")), "")
    return " ".join(a for a in (Path(cmdline[0]).name if cmdline else "?", script) if a)
