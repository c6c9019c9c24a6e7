"""The one way orchbench makes a Docker client, and the one wording of "no daemon".

The runner (core), image builds, the benchmarks and `doctor` all need a client;
they all get it here, so a stopped daemon, a wrong DOCKER_HOST or a socket the
user may not open reads the same everywhere: "Cannot reach the Docker daemon at
<host> (<reason>)." followed by what to do about it.

``docker`` is imported lazily: ``core`` must import fast inside DAG parsing and
per-task subprocesses.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from core.errors import DockerUnavailable

if TYPE_CHECKING:
    import docker


def docker_host() -> str:
    return os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"


def unavailable(exc: BaseException) -> DockerUnavailable:
    """Turn a connection failure into advice, because a raw urllib3 traceback tells
    a workshop attendee nothing about what to do."""
    host = docker_host()
    reason = str(exc)
    if "Permission denied" in reason or isinstance(exc, PermissionError):
        fix = (
            f"Your user may not use the socket {host}: add it to the `docker` group "
            "(then log in again) or fix the socket's permissions."
        )
    else:
        fix = (
            "Start Docker (e.g. `sudo systemctl start docker` or Docker Desktop) and "
            "check that DOCKER_HOST points at its socket "
            f"(now {os.environ.get('DOCKER_HOST', 'unset, so the default')}); "
            "if it runs, check the permissions on the socket."
        )
    return DockerUnavailable(f"Cannot reach the Docker daemon at {host} ({reason}).", fix)


def is_unreachable(exc: BaseException) -> bool:
    """Whether an error from a Docker call means the daemon could not be reached."""
    import requests

    return isinstance(exc, requests.exceptions.ConnectionError)


def docker_client(timeout: float | None = None) -> docker.DockerClient:
    """Create a Docker client, failing with advice instead of a connection traceback.

    Creating the client already asks the daemon for its API version, so this doubles
    as the reachability check: no separate ping is needed. A long-lived worker should
    create one and pass it on. ``timeout`` (seconds) bounds each API call; the SDK's
    default is 60.
    """
    import docker
    import requests

    try:
        if timeout is None:
            return docker.from_env()
        return docker.from_env(timeout=int(timeout))
    except (docker.errors.DockerException, requests.exceptions.ConnectionError) as exc:
        raise unavailable(exc) from exc
