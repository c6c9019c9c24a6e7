"""Building the workload images with no container registry in reach.

No registry answers on these machines, so nothing may be pulled: the base image is
``python:3.11-slim`` only where it is already present, otherwise a Debian bookworm
tree made by ``mmdebstrap`` and imported. Wheels are downloaded on the host (which
reaches the package registry) into a cache, and the build itself runs with no
network, with the classic builder (the engine has no buildx).

An image is named by the content hash of its folder (``core.images.image_tag``), so
"is it built?" is one cheap lookup and a rebuild happens exactly when its inputs
changed.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.dataset import cache_dir
from core.docker_client import docker_client, unavailable
from core.errors import OrchbenchError
from core.images import IMAGE_NAMES, image_dir, image_sources, image_tag

if TYPE_CHECKING:
    import docker

Progress = Callable[[str], None]

SLIM_BASE_IMAGE = "python:3.11-slim"
LOCAL_BASE_IMAGE = "orchbench/base:bookworm"
DEBIAN_SUITE = "bookworm"  # its python3 is 3.11, matching the cp311 wheels
# A changed recipe must never reuse wheels fetched under the old one: it is part
# of the cache key.
WHEEL_RECIPE_VERSION = "1"
WHEEL_PYTHON_VERSION = "3.11"
WHEEL_ABI = "cp311"
# The Python versions an image's pip may evaluate a requirement's marker with:
# Debian bookworm's python3 (the local base), and the host's. A lock exported for
# any Python (uv export) has lines such as `async-timeout ; python_full_version <
# '3.11.3'`, which pip download would judge by the host's Python alone.
BASE_PYTHON_FULL_VERSIONS = ("3.11.2",)
# pip (23.x at least) expands only the legacy manylinux2014/2010 names to older
# tags, so every glibc level the base can run is listed: bookworm's glibc is 2.36
# (python:3.11-slim's is at least that), and numpy, scipy, scikit-learn and duckdb
# publish only manylinux_2_27/2_28 wheels for x86_64.
WHEEL_PLATFORMS: tuple[str, ...] = (
    *(f"manylinux_2_{minor}_x86_64" for minor in range(36, 16, -1)),
    "manylinux2014_x86_64",
    "manylinux2010_x86_64",
    "manylinux1_x86_64",
    "linux_x86_64",
)
SDIST_SUFFIXES = (".tar.gz", ".zip", ".tar.bz2")
BUILD_TIMEOUT_S = 1800  # the HTTP read timeout; a quiet pip install step can be long
TAIL_LINES = 30
STALE_TEMP_S = 6 * 3600


@dataclass(frozen=True)
class BuildResult:
    """One image after ``build_images``: built now, or found already built."""

    name: str
    tag: str
    base: str
    built: bool
    seconds: float


def _quiet(_line: str) -> None:
    pass


# --- Docker ---------------------------------------------------------------------


def _client() -> docker.DockerClient:
    """A connected client, or ``DockerUnavailable`` instead of a connection traceback."""
    return docker_client()


def _inspect(client: docker.DockerClient, ref: str) -> dict[str, Any] | None:
    import docker

    try:
        return client.api.inspect_image(ref)
    except docker.errors.ImageNotFound:
        return None


def _run(
    cmd: Sequence[str],
    progress: Progress,
    what: str,
    env: dict[str, str] | None = None,
    fix: str = "Read the lines above.",
) -> None:
    """Run a host command, streaming its output; on failure raise with its last lines."""
    tail: deque[str] = deque(maxlen=TAIL_LINES)
    try:
        proc = subprocess.Popen(
            list(cmd),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            env=env,
        )
    except OSError as exc:
        raise OrchbenchError(f"{what} could not start: {exc}.") from exc
    with proc:
        assert proc.stdout is not None
        for raw in proc.stdout:
            line = raw.rstrip()
            if line:
                tail.append(line)
                progress(line)
    if proc.returncode != 0:
        lines = "\n".join(tail) or "(no output)"
        raise OrchbenchError(
            f"{what} failed with exit code {proc.returncode}. Last lines:\n{lines}",
            fix,
        )


# --- base image -----------------------------------------------------------------


def _base_tarball() -> Path:
    return cache_dir() / "base" / f"{DEBIAN_SUITE}.tar"


def _ensure_mmdebstrap(progress: Progress) -> None:
    from infra.debian import ensure_command

    ensure_command("mmdebstrap", "mmdebstrap",
                   f"no {SLIM_BASE_IMAGE} image is present and none can be pulled, so a local "
                   f"base is built with it (or `docker load` a {SLIM_BASE_IMAGE} image)",
                   progress)


def _import_base(client: docker.DockerClient, tarball: Path, ref: str) -> None:
    import docker

    repository, _, tag = ref.rpartition(":")
    try:
        client.api.import_image_from_file(
            str(tarball),
            repository=repository,
            tag=tag,
            # `docker import` keeps no config: without PATH a Dockerfile's
            # `ENV PATH=/opt/venv/bin:$PATH` would drop /usr/bin.
            changes=[
                "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "ENV LANG=C.UTF-8",
                'CMD ["python3"]',
            ],
        )
    except docker.errors.APIError as exc:
        raise OrchbenchError(
            f"Importing {tarball} as {ref} failed: {exc}.",
            f"Delete {tarball} and retry, so that it is built again.",
        ) from exc


def build_base_image(tag: str = LOCAL_BASE_IMAGE, progress: Progress | None = None) -> str:
    """Build the Debian base from nothing (mmdebstrap, then import) and return ``tag``.

    The tarball stays in the cache: re-importing it after an image prune needs
    neither mmdebstrap nor the network.
    """
    progress = progress or _quiet
    _client().close()  # fail on an unreachable daemon before the slow part
    _ensure_mmdebstrap(progress)
    tarball = _base_tarball()
    tarball.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temp(tarball.parent)
    # mmdebstrap picks the output format from the name, hence the .tar suffix.
    partial = tarball.with_name(f".{tarball.stem}.{os.getpid()}.partial.tar")
    cmd = [
        "mmdebstrap",
        "--variant=minbase",
        "--include=python3,python3-venv,ca-certificates",
        "--format=tar",
        DEBIAN_SUITE,
        str(partial),
    ]
    progress(f"Building the base image {tag}: {' '.join(cmd)}")
    try:
        _run(cmd, progress, "mmdebstrap")
        os.replace(partial, tarball)
    finally:
        partial.unlink(missing_ok=True)
    with closing(_client()) as client:
        _import_base(client, tarball, tag)
    return tag


def ensure_base_image(progress: Progress | None = None) -> str:
    """The image to build from: ``python:3.11-slim`` if present, else the local base.

    Builds the local base only when it is missing, from the cached tarball if any.
    """
    progress = progress or _quiet
    with closing(_client()) as client:
        if _inspect(client, SLIM_BASE_IMAGE) is not None:
            return SLIM_BASE_IMAGE
        if _inspect(client, LOCAL_BASE_IMAGE) is not None:
            return LOCAL_BASE_IMAGE
        tarball = _base_tarball()
        if tarball.is_file():
            progress(f"Importing {tarball} as {LOCAL_BASE_IMAGE}")
            _import_base(client, tarball, LOCAL_BASE_IMAGE)
            return LOCAL_BASE_IMAGE
    return build_base_image(LOCAL_BASE_IMAGE, progress)


# --- wheels ---------------------------------------------------------------------


def _pip_command() -> list[str]:
    """A pip to download with: this interpreter's, else the machine's python3.

    uv-made environments have no pip, and uv has no `download`.
    """
    if importlib.util.find_spec("pip") is not None:
        return [sys.executable, "-m", "pip"]
    for name in ("python3.11", "python3", "python"):
        exe = shutil.which(name)
        if exe is None:
            continue
        probe = subprocess.run([exe, "-m", "pip", "--version"], capture_output=True, check=False)
        if probe.returncode == 0:
            return [exe, "-m", "pip"]
    raise OrchbenchError(
        "pip is needed on the host to download the images' wheels, and none was found.",
        "Install it, e.g. `python3 -m ensurepip --upgrade` or `apt-get install -y python3-pip`.",
    )


def _wheel_cache_key(requirements: bytes) -> str:
    recipe = "\n".join(
        [WHEEL_RECIPE_VERSION, WHEEL_PYTHON_VERSION, WHEEL_ABI, *WHEEL_PLATFORMS]
    ).encode()
    return hashlib.sha256(recipe + b"\0" + requirements).hexdigest()[:16]


def _remove_stale_temp(folder: Path) -> None:
    """Drop what a killed run left under a temp name: never read, only taking space."""
    cutoff = time.time() - STALE_TEMP_S
    for entry in folder.glob(".*"):
        try:
            if entry.stat().st_mtime >= cutoff:
                continue
            if entry.is_dir():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink()
        except OSError:
            pass


def _marker_environments() -> list[dict[str, str]]:
    """The image's environments for marker evaluation: Linux x86_64 CPython 3.11.x."""
    versions = {*BASE_PYTHON_FULL_VERSIONS, platform.python_version()}
    return [
        {"python_full_version": v, "python_version": WHEEL_PYTHON_VERSION,
         "sys_platform": "linux", "platform_system": "Linux", "os_name": "posix",
         "platform_machine": "x86_64", "implementation_name": "cpython",
         "platform_python_implementation": "CPython"}
        for v in sorted(versions)
    ]


