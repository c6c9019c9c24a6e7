"""Programs orchbench needs from Debian's packages, installed when we may.

No container registry and no browser download are reachable on these machines,
but Debian's package archive is: mmdebstrap (the offline base image) and
chromium (the browser tests) come from there. As root, a missing one is
installed with apt-get; otherwise the user is told the exact command.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
from collections.abc import Callable

from core.errors import OrchbenchError

Log = Callable[[str], None]
LOCK_WAIT_S = 600  # for another apt-get to release dpkg's lock (apt.conf(5), apt ≥ 1.9.11)
TURNS = "/var/lock/orchbench-apt.lock"  # our installs, one at a time


def ensure_command(command: str, package: str, why: str, log: Log = print, *,
                   find: Callable[[], str | None] | None = None) -> str:
    """The path of `command`, after `apt-get install -y package` if it was missing.
    `find` looks for it where PATH does not (Debian keeps PostgreSQL's server programs
    in /usr/lib/postgresql/<version>/bin); by default `shutil.which(command)`."""
    find = find or (lambda: shutil.which(command))
    found = find()
    if found:
        return found
    install = f"apt-get update && apt-get install -y {package}"
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise OrchbenchError(f"{command} is not installed, and {why}.",
                             f"Install it as root: `sudo {install}`, then retry.")
    log(f"{command} is missing: running `{install}`")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    # Two installs at once (the test suite's two workers: chromium on one, redis-server on
    # the other) meet at apt's locks: ours take turns (a file lock), and apt waits for any
    # other holder of dpkg's lock rather than failing at once.
    wait = ["-o", f"DPkg::Lock::Timeout={LOCK_WAIT_S}"]
    with open(TURNS, "w") as turns:
        fcntl.flock(turns, fcntl.LOCK_EX)
        if find():  # installed by whoever held the turn before us
            return str(find())
        for step in (["apt-get", *wait, "update"], ["apt-get", *wait, "install", "-y", package]):
            done = subprocess.run(step, env=env, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
                raise OrchbenchError(f"`{' '.join(step)}` failed:\n{tail}",
                                     f"Check the connection to Debian's archive, or run "
                                     f"`{install}` yourself.")
    found = find()
    if not found:
        raise OrchbenchError(f"{package} was installed but {command} is still not on PATH.",
                             f"Check `dpkg -L {package}`.")
    return found
