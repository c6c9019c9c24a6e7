"""`orchbench ui NAME` as a user starts it, for the tests that need a live UI.

The command runs in a subprocess on a free port with its own home; the caller
gets the address once it printed "ready", and `stop()` sends Ctrl-C (SIGINT) and
checks what a user relies on: exit 0, every process the UI started gone, and
nothing listening on its ports any more.
"""

from __future__ import annotations

import contextlib
import re
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from infra.envs import ENVS, ROOT
from infra.stacks.base import SPAN, free_ports

ORCHBENCH = str(ENVS["base"].path / "bin" / "orchbench")


@dataclass
class LiveUI:
    name: str
    home: Path
    port: int
    proc: subprocess.Popen[str]
    url: str = ""
    lines: list[str] = field(default_factory=list)
    seen: dict[int, psutil.Process] = field(default_factory=dict)

    def remember(self) -> list[int]:
        """Every process under the command, and the ports they listen on."""
        with contextlib.suppress(psutil.Error):
            for p in psutil.Process(self.proc.pid).children(recursive=True):
                self.seen.setdefault(p.pid, p)
        pids = set(self.seen)
        return sorted({c.laddr.port for c in psutil.net_connections(kind="inet")
                       if c.status == psutil.CONN_LISTEN and c.pid in pids and c.laddr})

    def stop(self) -> tuple[int, list[int]]:
        """Ctrl-C; returns (exit code, ports still listening among the UI's)."""
        ports = self.remember()
        self.proc.send_signal(signal.SIGINT)
        code = self.proc.wait(timeout=120)
        alive = [p for p in self.seen.values() if p.is_running() and
                 p.status() != psutil.STATUS_ZOMBIE]
        assert not alive, f"still running after Ctrl-C: {[p.pid for p in alive]}"
        listening = {c.laddr.port for c in psutil.net_connections(kind="inet")
                     if c.status == psutil.CONN_LISTEN and c.laddr}
        return code, sorted(set(ports) & listening)


def start(name: str, home: Path, timeout_s: float = 900, backend: str = "sqlite") -> LiveUI:
    port = free_ports(SPAN)
    proc = subprocess.Popen([ORCHBENCH, "ui", name, "--port", str(port), "--home", str(home),
                             "--days", "1", "--backend", backend], cwd=ROOT,
                            stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    ui = LiveUI(name, home, port, proc)
    ready = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            ui.lines.append(line.rstrip())
            found = re.search(r"is ready after .* at (http://\S+)", line)
            if found:
                ui.url = found.group(1)
                ready.set()

    threading.Thread(target=read, daemon=True).start()
    deadline = time.monotonic() + timeout_s
    while not ready.wait(1):
        ui.remember()
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"`orchbench ui {name}` never got ready:\n"
                                 + "\n".join(ui.lines[-30:]))
    ui.remember()
    return ui