def _download_list(requirements: Path, folder: Path) -> Path:
    """The requirements to download, without markers: each line whose marker holds in
    any of the image's environments (pip itself would judge it by the host only).
    The same file when it has no markers (the workload images' pins)."""
    from packaging.markers import Marker

    lines = requirements.read_text().splitlines()
    if not any(";" in line.split("#", 1)[0] for line in lines):
        return requirements
    kept = []
    for line in lines:
        spec, _, marker = line.split("#", 1)[0].partition(";")
        if not spec.strip():
            continue
        if marker.strip() and not any(
            Marker(marker.strip()).evaluate(env) for env in _marker_environments()
        ):
            continue
        kept.append(spec.strip())
    target = folder / requirements.name
    target.write_text("\n".join(kept) + "\n")
    return target


def _fetch_wheels(requirements: Path, dest: Path, progress: Progress) -> None:
    pip = _pip_command()
    common = ["--disable-pip-version-check", "--no-input", "--progress-bar", "off"]
    target = ["--python-version", WHEEL_PYTHON_VERSION, "--implementation", "cp"]
    target += ["--abi", WHEEL_ABI]
    target += [arg for p in WHEEL_PLATFORMS for arg in ("--platform", p)]
    with tempfile.TemporaryDirectory(prefix=".requirements-", dir=dest.parent) as folder:
        wanted = _download_list(requirements, Path(folder))
        io = ["--dest", str(dest), "-r", str(wanted)]
        # --no-deps (the file is complete) is what lets pip accept sdists despite
        # --platform; --prefer-binary keeps them for packages without a usable wheel.
        _run(
            [*pip, "download", *common, "--no-deps", "--prefer-binary", *target, *io],
            progress,
            f"Downloading the wheels of {requirements}",
            fix="Check the pins and that the package registry is reachable; the wheel cache "
            "keeps only complete downloads.",
        )
    for sdist in sorted(dest.iterdir()):
        if sdist.name.endswith(SDIST_SUFFIXES):
            # Built on the host (cp311 x86_64 like the image): the build has no
            # network, so it could not fetch the sdist's build backend.
            progress(f"{sdist.name} has no wheel: building one on the host")
            _run(
                [*pip, "wheel", *common, "--no-deps", "--wheel-dir", str(dest), str(sdist)],
                progress,
                f"Building a wheel from {sdist.name}",
            )
            sdist.unlink()


