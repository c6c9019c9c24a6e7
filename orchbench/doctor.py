"""`orchbench doctor`: what is installed and working, each with its version."""

from __future__ import annotations

import platform
import shutil
import subprocess
from collections.abc import Callable

from core.errors import OrchbenchError
from core.images import IMAGE_NAMES, image_tag
from infra.envs import ENVS, version


def doctor(out: Callable[[str], None] = print) -> int:
    problems = 0

    def row(ok: bool, what: str, detail: str) -> None:
        nonlocal problems
        problems += not ok
        out(f"{'ok ' if ok else 'FAIL'}  {what:22} {detail}")

    row(True, "python", platform.python_version())
    uv = shutil.which("uv")
    uv_version = subprocess.run([uv, "--version"], capture_output=True, text=True,
                                check=False).stdout.strip() if uv else ""
    row(bool(uv), "uv", uv_version or "not found: python3 -m pip install uv")

    docker_ok = False
    try:
        from core.runner import docker_client

        client = docker_client()
        info = client.version()
        row(True, "docker engine", f"{info.get('Version')} (API {info.get('ApiVersion')})")
        docker_ok = True
    except OrchbenchError as exc:
        row(False, "docker engine", exc.problem)

    if docker_ok:
        present = {tag for image in client.images.list() for tag in image.tags}
        for name in IMAGE_NAMES:
            tag = image_tag(name)
            row(tag in present, f"image {name}",
                tag if tag in present else f"{tag} missing: run `orchbench images build`")
        client.close()

    for name, env in ENVS.items():
        found = version(env)
        row(found is not None, f"env {name}",
            f"{env.package} {found} ({env.path})" if found else
            f"missing at {env.path}: run `orchbench setup --env {name}`")
    # Optional: the production layouts (`--backend postgres|celery`) install them on
    # first use, so their absence is no problem.
    for what, program, package in (("postgresql", "postgres", "postgresql"),
                                   ("redis", "redis-server", "redis-server")):
        found = optional_program(program)
        out(f"{'ok ' if found else '-- '}  {what:22} "
            + (found if found else f"not installed: the production layouts install it "
               f"(`apt-get install {package}`) on first use"))
    out("" if problems == 0 else f"\n{problems} problem(s) found.")
    return 0 if problems == 0 else 1



def optional_program(program: str) -> str | None:
    """`program --version`'s first line, or None where it is not installed."""
    from infra.services import find_program

    found = find_program(program)
    if not found:
        return None
    done = subprocess.run([found, "--version"], capture_output=True, text=True,
                          check=False, timeout=10)
    return (done.stdout.strip().splitlines() or [found])[0]
