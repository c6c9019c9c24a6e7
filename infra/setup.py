"""`orchbench setup`: every environment and image, idempotent and quick when done."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from infra.envs import ENVS, sync


def setup(envs: Sequence[str] | None = None, images: bool = True, browser: bool = False,
          log: Callable[[str], None] = print) -> None:
    names = list(envs or ENVS)
    for i, name in enumerate(names, 1):
        env = ENVS[name]
        log(f"[{i}/{len(names)}] environment {name} ({env.path.name}) …")
        seconds = sync(env, log)
        log(f"[{i}/{len(names)}] environment {name} ready in {seconds:.1f} s")
    if images:
        ensure_images(log)
    if browser:
        ensure_browser(log)


def ensure_browser(log: Callable[[str], None] = print) -> str:
    """Debian's chromium, for the browser tests: no test tool may download a browser."""
    from infra.debian import ensure_command

    return ensure_command("chromium", "chromium", "the browser tests drive it", log)


def ensure_images(log: Callable[[str], None] = print) -> None:
    """Build the workload images whose content tag is missing (a no-op when up to date)."""
    from infra.images import build_images

    build_images(progress=lambda line: log(f"  {line}"))