def ensure_wheels(
    name: str, progress: Progress | None = None, root: Path | str | None = None
) -> Path:
    """The folder of wheels for ``images/<name>/requirements.txt``, downloading once.

    Keyed by the requirements' bytes; filled in a temp folder and renamed into
    place, so an interrupted download never leaves a half-filled entry behind.
    """
    progress = progress or _quiet
    requirements = image_dir(name, root) / "requirements.txt"
    key = _wheel_cache_key(requirements.read_bytes())
    cached = cache_dir() / "wheels"
    final = cached / f"{name}-{key}"
    if final.is_dir():
        return final
    cached.mkdir(parents=True, exist_ok=True)
    _remove_stale_temp(cached)
    partial = Path(tempfile.mkdtemp(prefix=f".{name}-{key}.", dir=cached))
    try:
        _fetch_wheels(requirements, partial, progress)
        try:
            partial.rename(final)
        except OSError:
            if not final.is_dir():  # not a concurrent run that finished first
                raise
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return final


# --- workload images ------------------------------------------------------------


def _assemble_context(name: str, root: Path | str | None, wheels: Path, dest: Path) -> None:
    """Exactly the hashed files plus wheels/ (hard links: same disk as the cache)."""
    for rel, source in image_sources(name, root):
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
    (dest / "wheels").mkdir(exist_ok=True)
    for wheel in wheels.iterdir():
        target = dest / "wheels" / wheel.name
        try:
            os.link(wheel, target)
        except OSError:
            shutil.copy2(wheel, target)


def _stream_build(
    client: docker.DockerClient,
    context: Path,
    tag: str,
    base: str,
    labels: dict[str, str],
    nocache: bool,
    progress: Progress,
) -> None:
    import docker
    import requests

    tail: deque[str] = deque(maxlen=TAIL_LINES)
    error = ""
    try:
        # The low-level API: images.build() returns only after the whole build,
        # so it cannot stream lines as they come.
        for chunk in client.api.build(
            path=str(context),
            tag=tag,
            buildargs={"BASE_IMAGE": base},
            network_mode="none",
            rm=True,
            forcerm=True,
            nocache=nocache,
            pull=False,
            decode=True,
            timeout=BUILD_TIMEOUT_S,
        ):
            for line in str(chunk.get("stream", "")).splitlines():
                if line.strip():
                    tail.append(line)
                    progress(line)
            if "error" in chunk:
                error = str((chunk.get("errorDetail") or {}).get("message") or chunk["error"])
                tail.append(error)
                progress(error)
    except requests.ConnectionError as exc:
        raise unavailable(exc) from exc
    except (docker.errors.APIError, requests.RequestException) as exc:
        error = str(exc)
    if error:
        lines = "\n".join(tail)
        raise OrchbenchError(
            f"Building {tag} from {base} failed: {error.strip()}\nLast build lines:\n{lines}",
            f"Fix images/{labels['orchbench.image']}/ and run `orchbench images build` again.",
        )


def _build_one(
    client: docker.DockerClient,
    name: str,
    root: Path | str | None,
    tag: str,
    base: str,
    force: bool,
    progress: Progress,
) -> None:
    wheels = ensure_wheels(name, progress, root)
    contexts = cache_dir() / "contexts"
    contexts.mkdir(parents=True, exist_ok=True)
    _remove_stale_temp(contexts)
    with tempfile.TemporaryDirectory(prefix=f".{name}-", dir=contexts) as tmp:
        context = Path(tmp)
        _assemble_context(name, root, wheels, context)
        # The Dockerfiles set these labels themselves, before the install: a label
        # passed to the build API is one more builder step after it (~20 s each on
        # fuse-overlayfs with a 1.3 GB layer below, measured here). Kept here for the
        # error message.
        labels = {"orchbench.image": name, "orchbench.base": base}
        _stream_build(client, context, tag, base, labels, force, progress)


def _ensure_built(
    client: docker.DockerClient,
    name: str,
    root: Path | str | None,
    tag: str,
    force: bool,
    progress: Progress,
) -> BuildResult:
    started = time.monotonic()
    found = None if force else _inspect(client, tag)
    if found is not None:
        built = False
        labels = (found.get("Config") or {}).get("Labels") or {}
        base = labels.get("orchbench.base", "")
        progress(f"{name}: {tag} is up to date")
    else:
        base = ensure_base_image(progress)
        progress(f"{name}: building {tag} from {base}")
        _build_one(client, name, root, tag, base, force, progress)
        built = True
    # Moved on every call, so `latest` follows the checked-out code, also back to
    # an older tree whose image still exists; never to a scratch copy's image.
    if image_dir(name, root).resolve() == image_dir(name).resolve():
        client.api.tag(tag, tag.rpartition(":")[0], "latest", force=True)
    return BuildResult(name, tag, base, built, time.monotonic() - started)


def build_images(
    names: Iterable[str] | None = None,
    force: bool = False,
    progress: Progress | None = None,
    *,
    root: Path | str | None = None,
) -> list[BuildResult]:
    """Build each image whose content tag is not present yet (all with ``force``).

    ``force`` also bypasses Docker's layer cache, for a build that really starts
    over. Every image is also tagged ``orchbench/<name>:latest`` for people typing
    ``docker run``. ``root`` (the project root) lets tests build a modified copy,
    which leaves ``latest`` alone.
    """
    progress = progress or _quiet
    chosen = list(IMAGE_NAMES if names is None else names)
    tags = {name: image_tag(name, root) for name in chosen}  # unknown names fail here
    with closing(_client()) as client:
        return [_ensure_built(client, n, root, tags[n], force, progress) for n in chosen]


def missing_images(root: Path | str | None = None) -> list[str]:
    """The content tags of the current code that are not built, for ``doctor``."""
    tags = [image_tag(name, root) for name in IMAGE_NAMES]
    with closing(_client()) as client:
        return [tag for tag in tags if _inspect(client, tag) is None]
